/**
 * The PathLink contract (src/transport.ts) as one shared suite, kept beside the contract: every
 * transport's test calls describePathLinkCompliance with a subject that opens one path
 * (a client end and the server end its listener reported) on loopback.
 *
 * No case returns early. A case a transport does not meet is listed in the subject's
 * `findings` with the reason: it then runs as an expected failure (vitest `it.fails`),
 * prints the reason, and turns red the day the transport starts meeting it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PathCloseInfo, PathLink } from '../../src/transport.js';

export type ComplianceCase = 'open' | 'both-ways' | 'too-big' | 'close' | 'peer-close' | 'idle' | 'backpressure';

export interface OpenedPath {
  client: PathLink;
  server: PathLink;
  /** Closes the listener, the client transport's leftovers, everything the subject opened. */
  cleanup(): Promise<void>;
}

export interface PathLinkSubject {
  name: string;
  /** The idle timeout (or liveness window) the subject configured, ms. */
  idleTimeoutMs: number;
  open(): Promise<OpenedPath>;
  findings?: Partial<Record<ComplianceCase, string>>;
}

const TCP_HEADER = 20;

/**
 * A segment shaped like TCP (ports of the path it leaves by, seq = n, ACK, 20-byte header)
 * so that tcp-in-udp can carry it too; the payload repeats n so damage shows.
 */
export function numberedSegment(from: PathLink, n: number, payload: number): Uint8Array {
  const s = new Uint8Array(TCP_HEADER + payload);
  const v = new DataView(s.buffer);
  v.setUint16(0, from.local.port);
  v.setUint16(2, from.remote.port);
  v.setUint32(4, n);
  s[12] = 5 << 4; // data offset: 5 words
  s[13] = 0x10; // ACK
  v.setUint16(14, 0xffff);
  s.fill(n & 0xff, TCP_HEADER);
  return s;
}

function segmentNumber(segment: Uint8Array): number {
  return new DataView(segment.buffer, segment.byteOffset, segment.byteLength).getUint32(4);
}

