/**
 * Short-lived byte buffers (a segment or datagram on its way out) carved from larger
 * blocks. Allocating a typed array costs about a microsecond on the data path (each one is
 * its own backing store for the GC to track and free); carving one from a block is a view.
 *
 * A carved range is never handed out again: a full block is dropped, not reused, and the
 * GC frees it once every buffer carved from it is unreachable. So a buffer that is held for
 * long keeps its whole block alive: carve only what is let go of soon (sent, copied).
 */
export class Slab {
  private block: Uint8Array;
  private used = 0;
  private last = -1;

  /**
   * `blockBytes`: size of each block; requests above a quarter of it get their own buffer.
   * The default carves a WebSocket path's 16 KiB segment (and its sealed datagram) too:
   * with 64 KiB blocks each of those was a typed array of its own, ~1.3 µs and GC work
   * apiece, against ~0.5 µs carved (issue 16, docs/benchmarks.md part C).
   */
  constructor(private readonly blockBytes = 256 * 1024) {
    this.block = new Uint8Array(0);
  }

  /** `n` zeroed bytes no one else holds. */
  take(n: number): Uint8Array {
    if (n > this.blockBytes >>> 2) {
      this.last = -1;
      return new Uint8Array(n);
    }
    if (this.used + n > this.block.length) {
      this.block = new Uint8Array(this.blockBytes);
      this.used = 0;
    }
    this.last = this.used;
    this.used += n;
    return this.block.subarray(this.last, this.used);
  }

  /**
   * The buffer of the last take() needed only its first `kept` bytes: the rest goes to the
   * next take(). The caller must use no more than those bytes of it from now on.
   */
  trimLast(kept: number): void {
    if (this.last < 0) return;
    this.used = Math.min(this.used, this.last + kept);
    this.last = -1;
  }
}
