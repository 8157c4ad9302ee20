/**
 * Bulk data both ways at once through one tunnel, as issue 14 item 9 describes it: a TCP
 * target reads the upload while it writes the download, the tunnel's client end does the
 * same, and each direction's reader keeps a SHA-256 of what arrived and the longest wait for
 * the next byte (a stall shows as a long gap). Used by the apps' vitest test
 * (lossy-both-ways.test.ts) and the torture check (tools/torture/lossy-both-ways.ts).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

/** A deterministic byte stream (an LCG, so not periodic at any segment size). */
export function streamOf(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= length; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** One direction seen by its reader: hash, bytes, first and last arrival, longest gap. */
export class Arrivals {
  private readonly hash = createHash('sha256');
  bytes = 0;
  firstAt = -1;
  lastAt = -1;
  longestGapMs = 0;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor(private readonly expected: number) {
    this.done = new Promise((r) => (this.resolve = r));
  }

  add(d: Buffer): void {
    const now = performance.now();
    if (this.firstAt < 0) this.firstAt = now;
    else this.longestGapMs = Math.max(this.longestGapMs, now - this.lastAt);
    this.lastAt = now;
    this.hash.update(d);
    this.bytes += d.length;
    if (this.bytes >= this.expected) this.resolve();
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export interface DirectionResult {
  bytes: number;
  /** From the tunnel's opening to the last byte, s. */
  seconds: number;
  longestGapMs: number;
  /** The SHA-256 of what arrived equals the sender's. */
  hashMatches: boolean;
}

export interface BothWaysResult {
  bytesEachWay: number;
  up: DirectionResult;
  down: DirectionResult;
}

/** The target end: a TCP server on 127.0.0.1 that reads the upload and writes the download on every connection. */
export class BothWaysTarget {
  readonly up: Arrivals;
  readonly down: Arrivals;
  private readonly upData: Buffer;
  private readonly downData: Buffer;
  private readonly sockets: Socket[] = [];
  private started = 0;

  private constructor(
    private readonly server: Server,
    readonly bytes: number,
    seed: number,
  ) {
    this.upData = streamOf(seed * 2 + 1, bytes);
    this.downData = streamOf(seed * 2 + 2, bytes);
    this.up = new Arrivals(bytes);
    this.down = new Arrivals(bytes);
    server.on('connection', (sock) => {
      this.sockets.push(sock);
      sock.on('data', (d: Buffer) => this.up.add(d));
      sock.on('error', () => {});
      sock.write(this.downData);
    });
  }

  static async start(bytes: number, seed: number): Promise<BothWaysTarget> {
    const server = createServer();
    const target = new BothWaysTarget(server, bytes, seed);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return target;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /**
   * Runs the transfer over `tunnel` (already connected to this target, nothing read yet):
   * writes the upload, reads the download, resolves once both arrived whole, or rejects after
   * `timeoutMs` with how far each direction got.
   */
  async run(tunnel: Socket, timeoutMs: number): Promise<BothWaysResult> {
    this.sockets.push(tunnel);
    this.started = performance.now();
    tunnel.on('data', (d: Buffer) => this.down.add(d));
    tunnel.resume();
    tunnel.write(this.upData);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done within ${timeoutMs / 1000} s: ${this.progress()}`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all([this.up.done, this.down.done]), limit]);
    } finally {
      clearTimeout(timer);
    }
    return { bytesEachWay: this.bytes, up: this.result(this.up, this.upData), down: this.result(this.down, this.downData) };
  }

  /** How far each direction got, for an error message. */
  progress(): string {
    const now = performance.now();
    const one = (a: Arrivals): string =>
      `${a.bytes}/${this.bytes} (longest gap ${a.longestGapMs.toFixed(0)} ms${a.bytes < this.bytes ? `, nothing for the last ${((now - (a.lastAt < 0 ? this.started : a.lastAt)) / 1000).toFixed(1)} s` : ''})`;
    return `up ${one(this.up)}, down ${one(this.down)}`;
  }

  private result(a: Arrivals, sent: Buffer): DirectionResult {
    return { bytes: a.bytes, seconds: (a.lastAt - this.started) / 1000, longestGapMs: a.longestGapMs, hashMatches: a.bytes === sent.length && a.digest() === sha256(sent) };
  }

  async close(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** "up 4.0 s, longest gap 120 ms; down 4.2 s, longest gap 310 ms" */
export function describeBothWays(r: BothWaysResult): string {
  const one = (name: string, d: DirectionResult): string => `${name} ${d.seconds.toFixed(1)} s, longest gap ${d.longestGapMs.toFixed(0)} ms${d.hashMatches ? '' : ', HASH MISMATCH'}`;
  return `${one('up', r.up)}; ${one('down', r.down)}`;
}
