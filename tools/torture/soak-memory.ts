/**
 * Server memory over a run: a sample every interval after a full collection (the server
 * runs with --expose-gc), so heap + external is what is live, not what awaits the
 * collector. RSS is kept too, for the record: it rarely shrinks, so it is printed, not judged.
 */
import type { ProcessSample } from '../bench/rig/index.js';

export interface MemoryPoint {
  /** Seconds since the watch began. */
  t: number;
  /** heapUsed + external after gc, bytes. */
  live: number;
  rss: number;
}

export interface MemoryFigures {
  start: MemoryPoint;
  peak: MemoryPoint;
  end: MemoryPoint;
  /** Peak RSS seen (not necessarily at the live peak). */
  peakRss: number;
  samples: number;
  /** How long after the last connection the end point was taken, s. */
  settleSeconds: number;
}

export const MiB = 1024 * 1024;

export function liveBytes(s: ProcessSample): number {
  return s.heapUsed + s.external;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

export class MemoryWatch {
  readonly points: MemoryPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly t0 = performance.now();

  constructor(
    private readonly sample: (gc: boolean) => Promise<ProcessSample>,
    private readonly intervalMs = 1_000,
  ) {}

  /** Takes the start point (settled: the lowest of a few collections), then samples on a timer. */
  async begin(): Promise<MemoryPoint> {
    const p = await this.settled();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    return p;
  }

  private async tick(): Promise<void> {
    if (this.busy) return; // a slow reply: skip rather than pile up requests
    this.busy = true;
    try {
      await this.take(true);
    } catch {
      // The server is busy or gone; the end of the run reports that.
    } finally {
      this.busy = false;
    }
  }

  private async take(gc: boolean): Promise<MemoryPoint> {
    const s = await this.sample(gc);
    const p = { t: (performance.now() - this.t0) / 1000, live: liveBytes(s), rss: s.rss };
    this.points.push(p);
    return p;
  }

  /** The lowest live figure of three collections a little apart: garbage in flight settles. */
  async settled(): Promise<MemoryPoint> {
    let best: MemoryPoint | null = null;
    for (let i = 0; i < 3; i++) {
      const p = await this.take(true);
      if (best === null || p.live < best.live) best = p;
      await new Promise((r) => setTimeout(r, 150));
    }
    return best!;
  }

  /**
   * Stops the timer and takes the end point (settled). The last connections' state lingers
   * a few seconds after they close (subflow FIN exchanges, resets on dead paths), so while
   * live memory is above `settleBelow` it is taken again each second, for up to `maxWaitMs`:
   * what is freed in that time was not leaked; what stays is reported.
   */
  async end(start: MemoryPoint, settleBelow = Infinity, maxWaitMs = 0): Promise<MemoryFigures> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const from = performance.now();
    let end = await this.settled();
    while (end.live > settleBelow && performance.now() - from < maxWaitMs) {
      await new Promise((r) => setTimeout(r, 1_000));
      end = await this.settled();
    }
    let peak = start;
    let peakRss = 0;
    for (const p of this.points) {
      if (p.live > peak.live) peak = p;
      peakRss = Math.max(peakRss, p.rss);
    }
    return { start, peak, end, peakRss, samples: this.points.length, settleSeconds: (performance.now() - from) / 1000 };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export function describeMemory(m: MemoryFigures): string {
  return (
    `server memory (heap+external after gc): start ${formatMiB(m.start.live)}, peak ${formatMiB(m.peak.live)} at ${m.peak.t.toFixed(0)} s, ` +
    `end ${formatMiB(m.end.live)} (${m.end.live >= m.start.live ? '+' : ''}${formatMiB(m.end.live - m.start.live)}, ${m.settleSeconds.toFixed(1)} s after the last connection); ` +
    `RSS start ${formatMiB(m.start.rss)}, peak ${formatMiB(m.peakRss)}, end ${formatMiB(m.end.rss)}; ${m.samples} samples`
  );
}
