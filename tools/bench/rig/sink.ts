/**
 * The TCP target behind the tunnel, in the measuring process. A connection's first byte
 * says what it wants:
 *   'S'          stream pattern bytes until the client goes away (timed downloads)
 *   'D' + u64 N  send exactly N pattern bytes, then end (hash-checked downloads)
 *   'U'          take bytes until EOF, then answer u64 count + SHA-256 of them and end (uploads)
 *   'E'          echo everything back
 * Counters cover payload only (not the command bytes), for goodput sampled over time.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

export const SinkCommand = { stream: 0x53, download: 0x44, upload: 0x55, echo: 0x45 } as const;

const CHUNK = 64 * 1024;
/** Longest download one 'D' may ask for; more is a client bug. */
const MAX_DOWNLOAD = 2 ** 40;

/** The pattern byte at stream offset `i`: position-dependent, so a slip or a swap shows. */
export function patternByte(i: number): number {
  return (i * 31 + Math.floor(i / 251)) & 0xff;
}

export function fillPattern(buf: Uint8Array, offset: number): Uint8Array {
  for (let i = 0; i < buf.length; i++) buf[i] = patternByte(offset + i);
  return buf;
}

/** Index of the first byte of `chunk` (at stream offset `offset`) that is not the pattern, or -1. */
export function patternMismatch(chunk: Uint8Array, offset: number): number {
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== patternByte(offset + i)) return i;
  return -1;
}

// One period of the pattern is 251 * 256 bytes long; streams reuse a precomputed copy.
const PERIOD = 251 * 256;
const precomputed = fillPattern(new Uint8Array(PERIOD + CHUNK), 0);
function patternSlice(offset: number, length: number): Uint8Array {
  const start = offset % PERIOD;
  return precomputed.subarray(start, start + length);
}

export class Sink {
  received = 0;
  sent = 0;
  accepted = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.server = server;
  }

  static async start(host = '127.0.0.1'): Promise<Sink> {
    const server = net.createServer();
    const sink = new Sink(server);
    server.on('connection', (s) => sink.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return sink;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  get open(): number {
    return this.sockets.size;
  }

  private serve(s: net.Socket): void {
    this.accepted++;
    this.sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => this.sockets.delete(s));
    let header = Buffer.alloc(0);
    const onHeader = (d: Buffer): void => {
      header = Buffer.concat([header, d]);
      const cmd = header[0];
      if (cmd === SinkCommand.download && header.length < 9) return;
      s.off('data', onHeader);
      if (cmd === SinkCommand.stream) return this.stream(s, Infinity, header.subarray(1));
      if (cmd === SinkCommand.download) {
        const n = Number(header.readBigUInt64BE(1));
        if (n > MAX_DOWNLOAD) return void s.destroy();
        return this.stream(s, n, header.subarray(9));
      }
      if (cmd === SinkCommand.upload) return this.upload(s, header.subarray(1));
      if (cmd === SinkCommand.echo) {
        if (header.length > 1) s.write(header.subarray(1));
        s.pipe(s);
        return;
      }
      s.destroy();
    };
    s.on('data', onHeader);
  }

  private stream(s: net.Socket, total: number, extra: Buffer): void {
    this.received += extra.length;
    s.on('data', (d: Buffer) => (this.received += d.length));
    let offset = 0;
    const pump = (): void => {
      while (offset < total && !s.destroyed) {
        const n = Math.min(CHUNK, total - offset);
        const ok = s.write(patternSlice(offset, n));
        offset += n;
        this.sent += n;
        if (!ok) return void s.once('drain', pump);
      }
      if (offset >= total) s.end();
    };
    pump();
  }

  private upload(s: net.Socket, first: Buffer): void {
    const hash = createHash('sha256');
    let count = 0;
    const take = (d: Buffer): void => {
      count += d.length;
      this.received += d.length;
      hash.update(d);
    };
    take(first);
    s.on('data', take);
    s.once('end', () => {
      const reply = Buffer.alloc(8);
      reply.writeBigUInt64BE(BigInt(count));
      s.end(Buffer.concat([reply, hash.digest()]));
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
