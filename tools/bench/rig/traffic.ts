/**
 * The measuring side's traffic: TCP connections through the tunnel (port forward or SOCKS5)
 * to the sink, timed bulk transfers, and counters sampled over time.
 */
import net from 'node:net';
import { SinkCommand } from './sink.js';

export interface HostPort {
  host: string;
  port: number;
}

const CONNECT_TIMEOUT_MS = 15_000;

/** A TCP connection to `where`, or an error after CONNECT_TIMEOUT_MS. */
export function connectTcp(where: HostPort, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: where.host, port: where.port, ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${where.host}:${where.port} timed out`));
    }, CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Through a SOCKS5 proxy (RFC 1928, no auth) to an IPv4 target. When the target's first bytes
 * came with the reply, the socket comes back paused with them unshifted: resume() or pipe() it.
 */
export async function connectSocks(proxy: HostPort, target: HostPort): Promise<net.Socket> {
  const s = await connectTcp(proxy);
  try {
    const read = readExactly(s);
    s.write(Buffer.from([5, 1, 0]));
    const hello = await read(2);
    if (hello[0] !== 5 || hello[1] !== 0) throw new Error(`SOCKS5 greeting refused: ${hello.toString('hex')}`);
    const req = Buffer.from([5, 1, 0, 1, ...target.host.split('.').map(Number), target.port >> 8, target.port & 0xff]);
    s.write(req);
    const reply = await read(10);
    if (reply[1] !== 0) throw new Error(`SOCKS5 CONNECT failed with reply ${reply[1]}`);
    return s;
  } catch (e) {
    s.destroy();
    throw e;
  }
}

/** Reads exactly n bytes at a time from a socket that nothing else reads yet. */
function readExactly(s: net.Socket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  return (n) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error('SOCKS5 reply timed out')), CONNECT_TIMEOUT_MS);
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        s.off('data', onData);
        s.off('close', onClose);
        if (err) return reject(err);
        const out = buf.subarray(0, n);
        buf = buf.subarray(n);
        // Bytes that came with the reply (a target that speaks first) go back to the stream,
        // paused: flowing with no 'data' listener left, they would be emitted to nobody.
        if (buf.length > 0) {
          s.pause();
          s.unshift(buf);
        }
        buf = Buffer.alloc(0);
        resolve(out);
      };
      const onData = (d: Buffer): void => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= n) finish(null);
      };
      const onClose = (): void => finish(new Error('closed during the SOCKS5 exchange'));
      s.on('data', onData);
      s.once('close', onClose);
      if (buf.length >= n) finish(null);
    });
}

/** A counter read at a fixed interval: [seconds since start, value] pairs. */
export class Sampler {
  readonly points: Array<[number, number]> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = performance.now();

  constructor(
    private readonly read: () => number,
    intervalMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    this.points.push([(performance.now() - this.t0) / 1000, this.read()]);
  }

  stop(): Array<[number, number]> {
    clearInterval(this.timer);
    this.sample();
    return this.points;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface BulkResult {
  /** Payload bytes over the measured window (after warm-up), bits per second. */
  goodputBps: number;
  bytes: number;
  seconds: number;
  /** Cumulative bytes delivered over time, from the start of the transfer. */
  timeline: Array<[number, number]>;
}

/**
 * Bulk download: the sink streams to `socket` for `seconds`; goodput counts what arrived
 * after `warmupSeconds` (slow start is not what aggregation is about).
 */
export async function timedDownload(socket: net.Socket, seconds: number, warmupSeconds = 1): Promise<BulkResult> {
  let got = 0;
  socket.on('data', (d: Buffer) => (got += d.length));
  socket.write(Buffer.from([SinkCommand.stream]));
  return measure(() => got, seconds, warmupSeconds, () => socket.destroy());
}

/** Bulk upload: the client writes for `seconds`; counted where it lands, at `delivered()`. */
export async function timedUpload(socket: net.Socket, delivered: () => number, seconds: number, warmupSeconds = 1): Promise<BulkResult> {
  const base = delivered();
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let stop = false;
  socket.on('error', () => {});
  socket.write(Buffer.from([SinkCommand.upload]));
  const pump = (): void => {
    while (!stop && !socket.destroyed) if (!socket.write(chunk)) return void socket.once('drain', pump);
  };
  pump();
  return measure(() => delivered() - base, seconds, warmupSeconds, () => {
    stop = true;
    socket.destroy();
  });
}

async function measure(read: () => number, seconds: number, warmupSeconds: number, end: () => void): Promise<BulkResult> {
  const sampler = new Sampler(read);
  await sleep(warmupSeconds * 1000);
  const b0 = read();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const bytes = read() - b0;
  const elapsed = (performance.now() - t0) / 1000;
  end();
  return { goodputBps: (bytes * 8) / elapsed, bytes, seconds: elapsed, timeline: sampler.stop() };
}
