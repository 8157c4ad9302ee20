/**
 * TAI64N-style timestamps for handshake initiations: 8 bytes of seconds (2^62 + 10 + Unix
 * seconds, the TAI64 label) and 4 bytes of nanoseconds, both big-endian, so that byte order
 * is time order. The responder keeps the largest one seen per client key and refuses any
 * initiation that is not newer, or one a little older that it took already
 * (replay-record.ts): a captured initiation cannot be replayed.
 *
 * All paths of one client share one static key, so a client opening two paths in the
 * same millisecond must still send strictly increasing stamps: a TimestampClock bumps a
 * stamp that would not be newer than the last one by one nanosecond. Share one clock
 * between every initiator that uses the same static key.
 *
 * Two clocks of one key (two processes, or two clients in one program) stamping in the same
 * millisecond would send equal stamps, and the responder takes an equal stamp only once. So
 * the apps' clocks fill the nanoseconds below the millisecond at random
 * (TimestampClock.random()): equal stamps then need the same millisecond and a one-in-a-
 * million draw. Without a source the clock is exact (test vectors).
 */
export const TIMESTAMP_BYTES = 12;

/** TAI64 labels count from 2^62; TAI ran 10 s ahead of UTC in 1970. */
const TAI64_HIGH_WORD = 0x4000_0000;
const TAI_OFFSET_SECONDS = 10;
const NANOS_PER_SECOND = 1_000_000_000;

/** Nanoseconds in a millisecond: the range of a clock's sub-millisecond part. */
const NANOS_PER_MILLI = 1_000_000;

export class TimestampClock {
  private lastSeconds = 0;
  private lastNanos = -1;

  /** `subMillisecond` gives the nanoseconds below each stamp's millisecond, in [0, 1e6); without it, they come from `now`. */
  constructor(private readonly subMillisecond: (() => number) | null = null) {}

  /** A clock whose sub-millisecond nanoseconds come from the platform's CSPRNG (Web Crypto). */
  static random(): TimestampClock {
    const word = new Uint32Array(1);
    return new TimestampClock(() => globalThis.crypto.getRandomValues(word)[0]! % NANOS_PER_MILLI);
  }

  /** A stamp for wall-clock time `now` (ms since the Unix epoch), newer than every earlier one. */
  next(now: number): Uint8Array {
    let seconds = Math.floor(now / 1000);
    const sinceSecond = now - seconds * 1000;
    let nanos =
      this.subMillisecond === null
        ? Math.floor(sinceSecond * NANOS_PER_MILLI)
        : Math.floor(sinceSecond) * NANOS_PER_MILLI + (this.subMillisecond() % NANOS_PER_MILLI);
    if (seconds < this.lastSeconds || (seconds === this.lastSeconds && nanos <= this.lastNanos)) {
      seconds = this.lastSeconds;
      nanos = this.lastNanos + 1;
      if (nanos >= NANOS_PER_SECOND) {
        seconds += 1;
        nanos = 0;
      }
    }
    this.lastSeconds = seconds;
    this.lastNanos = nanos;
    return encodeTimestamp(seconds, nanos);
  }
}

function encodeTimestamp(unixSeconds: number, nanos: number): Uint8Array {
  const out = new Uint8Array(TIMESTAMP_BYTES);
  const view = new DataView(out.buffer);
  // 2^62 + seconds is past a double's exact range: build the two 32-bit words apart.
  const seconds = Math.max(0, unixSeconds + TAI_OFFSET_SECONDS);
  view.setUint32(0, TAI64_HIGH_WORD + Math.floor(seconds / 0x1_0000_0000));
  view.setUint32(4, seconds % 0x1_0000_0000);
  view.setUint32(8, nanos);
  return out;
}

/** The stamp's time in ms since the Unix epoch (to the nanosecond's fraction a double holds). */
export function timestampMillis(stamp: Uint8Array): number {
  const view = new DataView(stamp.buffer, stamp.byteOffset, TIMESTAMP_BYTES);
  const seconds = (view.getUint32(0) - TAI64_HIGH_WORD) * 0x1_0000_0000 + view.getUint32(4) - TAI_OFFSET_SECONDS;
  return seconds * 1000 + view.getUint32(8) / 1_000_000;
}

/** True when stamp `a` is strictly newer than `b` (big-endian, so byte order decides). */
export function timestampAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TIMESTAMP_BYTES; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x > y;
  }
  return false;
}
