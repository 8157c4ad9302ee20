/**
 * A two-endpoint bulk-transfer scenario on the simulator: a client connects over N paths,
 * both sides send a seeded byte stream and half-close, and each side hashes what it read.
 * Everything is deterministic in the seed, which every caller prints.
 */
import { createHash } from 'node:crypto';
import { Pair, type LinkOptions } from '../../src/index.js';
import { ccFactory, Endpoint, schedulerFactory, SeededRandom, type Connection, type EndpointConfig, type EndpointEvent, type PathOptions } from '@mptun/core';

export interface PathSpec {
  forward?: LinkOptions;
  backward?: LinkOptions;
  /** The server address this path reaches (default 10.9.9.9, the one every path shares). */
  serverHost?: string;
  /** Endpoint.openPath options for both ends of this path (MSS and the like). */
  pathOptions?: PathOptions;
  /** The server end's, when they differ from pathOptions. */
  serverPathOptions?: PathOptions;
}

export interface TransferSpec {
  seed: number;
  paths: PathSpec[];
  /** Bytes client → server. */
  upload: number;
  /** Bytes server → client. */
  download: number;
  cc?: string;
  scheduler?: string;
  config?: Partial<EndpointConfig>;
  /** One side's application stops reading for a while (its receive window fills). */
  pauseReading?: { side: 'client' | 'server'; fromMs: number; toMs: number };
  /** Neither side half-closes before this virtual time, ms (its DATA_FIN then goes alone, after its data). */
  closeAtMs?: number;
  /** Send the first this-many upload bytes with connect(), so they ride the SYN. */
  synData?: number;
  /** Overrides for the server only. */
  serverConfig?: Partial<EndpointConfig>;
  /** Virtual time limit, ms. */
  limitMs?: number;
  /**
   * Which incoming server connections get an application: the first only (default; later
   * ones are forged SYNs in the hostile tests), or each one, for clients that race their
   * handshake over several paths. The test's connection is then the one that learned the
   * client's key.
   */
  serverApps?: 'first' | 'each';
  /** Called once after setup, to schedule outages and the like. */
  setup?: (ctx: TransferContext) => void;
  /** Called on every loop iteration with the virtual time. */
  onTick?: (ctx: TransferContext) => void;
}

export interface TransferContext {
  pair: Pair;
  client: Endpoint;
  server: Endpoint;
  clientPaths: number[];
  serverPaths: number[];
  clientConn: Connection;
  serverConn: Connection | null;
  /** Every incoming server connection, in order of arrival. */
  serverConns: Connection[];
  /** Every event of the test's two connections, in order. */
  events: Array<{ side: 'client' | 'server'; time: number; ev: EndpointEvent }>;
}

export interface TransferResult {
  seed: number;
  /** Both directions arrived byte-exact and both sides closed without error. */
  ok: boolean;
  uploadOk: boolean;
  downloadOk: boolean;
  clientError?: string;
  serverError?: string;
  /** Virtual time when both sides were closed (or the limit). */
  timeMs: number;
  /** Virtual time when each direction's last byte was read. */
  uploadDoneMs: number;
  downloadDoneMs: number;
  /** Longest stretch without new bytes for the reader, per direction (StreamApp.longestGapMs). */
  uploadLongestGapMs: number;
  downloadLongestGapMs: number;
  ctx: TransferContext;
  /** Bytes the server received per client path index. */
  bytesPerPath: number[];
  peakReceiveBuffer: number;
}

/** Link presets the engine's transfer tests share. */
export const wifiLink: LinkOptions = { rateBps: 50e6, delayMs: 10, queue: { ms: 50 } };
export const lteLink: LinkOptions = { rateBps: 20e6, delayMs: 30, jitterMs: 2, queue: { ms: 80 } };

/** A deterministic byte stream: the same seed gives the same bytes. */
export function streamBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const r = new SeededRandom(seed);
  for (let i = 0; i < length; i += 4) {
    const v = r.nextU32();
    out[i] = v & 0xff;
    if (i + 1 < length) out[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < length) out[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < length) out[i + 3] = v >>> 24;
  }
  return out;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** What a StreamApp needs of a connection. */
