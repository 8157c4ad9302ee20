/**
 * Byte ranges that arrived ahead of the in-order point, sorted and non-overlapping.
 * Used by subflows (subflow sequence space) and connections (data sequence space).
 */
export class RangeBuffer {
  private ranges: Array<{ off: number; data: Uint8Array }> = [];
  /** Bytes held. */
  bytes = 0;

  get count(): number {
    return this.ranges.length;
  }

  /** Store [off, off+data.length), keeping only bytes not already held. */
  insert(off: number, data: Uint8Array): void {
    const rs = this.ranges;
    // Binary search for the first range starting at or after `off`.
    let lo = 0;
    let hi = rs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rs[mid]!.off < off) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let start = off;
    let bytes = data;
    const prev = rs[i - 1];
    if (prev) {
      const prevEnd = prev.off + prev.data.length;
      if (prevEnd >= start + bytes.length) return;
      if (prevEnd > start) {
        bytes = bytes.subarray(prevEnd - start);
        start = prevEnd;
      }
    }
    while (i < rs.length) {
      const next = rs[i]!;
      const end = start + bytes.length;
      if (next.off >= end) break;
      if (next.off + next.data.length <= end) {
        rs.splice(i, 1); // the new range covers `next` whole
        this.bytes -= next.data.length;
        continue;
      }
      bytes = bytes.subarray(0, next.off - start);
      break;
    }
    if (bytes.length === 0) return;
    rs.splice(i, 0, { off: start, data: bytes });
    this.bytes += bytes.length;
  }

  /**
   * Hand `sink` every held byte that continues the in-order stream at `pos`, in order;
   * returns the new in-order position.
   */
  drainFrom(pos: number, sink: (data: Uint8Array) => void): number {
    let p = pos;
    let n = 0;
    const rs = this.ranges;
    while (n < rs.length && rs[n]!.off <= p) {
      const r = rs[n++]!;
      this.bytes -= r.data.length;
      const skip = p - r.off;
      if (skip < r.data.length) {
        sink(skip === 0 ? r.data : r.data.subarray(skip));
        p += r.data.length - skip;
      }
    }
    if (n > 0) rs.splice(0, n);
    return p;
  }

  /** The held ranges merged where they touch: [left, right) pairs in order. */
  blocks(): Array<{ left: number; right: number }> {
    const out: Array<{ left: number; right: number }> = [];
    for (const r of this.ranges) {
      const last = out[out.length - 1];
      const end = r.off + r.data.length;
      if (last && last.right === r.off) last.right = end;
      else out.push({ left: r.off, right: end });
    }
    return out;
  }
}
