import { dssChecksum } from '../crypto/checksum.js';
import { RangeBuffer } from '../range-buffer.js';

/**
 * The receive half of a subflow: subflow-level reassembly and the DSS mappings that turn
 * subflow bytes into connection-level bytes (RFC 8684 §3.3.1). A mapping may cover one
 * segment or many; bytes wait here until a mapping covers them.
 */

/** The DSS fields a mapping's checksum covers (RFC 8684 §3.3.1), as they came on the wire. */
export interface MappingChecksum {
  dsn: bigint;
  subflowSeq: number;
  /** The Data-Level Length field (it counts a DATA_FIN's octet, which has no payload byte). */
  length: number;
  checksum: number;
}

/**
 * A mapping in subflow-relative terms: [rel, rel+len) carries data from dataOffset. With
 * `check`, none of its bytes go out until all of them are here and the checksum holds.
 */
export interface RxMapping {
  rel: number;
  dataOffset: number;
  len: number;
  check?: MappingChecksum;
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
  /** DSN of a checked mapping whose checksum failed, until the subflow's owner takes it. */
  private failedDsn: bigint | null = null;

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
      if (m.check) {
        if (!this.releaseChecked(m, m.check, deliver)) return;
        continue;
      }
      const n = Math.min(head.length, m.rel + m.len - this.unmappedRel);
      deliver(m.dataOffset + (this.unmappedRel - m.rel), head.subarray(0, n));
      this.consumeUnmapped(n);
    }
  }

  /**
   * RFC 8684 §3.3.1: a checksum covers its whole mapping, which may span segments, so the
   * mapping's bytes wait here until all have come, then go out at once if the checksum holds.
   * A failed one is dropped whole and its DSN kept for the owner (§3.7). False: still waiting.
   */
  private releaseChecked(m: RxMapping, check: MappingChecksum, deliver: DeliverFn): boolean {
    const end = m.rel + m.len;
    if (this.unmappedRel + this.unmappedBytes < end) return false;
    // Bytes before this point went out under another mapping: what is left cannot be checked.
    const whole = this.unmappedRel === m.rel;
    const bytes = this.takeUnmapped(end - this.unmappedRel);
    if (whole && dssChecksum(check.dsn, check.subflowSeq, check.length, bytes) === check.checksum) {
      deliver(m.dataOffset, bytes);
    } else if (this.failedDsn === null) {
      this.failedDsn = check.dsn;
    }
    return true;
  }

  /** The next `n` in-order unmapped bytes as one array, consumed. */
  private takeUnmapped(n: number): Uint8Array {
    const head = this.unmapped[0]!;
    if (head.length >= n) {
      this.consumeUnmapped(n);
      return head.subarray(0, n);
    }
    const out = new Uint8Array(n);
    for (let pos = 0; pos < n; ) {
      const chunk = this.unmapped[0]!;
      const take = Math.min(chunk.length, n - pos);
      out.set(chunk.subarray(0, take), pos);
      pos += take;
      this.consumeUnmapped(take);
    }
    return out;
  }

  /** The DSN of a mapping whose checksum failed since the last call, or null (RFC 8684 §3.7). */
  takeChecksumFailure(): bigint | null {
    const dsn = this.failedDsn;
    this.failedDsn = null;
    return dsn;
  }

  /** Drops `n` bytes (no more than the first chunk holds) from the front of the unmapped ones. */
  private consumeUnmapped(n: number): void {
    const head = this.unmapped[0]!;
    if (n === head.length) this.unmapped.shift();
    else this.unmapped[0] = head.subarray(n);
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

  /**
   * Bytes sitting in order that no mapping covers: grows only if the peer never sends
   * mappings. Bytes of a checked mapping waiting for the rest of it are not counted.
   */
  get unmappedBacklog(): number {
    if (this.unmappedBytes === 0 || this.findMap(this.unmappedRel)) return 0;
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
