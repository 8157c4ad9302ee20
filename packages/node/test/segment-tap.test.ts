/** onSegment on MptcpClient and MptcpServer (what `--pcap` is built on), and checkClientOptions. */
import { describe, expect, it } from 'vitest';
import { checkClientOptions, MptunError, type TappedSegment } from '../src/index.js';
import { generateKeypair } from '@mptun/session';
import { newClient, startWorld, testCrypto } from './support.js';

const SYN = 0x02;
const MPTCP_OPTION_KIND = 30;

/** Kinds of the TCP options in a segment (RFC 9293 §3.1), read with length checks. */
function optionKinds(segment: Uint8Array): number[] {
  const end = (segment[12]! >> 4) * 4;
  const kinds: number[] = [];
  for (let at = 20; at < end && at < segment.length; ) {
    const kind = segment[at]!;
    if (kind === 0) break;
    kinds.push(kind);
    if (kind === 1) at += 1;
    else at += Math.max(2, segment[at + 1] ?? 2);
  }
  return kinds;
}

const payloadOf = (s: TappedSegment): string => Buffer.from(s.bytes.subarray((s.bytes[12]! >> 4) * 4)).toString();

describe('segment tap', () => {
  it('sees every segment both ways with the path addresses, on the client and on the server', async () => {
    const onServer: TappedSegment[] = [];
    const onClient: TappedSegment[] = [];
    // Copies: the bytes are only valid during the call.
    const keep = (list: TappedSegment[]) => (s: TappedSegment) => list.push({ ...s, bytes: s.bytes.slice() });
    const world = await startWorld(['udp'], { onSegment: keep(onServer) });
    world.server.on('connection', (socket) => socket.pipe(socket));
    const client = newClient(world, 'udp', { localAddresses: ['127.0.0.2'], onSegment: keep(onClient) });
    const startedAt = Date.now();
    try {
      const socket = client.connect({ data: Buffer.from('ping') });
      let echoed = '';
      socket.on('data', (d) => {
        echoed += d.toString();
        if (echoed === 'ping') socket.end();
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('close', () => resolve());
        socket.once('error', reject);
      });
      expect(echoed).toBe('ping');
    } finally {
      await world.close();
    }

    for (const s of onClient) expect(s.direction === 'sent' ? [s.from, s.to] : [s.to, s.from]).toEqual(['127.0.0.2', '127.0.0.1']);
    for (const s of onServer) expect(s.direction === 'sent' ? [s.from, s.to] : [s.to, s.from]).toEqual(['127.0.0.1', '127.0.0.2']);
    for (const s of [...onClient, ...onServer]) {
      expect(s.timeMs).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(s.timeMs).toBeLessThanOrEqual(Date.now() + 1000);
    }
    const firstSent = onClient.find((s) => s.direction === 'sent')!;
    expect(firstSent.bytes[13]! & SYN, 'the first segment is the SYN').toBe(SYN);
    expect(optionKinds(firstSent.bytes), 'MP_CAPABLE rides the SYN').toContain(MPTCP_OPTION_KIND);
    // The same bytes on both sides of the wire: what the client sent first, the server received first.
    expect(Buffer.from(onServer.find((s) => s.direction === 'received')!.bytes).equals(Buffer.from(firstSent.bytes))).toBe(true);
    expect(onClient.some((s) => s.direction === 'sent' && payloadOf(s) === 'ping')).toBe(true);
    expect(onClient.some((s) => s.direction === 'received' && payloadOf(s) === 'ping')).toBe(true);
    expect(onServer.some((s) => s.direction === 'received' && payloadOf(s) === 'ping')).toBe(true);
    expect(onServer.some((s) => s.direction === 'sent' && payloadOf(s) === 'ping')).toBe(true);
  });
});

describe('checkClientOptions', () => {
  it('requires both keys for the sealed transports and none for udp-plain', async () => {
    const keypair = generateKeypair(await testCrypto());
    const base = { server: '127.0.0.1:1' };
    for (const transport of ['udp', 'ws', 'wss'] as const) {
      expect(() => checkClientOptions({ ...base, transport, serverPublicKey: keypair.publicKey })).toThrow(/needs keypair/);
      expect(() => checkClientOptions({ ...base, transport, keypair })).toThrow(/needs serverPublicKey/);
      expect(checkClientOptions({ ...base, transport, keypair, serverPublicKey: keypair.publicKey }).transport).toBe(transport);
    }
    try {
      checkClientOptions({ ...base, transport: 'udp' });
      expect.unreachable('a sealed transport without keys must throw');
    } catch (e) {
      expect(e).toBeInstanceOf(MptunError);
      expect((e as MptunError).code).toBe('ERR_MPTUN_BAD_OPTION');
    }
    expect(checkClientOptions({ ...base, transport: 'udp-plain' }).transport).toBe('udp-plain');
  });
});
