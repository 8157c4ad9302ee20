import { RangeBuffer } from '../range-buffer.js';

/**
 * The receive half of a subflow: subflow-level reassembly and the DSS mappings that turn
 * subflow bytes into connection-level bytes (RFC 8684 §3.3.1). A mapping may cover one
 * segment or many; bytes wait here until a mapping covers them.
 */

/** A mapping in subflow-relative terms: [rel, rel+len) carries data from dataOffset. */
export interface RxMapping {
  rel: number;
  dataOffset: number;
  len: number;
}

/** What an in-order, mapped piece of data looks like to the connection. */
export type DeliverFn = (dataOffset: number, data: Uint8Array) => void;

export class SubflowReceiver {
  /** Next expected subflow-relative sequence. */
  rcvNxt = 0;
  private readonly ooo = new RangeBuffer();
  /** In-order bytes waiting for a mapping, from rel `unmappedRel`. */
  private unmapped: Uint8Array[] = [];
  private unmappedRel = 0;
  private unmappedBytes = 0;
  private maps: RxMapping[] = [];
  /** Where the latest out-of-order arrival landed (its block goes first in SACK, RFC 2018 §4). */
  private lastOooRel = -1;

  /**
   * limitBytes bounds what waits here (out of order or unmapped). A connection that fell back
   * to TCP (RFC 8684 §3.7) or received an infinite mapping gets a mapping of length Infinity.
   */
  constructor(private readonly limitBytes: number) {
    // One mapping per segment at worst, down to 536-byte segments (RFC 9293 §3.7.1).
    this.maxMappings = Math.ceil(limitBytes / 536) + 64;
  }

  private readonly maxMappings: number;

  get bufferedBytes(): number {
    return this.ooo.bytes + this.unmappedBytes;
  }

  /**
   * Remember a mapping. Returns false when the table is full: the caller then drops the
   * segment (unacknowledged) rather than lose track of what its bytes mean.
   */
  addMapping(m: RxMapping): boolean {
    if (m.len <= 0) return true;
    // Mappings already consumed are of no use; duplicates (retransmissions) are common.
    if (m.rel + m.len <= this.unmappedRel && m.rel + m.len <= this.rcvNxt) return true;
    const maps = this.maps;
    let lo = 0;
    let hi = maps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (maps[mid]!.rel < m.rel) lo = mid + 1;
      else hi = mid;
    }
    const same = maps[lo];
    if (same && same.rel === m.rel) {
      if (m.len > same.len) maps[lo] = m; // a longer mapping from the same start supersedes
      return true;
    }
    if (maps.length >= this.maxMappings) return false;
    maps.splice(lo, 0, m);
    return true;
  }

  /**
   * Accept segment bytes at `rel`. Returns 'in-order', 'out-of-order', 'duplicate' or
   * 'dropped' (no room). In-order bytes and any out-of-order ones they complete are passed
   * through the mappings to `deliver`.
   */
  accept(rel: number, data: Uint8Array, deliver: DeliverFn): 'in-order' | 'out-of-order' | 'duplicate' | 'dropped' {
    let start = rel;
    let bytes = data;
    if (start < this.rcvNxt) {
      const skip = this.rcvNxt - start;
      if (skip >= bytes.length) return 'duplicate';
      bytes = bytes.subarray(skip);
      start = this.rcvNxt;
    }
    if (start > this.rcvNxt) {
      if (this.ooo.bytes + bytes.length > this.limitBytes || this.ooo.count >= 4096) return 'dropped';
      this.ooo.insert(start, bytes);
      this.lastOooRel = start;
      return 'out-of-order';
    }
    if (this.unmappedBytes + bytes.length > this.limitBytes) return 'dropped';
    this.pushInOrder(bytes, deliver);
    // The out-of-order ranges this arrival made contiguous follow it.
    this.ooo.drainFrom(this.rcvNxt, (d) => this.pushInOrder(d, deliver));
    return 'in-order';
  }

  /** Deliver whatever newly arrived mappings now cover. */
  flushMapped(deliver: DeliverFn): void {
    if (this.unmappedBytes > 0) this.mapOut(deliver);
  }

  private pushInOrder(bytes: Uint8Array, deliver: DeliverFn): void {
    this.rcvNxt += bytes.length;
    this.unmapped.push(bytes);
    this.unmappedBytes += bytes.length;
    this.mapOut(deliver);
  }

  private mapOut(deliver: DeliverFn): void {
    while (this.unmappedBytes > 0) {
      const head = this.unmapped[0]!;
      const m = this.findMap(this.unmappedRel);
      if (!m) return; // wait for the mapping (it may ride a later segment)
      const n = Math.min(head.length, m.rel + m.len - this.unmappedRel);
      deliver(m.dataOffset + (this.unmappedRel - m.rel), head.subarray(0, n));
      if (n === head.length) this.consumeUnmapped(n);
      else {
        this.unmapped[0] = head.subarray(n);
        this.unmappedRel += n;
        this.unmappedBytes -= n;
      }
    }
  }

  private consumeUnmapped(n: number): void {
    this.unmapped.shift();
    this.unmappedRel += n;
    this.unmappedBytes -= n;
  }

  /** The mapping covering `rel`; consumption is in order, so spent ones leave from the head. */
  private findMap(rel: number): RxMapping | undefined {
    const maps = this.maps;
    let spent = 0;
    while (spent < maps.length && maps[spent]!.rel + maps[spent]!.len <= rel) spent++;
    if (spent > 0) maps.splice(0, spent);
    for (const m of maps) {
      if (m.rel > rel) return undefined;
      if (rel < m.rel + m.len) return m;
    }
    return undefined;
  }

  /** Bytes sitting in order but unmapped: grows only if the peer never sends mappings. */
  get unmappedBacklog(): number {
    return this.unmappedBytes;
  }

  /** Where the in-order unmapped bytes start (subflow-relative). */
  get unmappedStart(): number {
    return this.unmappedRel;
  }

  /** SACK blocks (RFC 2018 §4): the block holding the latest arrival first, then the rest. */
  sackBlocks(max: number): Array<{ left: number; right: number }> {
    if (this.ooo.count === 0 || max <= 0) return [];
    const all = this.ooo.blocks();
    const latest = this.ooo.blockIndexOf(this.lastOooRel);
    const out: Array<{ left: number; right: number }> = [];
    if (latest >= 0) out.push({ ...all[latest]! });
    for (let i = 0; i < all.length && out.length < max; i++) if (i !== latest) out.push({ ...all[i]! });
    return out;
  }

  get hasOutOfOrder(): boolean {
    return this.ooo.count > 0;
  }
}
