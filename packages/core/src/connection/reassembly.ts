import { RangeBuffer } from '../range-buffer.js';

/**
 * Connection-level receive side: data from every subflow lands here by connection offset,
 * duplicates (reinjections, redundant copies) are dropped, and in-order bytes queue for the
 * application. Bounded: nothing beyond `limit` bytes past the read position is kept.
 */
export class Reassembly {
  /** Next offset expected in order. */
  rcvNxt = 0;
  /** Offset the application has read up to. */
  readOffset = 0;
  private readable: Uint8Array[] = [];
  private readonly ooo = new RangeBuffer();
  /** Highest out-of-order bytes held at once (for statistics). */
  peakBuffered = 0;

  /** The buffer's size now; it only grows (ReceivePath's auto-tuning). */
  constructor(public limit: number) {}

  /** In-order bytes waiting for read(). */
  get readableBytes(): number {
    return this.rcvNxt - this.readOffset;
  }

  get bufferedBytes(): number {
    return this.readableBytes + this.ooo.bytes;
  }

  /** Free space to advertise from rcvNxt (RFC 8684 §3.3.4). */
  window(): number {
    return Math.max(0, this.limit - (this.rcvNxt - this.readOffset));
  }

  /**
   * Take bytes at `off`. Returns the number of new in-order bytes, or -1 when the data lies
   * beyond what the window ever allowed (a misbehaving peer).
   */
  insert(off: number, data: Uint8Array): number {
    let start = off;
    let bytes = data;
    if (start + bytes.length <= this.rcvNxt) return 0;
    if (start < this.rcvNxt) {
      bytes = bytes.subarray(this.rcvNxt - start);
      start = this.rcvNxt;
    }
    if (start + bytes.length > this.readOffset + this.limit) return -1;
    if (start > this.rcvNxt) {
      this.ooo.insert(start, bytes);
      const b = this.bufferedBytes;
      if (b > this.peakBuffered) this.peakBuffered = b;
      return 0;
    }
    const before = this.rcvNxt;
    this.readable.push(bytes);
    this.rcvNxt = this.ooo.drainFrom(this.rcvNxt + bytes.length, (d) => this.readable.push(d));
    const b = this.bufferedBytes;
    if (b > this.peakBuffered) this.peakBuffered = b;
    return this.rcvNxt - before;
  }

  /** Up to `max` in-order bytes, or null when none. */
  read(max = Infinity): Uint8Array | null {
    if (this.readable.length === 0) return null;
    const first = this.readable[0]!;
    if (first.length <= max) {
      this.readable.shift();
      this.readOffset += first.length;
      // Join small pieces so a reader is not handed one segment at a time.
      if (this.readable.length === 0 || first.length >= 65536) return first;
      let total = first.length;
      let n = 0;
      while (n < this.readable.length && total + this.readable[n]!.length <= Math.min(max, 262144)) total += this.readable[n++]!.length;
      if (n === 0) return first;
      const out = new Uint8Array(total);
      out.set(first, 0);
      let pos = first.length;
      for (let i = 0; i < n; i++) {
        const c = this.readable.shift()!;
        out.set(c, pos);
        pos += c.length;
      }
      this.readOffset += total - first.length;
      return out;
    }
    this.readable[0] = first.subarray(max);
    this.readOffset += max;
    return first.subarray(0, max);
  }

  /** The in-order stream reached `off` (used for the DATA_FIN). */
  skip(n: number): void {
    this.rcvNxt += n;
    this.readOffset += n;
  }
}
