/** How much a pacing burst may hold, in time at the pacing rate (at least 10 segments). */
const PACING_BURST_MS = 2;

/**
 * Token-bucket pacing of one subflow at its congestion controller's rate. A burst may hold
 * 10 segments or PACING_BURST_MS of data, whichever is more: a real driver's timers tick in
 * whole milliseconds, so a smaller bucket would cap the rate at a few segments per tick.
 */
export class Pacer {
  private tokens = 0;
  private last: number;

  constructor(now: number) {
    this.last = now;
  }

  /**
   * Whether `bytes` may leave at `now` at `rate` bytes per second: null when they may,
   * else the time the bucket will hold them.
   */
  delay(now: number, bytes: number, rate: number, mss: number): number | null {
    const burst = Math.max(10 * mss, (rate * PACING_BURST_MS) / 1000);
    if (!isFinite(rate) || rate <= 0) {
      this.tokens = burst;
      this.last = now;
      return null;
    }
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) * rate) / 1000);
    this.last = now;
    // One byte of slack: float refills must not leave a deadline that rounds to `now`.
    if (this.tokens + 1 >= bytes) return null;
    return now + Math.max(0.01, ((bytes - this.tokens) * 1000) / rate);
  }

  /** `bytes` left: take them from the bucket. */
  spend(bytes: number): void {
    this.tokens -= bytes;
  }
}
