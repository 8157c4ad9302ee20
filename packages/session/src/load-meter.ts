/**
 * Handshakes per second, estimated over a sliding one-second window from two fixed
 * buckets (the previous second weighted by how much of it still overlaps the window).
 * The server calls itself "under load" — and answers with cookies — above a threshold.
 */
const BUCKET_MS = 1000;

export class LoadMeter {
  private bucketStart = 0;
  private current = 0;
  private previous = 0;

  constructor(readonly thresholdPerSecond: number) {}

  /** Counts one handshake at `now` (ms). */
  record(now: number): void {
    this.roll(now);
    this.current++;
  }

  /** Estimated handshakes in the last second. */
  rate(now: number): number {
    this.roll(now);
    const overlap = 1 - (now - this.bucketStart) / BUCKET_MS;
    return this.current + this.previous * Math.max(0, overlap);
  }

  underLoad(now: number): boolean {
    return this.rate(now) > this.thresholdPerSecond;
  }

  private roll(now: number): void {
    const start = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    if (start === this.bucketStart) return;
    this.previous = start - this.bucketStart === BUCKET_MS ? this.current : 0;
    this.current = 0;
    this.bucketStart = start;
  }
}