function intact(segment: Uint8Array, payload: number): boolean {
  if (segment.length !== TCP_HEADER + payload) return false;
  const n = segmentNumber(segment) & 0xff;
  for (let i = TCP_HEADER; i < segment.length; i++) if (segment[i] !== n) return false;
  return true;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records every onClose of a path (the contract says: exactly once). */
function watchClose(path: PathLink): { closes: PathCloseInfo[]; at: number[] } {
  const seen = { closes: [] as PathCloseInfo[], at: [] as number[] };
  path.onClose = (info) => {
    seen.closes.push(info);
    seen.at.push(Date.now());
  };
  return seen;
}

function collect(path: PathLink): Uint8Array[] {
  const got: Uint8Array[] = [];
  path.onSegment = (s) => got.push(s.slice());
  return got;
}

export function describePathLinkCompliance(subject: PathLinkSubject): void {
  describe(`PathLink compliance: ${subject.name}`, () => {
    let opened: OpenedPath | null = null;
    const open = async (): Promise<OpenedPath> => (opened = await subject.open());
    afterEach(async () => {
      await opened?.cleanup();
      opened = null;
    });

    const check = (key: ComplianceCase, title: string, body: () => Promise<void>, timeoutMs = 30_000): void => {
      const finding = subject.findings?.[key];
      if (finding === undefined) {
        it(title, body, timeoutMs);
        return;
      }
      it.fails(
        `${title} [FINDING: ${finding}]`,
        async () => {
          console.log(`PathLink compliance finding (${subject.name}, ${key}): ${finding}`);
          await body();
        },
        timeoutMs,
      );
    };

    check('open', 'open: both ends describe one path between mirrored addresses', async () => {
      const { client, server } = await open();
      expect(server.kind).toBe(client.kind);
      expect(server.reliable).toBe(client.reliable);
      expect(client.remote.port).toBe(server.local.port);
      expect(server.remote.port).toBe(client.local.port);
      expect(server.remote.host).toBe(client.local.host);
      for (const p of [client, server]) {
        expect(p.maxSegment).toBeGreaterThan(TCP_HEADER);
        expect(p.bufferedAmount).toBeGreaterThanOrEqual(0);
      }
    });

    check('both-ways', 'send/receive: segments arrive intact both ways, in order on loopback', async () => {
      const { client, server } = await open();
      const atServer = collect(server);
      const atClient = collect(client);
      const count = 64;
      const size = Math.min(client.maxSegment, server.maxSegment) - TCP_HEADER;
      for (let n = 0; n < count; n++) {
        expect(client.send(numberedSegment(client, n, n === count - 1 ? size : 100 + n))).toBe(true);
        expect(server.send(numberedSegment(server, n, n === count - 1 ? size : 100 + n))).toBe(true);
        if (n % 16 === 15) await new Promise((r) => setTimeout(r, 1)); // stay under any receive buffer
      }
      await waitFor(() => atServer.length === count && atClient.length === count, `${count} segments each way`, 5_000);
      for (const got of [atServer, atClient]) {
        expect(got.map(segmentNumber)).toEqual([...Array(count).keys()]);
        got.forEach((s, n) => expect(intact(s, n === count - 1 ? size : 100 + n)).toBe(true));
      }
    });

    check('too-big', 'send() refuses a segment over maxSegment and the path stays usable', async () => {
      const { client, server } = await open();
      const atServer = collect(server);
      expect(client.send(numberedSegment(client, 1, client.maxSegment - TCP_HEADER + 1))).toBe(false);
      expect(client.send(numberedSegment(client, 2, 10))).toBe(true);
      await waitFor(() => atServer.length === 1, 'the next segment', 5_000);
      expect(segmentNumber(atServer[0]!)).toBe(2);
    });

    check('close', 'close(): onClose fires once with ERR_MPTUN_PATH_CLOSED; nothing is sent or delivered after', async () => {
      const { client, server } = await open();
      const closed = watchClose(client);
      const atClient = collect(client);
      client.close();
      client.close();
      expect(closed.closes.map((c) => c.code)).toEqual(['ERR_MPTUN_PATH_CLOSED']);
      expect(client.send(numberedSegment(client, 1, 10))).toBe(false);
      server.send(numberedSegment(server, 1, 10));
      await new Promise((r) => setTimeout(r, 100));
      expect(atClient).toEqual([]);
      expect(closed.closes).toHaveLength(1);
    });

    check('peer-close', 'peer close: the other end reports onClose once, within the idle timeout', async () => {
      const { client, server } = await open();
      const closed = watchClose(server);
      const start = Date.now();
      client.close();
      await waitFor(() => closed.closes.length > 0, 'the server end to close', subject.idleTimeoutMs + 3_000);
      console.log(`${subject.name}: the peer learned of the close after ${closed.at[0]! - start} ms, code ${closed.closes[0]!.code}`);
      await new Promise((r) => setTimeout(r, 50));
      expect(closed.closes).toHaveLength(1);
      expect(server.send(numberedSegment(server, 1, 10))).toBe(false);
    });

    check('idle', 'idle: a path with no segments stays open past its idle timeout (keepalives), then still carries', async () => {
      const { client, server } = await open();
      const clientClosed = watchClose(client);
      const serverClosed = watchClose(server);
      await new Promise((r) => setTimeout(r, subject.idleTimeoutMs * 2.5));
      expect(clientClosed.closes).toEqual([]);
      expect(serverClosed.closes).toEqual([]);
      const atServer = collect(server);
      expect(client.send(numberedSegment(client, 9, 10))).toBe(true);
      await waitFor(() => atServer.length === 1, 'a segment after the quiet spell', 5_000);
    });

    check('backpressure', 'backpressure: a burst is refused once the carrier is full, and onDrain follows', async () => {
      const { client, server } = await open();
      server.onSegment = () => {};
      let drained = 0;
      client.onDrain = () => drained++;
      const size = client.maxSegment - TCP_HEADER;
      let refusedAt = -1;
      for (let n = 0; n < 50_000 && refusedAt < 0; n++) if (!client.send(numberedSegment(client, n, size))) refusedAt = n;
      console.log(`${subject.name}: burst refused at segment ${refusedAt} (bufferedAmount ${client.bufferedAmount})`);
      expect(refusedAt).toBeGreaterThan(0);
      await waitFor(() => drained > 0, 'onDrain', 10_000);
      expect(client.send(numberedSegment(client, 0, 10))).toBe(true);
    });
  });
}
