/**
 * Byte ranges that arrived ahead of the in-order point, sorted and non-overlapping.
 * Used by subflows (subflow sequence space) and connections (data sequence space).
 */
export class RangeBuffer {
  private ranges: Array<{ off: number; data: Uint8Array }> = [];
  /** The held ranges merged where they touch, kept up to date for SACK (sorted). */
  private spans: Array<{ left: number; right: number }> = [];
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
    this.addSpan(start, start + bytes.length);
  }

  private addSpan(left: number, right: number): void {
    const sp = this.spans;
    let lo = 0;
    let hi = sp.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sp[mid]!.right < left) lo = mid + 1;
      else hi = mid;
    }
    // sp[lo] is the first span that ends at or after `left`: merge every one that touches.
    let l = left;
    let r = right;
    let n = 0;
    while (lo + n < sp.length && sp[lo + n]!.left <= r) {
      l = Math.min(l, sp[lo + n]!.left);
      r = Math.max(r, sp[lo + n]!.right);
      n++;
    }
    sp.splice(lo, n, { left: l, right: r });
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
    // Drained ranges were contiguous, so each span that started by `p` is gone whole.
    let k = 0;
    while (k < this.spans.length && this.spans[k]!.left <= p) k++;
    if (k > 0) this.spans.splice(0, k);
    return p;
  }

  /** The held ranges merged where they touch: [left, right) pairs in order. */
  blocks(): ReadonlyArray<{ left: number; right: number }> {
    return this.spans;
  }

  /** Index in blocks() of the block holding `pos`, or -1. */
  blockIndexOf(pos: number): number {
    const sp = this.spans;
    let lo = 0;
    let hi = sp.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sp[mid]!.right <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo < sp.length && sp[lo]!.left <= pos ? lo : -1;
  }
}
