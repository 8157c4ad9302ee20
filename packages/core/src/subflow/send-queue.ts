import type { SentSegment } from './sent-segment.js';
import { seqLength } from './sent-segment.js';

/**
 * A subflow's send queue, ordered by sequence: acknowledged segments leave from the head
 * in O(1) (an index moves; the array is compacted now and then), new ones join at the tail.
 */
export class SendQueue {
  private items: SentSegment[] = [];
  private head = 0;
  /** Index of the first segment never transmitted. */
  private unsentIdx = 0;
  /** Payload bytes of the segments never transmitted. */
  private unsent = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  at(i: number): SentSegment | undefined {
    return this.items[this.head + i];
  }

  first(): SentSegment | undefined {
    return this.items[this.head];
  }

  last(): SentSegment | undefined {
    return this.items[this.items.length - 1];
  }

  push(s: SentSegment): void {
    this.items.push(s);
    this.unsent += s.data.length;
  }

  /** The next never-sent segment, or undefined. */
  nextUnsent(): SentSegment | undefined {
    if (this.unsentIdx < this.head) this.unsentIdx = this.head;
    return this.items[this.unsentIdx];
  }

  /** Mark the next never-sent segment as sent (the caller already transmitted it). */
  advanceUnsent(): void {
    if (this.unsentIdx < this.head) this.unsentIdx = this.head;
    const s = this.items[this.unsentIdx];
    if (s) this.unsent -= s.data.length;
    this.unsentIdx++;
  }

  /** Bytes assigned to the subflow and never sent. */
  unsentBytes(): number {
    return this.unsent;
  }

  /** Remove every segment wholly below `ackRel`; returns them in order. */
  shiftAcked(ackRel: number, out: SentSegment[]): void {
    while (this.head < this.items.length) {
      const s = this.items[this.head]!;
      if (s.rel + seqLength(s) > ackRel) break;
      out.push(s);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.unsentIdx = Math.max(0, this.unsentIdx - this.head);
      this.head = 0;
    }
  }

  /**
   * The segment holding data offset `offset`, or null. Segments go out in data order
   * (rescued data aside), so the scan stops at the first one past it.
   */
  holdingData(offset: number): SentSegment | null {
    for (let i = this.head; i < this.items.length; i++) {
      const s = this.items[i]!;
      if (s.dataOffset <= offset && offset < s.dataOffset + s.data.length) return s;
      if (s.dataOffset > offset) return null;
    }
    return null;
  }

  /** Whether `s`, a segment of this queue, is still in it (not acknowledged): they leave from the head, in order. */
  stillHolds(s: SentSegment): boolean {
    const first = this.items[this.head];
    return first !== undefined && first.rel <= s.rel;
  }

  /** Iterate the segments that have been sent (oldest first). */
  *sent(): IterableIterator<SentSegment> {
    const end = Math.max(this.unsentIdx, this.head);
    for (let i = this.head; i < end; i++) yield this.items[i]!;
  }

  /** Iterate every segment (oldest first). */
  *all(): IterableIterator<SentSegment> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  /** First sent segment whose range contains or follows `rel` (binary search). */
  indexAtOrAfter(rel: number): number {
    let lo = this.head;
    let hi = Math.max(this.unsentIdx, this.head);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.items[mid]!;
      if (s.rel + seqLength(s) <= rel) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.head;
  }

  /**
   * Cut `s` (a segment not in flight) so no piece holds more than `mss` bytes: `s` keeps the
   * first piece, the others follow it in the queue with the same state. Returns the new pieces.
   */
  split(s: SentSegment, mss: number): SentSegment[] {
    const idx = this.items.indexOf(s, this.head);
    if (idx < 0 || s.inFlight || s.data.length <= mss) return [];
    const whole = s.data;
    const pieces: SentSegment[] = [];
    for (let off = mss; off < whole.length; off += mss) {
      const last = off + mss >= whole.length;
      pieces.push({
        ...s,
        rel: s.rel + off,
        data: whole.subarray(off, Math.min(whole.length, off + mss)),
        dataOffset: s.dataOffset < 0 ? -1 : s.dataOffset + off,
        dataFin: last && s.dataFin,
        fin: last && s.fin,
      });
    }
    s.data = whole.subarray(0, mss);
    s.dataFin = false;
    s.fin = false;
    this.items.splice(idx + 1, 0, ...pieces);
    const unsentAt = Math.max(this.unsentIdx, this.head);
    if (idx < unsentAt) this.unsentIdx = unsentAt + pieces.length;
    return pieces;
  }

  /** Number of sent segments. */
  sentCount(): number {
    return Math.max(this.unsentIdx, this.head) - this.head;
  }
}