export interface StreamConnection {
  write(data: Uint8Array): number;
  read(max?: number): Uint8Array | null;
  shutdown(): void;
}

/** One side's application: writes its stream, half-closes, reads and hashes the peer's. */
export class StreamApp {
  written = 0;
  private shut = false;
  private readonly hash = createHash('sha256');
  received = 0;
  doneAt = -1;
  /** Longest wait between two reads that brought new bytes, from the first byte to the last. */
  longestGapMs = 0;
  private lastReadAt = -1;
  closed = false;
  error: string | undefined;
  constructor(
    private readonly out: Uint8Array,
    private readonly expectIn: number,
    alreadyWritten = 0,
    /** Half-close no earlier than this virtual time, ms. */
    private readonly closeAtMs = 0,
  ) {
    this.written = alreadyWritten;
  }

  pump(conn: StreamConnection, now: number, mayRead = true): void {
    while (this.written < this.out.length) {
      const n = conn.write(this.out.subarray(this.written, Math.min(this.out.length, this.written + 262144)));
      if (n === 0) break;
      this.written += n;
    }
    if (!this.shut && this.written === this.out.length && now >= this.closeAtMs) {
      this.shut = true;
      conn.shutdown();
    }
    for (let d = mayRead ? conn.read() : null; d; d = conn.read()) {
      this.hash.update(d);
      this.received += d.length;
      if (this.lastReadAt >= 0) this.longestGapMs = Math.max(this.longestGapMs, now - this.lastReadAt);
      this.lastReadAt = now;
      if (this.received >= this.expectIn && this.doneAt < 0) this.doneAt = now;
    }
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export function runTransfer(spec: TransferSpec): TransferResult {
  const rng = new SeededRandom(spec.seed);
  const base: EndpointConfig = {
    random: rng.fork(),
    scheduler: schedulerFactory(spec.scheduler ?? 'minrtt'),
    congestionControl: ccFactory(spec.cc ?? 'cubic'),
    ...spec.config,
  };
  const client = new Endpoint(base);
  const server = new Endpoint({ ...base, ...spec.serverConfig, random: rng.fork() });
  server.listen(443);
  const clientPaths: number[] = [];
  const serverPaths: number[] = [];
  spec.paths.forEach((p, i) => {
    const serverHost = p.serverHost ?? '10.9.9.9';
    clientPaths.push(client.openPath({ host: `10.0.${i}.2`, port: 40000 + i }, { host: serverHost, port: 443 }, p.pathOptions));
    serverPaths.push(server.openPath({ host: serverHost, port: 443 }, { host: `10.0.${i}.2`, port: 40000 + i }, p.serverPathOptions ?? p.pathOptions));
  });
  const pair = new Pair(
    client,
    server,
    spec.paths.map((p, i) => ({ forward: p.forward, backward: p.backward, pathIdA: clientPaths[i]!, pathIdB: serverPaths[i]! })),
    { seed: spec.seed },
  );
  const bytesPerPath = spec.paths.map(() => 0);
  pair.onPacket = (ev) => {
    if (ev.type === 'deliver' && ev.to === 'b') bytesPerPath[ev.path] = (bytesPerPath[ev.path] ?? 0) + ev.bytes.length;
  };
  const up = streamBytes(spec.seed * 2 + 1, spec.upload);
  const down = streamBytes(spec.seed * 2 + 2, spec.download);
  const synData = Math.min(spec.synData ?? 0, up.length);
  const clientApp = new StreamApp(up, spec.download, synData, spec.closeAtMs);
  const serverAppsByConn = new Map<Connection, StreamApp>();
  const clientConn = client.connect(0, {
    path: clientPaths[0]!,
    extraPaths: clientPaths.slice(1),
    ...(synData > 0 ? { data: up.subarray(0, synData) } : {}),
  });
  const ctx: TransferContext = { pair, client, server, clientPaths, serverPaths, clientConn, serverConn: null, serverConns: [], events: [] };
  spec.setup?.(ctx);

  // The applications' own timer: the simulator must wake up when reading resumes or the close is due.
  const wakeAt = [spec.pauseReading?.toMs, spec.closeAtMs].filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  if (wakeAt.length > 0) {
    pair.addEndpoint({
      handleSegment: () => {},
      handleTimeout: () => {},
      pollTransmit: () => null,
      pollTimeout: () => wakeAt.find((t) => t > pair.now) ?? null,
    }, 'app-timer');
  }
  const serverAppOf = (conn: Connection): StreamApp | undefined => {
    if (!serverAppsByConn.has(conn) && (spec.serverApps === 'each' || serverAppsByConn.size === 0)) serverAppsByConn.set(conn, new StreamApp(down, spec.upload, 0, spec.closeAtMs));
    return serverAppsByConn.get(conn);
  };
  // The test's server connection: the one holding the client's key once one does, else the first.
  const testServerConn = (): Connection | null =>
    ctx.serverConns.find((c) => serverAppsByConn.has(c) && c.remoteKey === clientConn.localKey) ?? ctx.serverConns[0] ?? null;
  const paused = (side: 'client' | 'server'): boolean => {
    const pause = spec.pauseReading;
    return pause !== undefined && pause.side === side && pair.now >= pause.fromMs && pair.now < pause.toMs;
  };
  const drainClient = (): void => {
    for (let ev = client.pollEvent(); ev; ev = client.pollEvent()) {
      if (ev.connection !== clientConn) continue;
      ctx.events.push({ side: 'client', time: pair.now, ev });
      if (ev.type === 'closed') {
        clientApp.closed = true;
        if (ev.error) clientApp.error = ev.error.code;
      }
    }
    clientApp.pump(clientConn, pair.now, !paused('client'));
  };
  const drainServer = (): void => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
      if (ev.type === 'incoming') ctx.serverConns.push(ev.connection);
      const app = serverAppOf(ev.connection);
      if (!app) continue;
      ctx.serverConn = testServerConn();
      if (ev.connection === ctx.serverConn) ctx.events.push({ side: 'server', time: pair.now, ev });
      if (ev.type === 'closed') {
        app.closed = true;
        if (ev.error) app.error = ev.error.code;
      }
    }
    ctx.serverConn = testServerConn();
    for (const [conn, app] of serverAppsByConn) app.pump(conn, pair.now, !paused('server'));
  };
  let finishedAt = -1;
  pair.run({
    until: spec.limitMs ?? 600_000,
    stopWhen: () => {
      drainClient();
      drainServer();
      spec.onTick?.(ctx);
      const serverApp = ctx.serverConn ? serverAppsByConn.get(ctx.serverConn) : undefined;
      if (clientApp.closed && serverApp?.closed && finishedAt < 0) finishedAt = pair.now;
      return finishedAt >= 0;
    },
  });
  const serverApp = (ctx.serverConn ? serverAppsByConn.get(ctx.serverConn) : undefined) ?? new StreamApp(down, spec.upload);
  const uploadOk = serverApp.received === spec.upload && serverApp.digest() === sha256(up);
  const downloadOk = clientApp.received === spec.download && clientApp.digest() === sha256(down);
  const result: TransferResult = {
    seed: spec.seed,
    ok: uploadOk && downloadOk && clientApp.closed && serverApp.closed && !clientApp.error && !serverApp.error,
    uploadOk,
    downloadOk,
    timeMs: finishedAt >= 0 ? finishedAt : pair.now,
    uploadDoneMs: serverApp.doneAt,
    downloadDoneMs: clientApp.doneAt,
    uploadLongestGapMs: serverApp.longestGapMs,
    downloadLongestGapMs: clientApp.longestGapMs,
    ctx,
    bytesPerPath,
    peakReceiveBuffer: ctx.serverConn ? ctx.serverConn.peakReceiveBuffered : 0,
  };
  if (clientApp.error) result.clientError = clientApp.error;
  if (serverApp.error) result.serverError = serverApp.error;
  return result;
}

/** A short line describing a result, for test output. */
export function describeResult(r: TransferResult): string {
  return `seed=${r.seed} ok=${r.ok} up=${r.uploadOk} down=${r.downloadOk} t=${r.timeMs.toFixed(0)}ms` +
    (r.clientError ? ` clientError=${r.clientError}` : '') + (r.serverError ? ` serverError=${r.serverError}` : '');
}
