/**
 * A deterministic, endless byte stream for bulk transfers: the byte at offset o depends
 * only on the seed and o, so a receiver can check every byte it reads without the sender
 * keeping a copy. Lost, duplicated, reordered or corrupted data shows up as a mismatch.
 */
import { SeededRandom } from '@mptun/core';

/** Period of the stream: a prime, so it never lines up with segment or chunk sizes. */
const PERIOD = 65_521;
/** Longest slice handed out at once; the table is this much longer than the period. */
export const PATTERN_MAX_SLICE = 64 * 1024;

export class PatternStream {
  private readonly table: Uint8Array;

  constructor(readonly seed: number) {
    const rng = new SeededRandom(seed);
    const table = new Uint8Array(PERIOD + PATTERN_MAX_SLICE);
    for (let i = 0; i < PERIOD; i++) table[i] = rng.nextU32() & 0xff;
    // The tail repeats the stream, so any slice up to PATTERN_MAX_SLICE is contiguous. It is
    // longer than the period, so it is filled byte by byte (a block copy would read tail
    // bytes not yet written).
    for (let i = PERIOD; i < table.length; i++) table[i] = table[i - PERIOD]!;
    this.table = table;
  }

  /** The `length` bytes of the stream from `offset` (a view; do not modify). */
  slice(offset: number, length: number): Uint8Array {
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be an integer >= 0, got ${offset}`);
    if (!Number.isInteger(length) || length < 0 || length > PATTERN_MAX_SLICE) {
      throw new RangeError(`length must be an integer in [0, ${PATTERN_MAX_SLICE}], got ${length}`);
    }
    const start = offset % PERIOD;
    return this.table.subarray(start, start + length);
  }

  /**
   * True when `data` is exactly the stream's bytes from `offset`. Compared in slices
   * with Buffer.equals (a native memcmp), since bulk runs check hundreds of megabytes.
   */
  matches(offset: number, data: Uint8Array): boolean {
    for (let done = 0; done < data.length; ) {
      const n = Math.min(PATTERN_MAX_SLICE, data.length - done);
      const want = this.slice(offset + done, n);
      const got = data.subarray(done, done + n);
      if (!Buffer.from(got.buffer, got.byteOffset, n).equals(Buffer.from(want.buffer, want.byteOffset, n))) return false;
      done += n;
    }
    return true;
  }
}
