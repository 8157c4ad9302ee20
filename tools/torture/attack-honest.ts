/**
 * The honest client during the attacks: one endless download from the sink through the
 * port forward, every byte checked against the pattern, and its goodput over windows.
 */
import type net from 'node:net';
import { connectTcp, patternMismatch, SinkCommand, type HostPort } from '../bench/rig/index.js';

export class HonestStream {
  bytes = 0;
  /** The first integrity problem, if any: a wrong byte, or the stream ending. */
  problem: string | null = null;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.problem === null) {
        const at = patternMismatch(d, this.bytes);
        if (at >= 0) this.problem = `honest byte ${this.bytes + at} is not the pattern byte`;
      }
      this.bytes += d.length;
    });
    socket.on('error', (e) => (this.problem ??= `honest stream error after ${this.bytes} bytes: ${e.message}`));
    socket.once('close', () => {
      if (!this.closed) this.problem ??= `honest stream closed after ${this.bytes} bytes`;
    });
  }

  static async start(forward: HostPort): Promise<HonestStream> {
    const s = await connectTcp(forward);
    s.write(Buffer.from([SinkCommand.stream]));
    return new HonestStream(s);
  }

  /** Goodput over the next `seconds`, bit/s. */
  async window(seconds: number): Promise<number> {
    const b0 = this.bytes;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return ((this.bytes - b0) * 8) / ((performance.now() - t0) / 1000);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** Bits per second by which `bytes()` grows over the next `seconds`. */
export async function goodputOver(seconds: number, bytes: () => number): Promise<number> {
  const b0 = bytes();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((bytes() - b0) * 8) / ((performance.now() - t0) / 1000);
}
