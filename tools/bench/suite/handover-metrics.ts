/**
 * Handover metrics, computed from counters sampled over time. Pure: no clock, no I/O, so
 * the mptun section and the kernel-MPTCP section measure a cut and a restore the same way.
 *
 * A timeline is a cumulative byte counter read now and then: [ms since the run began, bytes
 * so far], in time order. Between two readings the counter is taken to grow linearly.
 *
 *   longest stall      the longest interval between two readings that show new bytes, from
 *                      the cut to the end (a steady flow reads as one sampling interval)
 *   time to full rate  from the cut until the goodput over the last 500 ms first reaches 90%
 *                      of the surviving path's capacity (the window lies wholly after the
 *                      cut, so 500 ms is the least it can read); null = never
 *   reuse              from the restore until the restored path carries 10% of its capacity
 *                      over a 500 ms window (same floor); null = never
 */

/** Cumulative bytes over time: [ms since the run began, bytes so far], in time order. */
export type Timeline = ReadonlyArray<readonly [ms: number, bytes: number]>;

/** Width of the moving average behind "full rate" and "reuse". */
export const RATE_WINDOW_MS = 500;
/** Share of the survivor's capacity that counts as full rate. */
export const FULL_RATE_FRACTION = 0.9;
/** Share of the restored path's capacity that counts as using it again. */
export const REUSE_FRACTION = 0.1;

/** The counter at time `ms`: linear between readings, flat before the first and after the last. */
export function bytesAt(timeline: Timeline, ms: number): number {
  const n = timeline.length;
  if (n === 0) return 0;
  const first = timeline[0]!;
  const last = timeline[n - 1]!;
  if (ms <= first[0]) return first[1];
  if (ms >= last[0]) return last[1];
  // The last reading at or before `ms` (binary search: timelines run to thousands of points).
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (timeline[mid]![0] <= ms) lo = mid;
    else hi = mid;
  }
  const [t0, b0] = timeline[lo]!;
  const [t1, b1] = timeline[hi]!;
  return t1 === t0 ? b1 : b0 + ((b1 - b0) * (ms - t0)) / (t1 - t0);
}

/** Average rate over (ms − windowMs, ms], in bit/s. */
export function windowRateBps(timeline: Timeline, ms: number, windowMs: number = RATE_WINDOW_MS): number {
  if (!(windowMs > 0)) throw new RangeError(`window must be positive, got ${windowMs}`);
  return ((bytesAt(timeline, ms) - bytesAt(timeline, ms - windowMs)) * 8000) / windowMs;
}

/**
 * Longest interval in [fromMs, toMs] with no new bytes: the longest gap between readings that
 * show growth, with `fromMs` and `toMs` as the outer ends. Readings come every few tens of ms,
 * so a steady flow gives one sampling interval, and a flow that never resumes gives toMs − fromMs.
 */
export function longestStallMs(timeline: Timeline, fromMs: number, toMs: number): number {
  if (toMs < fromMs) throw new RangeError(`stall window ends (${toMs}) before it starts (${fromMs})`);
  let lastProgress = fromMs;
  let longest = 0;
  for (let i = 1; i < timeline.length; i++) {
    const [t, bytes] = timeline[i]!;
    if (t <= fromMs) continue;
    if (t > toMs) break;
    if (bytes > timeline[i - 1]![1]) {
      longest = Math.max(longest, t - lastProgress);
      lastProgress = t;
    }
  }
  return Math.max(longest, toMs - lastProgress);
}

/**
 * Time from `fromMs` until the rate over a trailing window first reaches `thresholdBps`, judged
 * at each reading whose window lies wholly in [fromMs, toMs]; null when none does.
 */
export function timeUntilRateMs(timeline: Timeline, fromMs: number, toMs: number, thresholdBps: number, windowMs: number = RATE_WINDOW_MS): number | null {
  for (const [t] of timeline) {
    if (t - windowMs < fromMs) continue;
    if (t > toMs) break;
    if (windowRateBps(timeline, t, windowMs) >= thresholdBps) return t - fromMs;
  }
  return null;
}

/** From the cut until the delivered goodput reaches 90% of the survivor's capacity (500 ms average). */
export function timeToFullRateMs(delivered: Timeline, cutMs: number, endMs: number, survivorCapacityBps: number): number | null {
  return timeUntilRateMs(delivered, cutMs, endMs, FULL_RATE_FRACTION * survivorCapacityBps);
}

/** From the restore until the restored path carries 10% of its capacity (500 ms average). */
export function reuseMs(restoredPath: Timeline, restoreMs: number, endMs: number, restoredCapacityBps: number): number | null {
  return timeUntilRateMs(restoredPath, restoreMs, endMs, REUSE_FRACTION * restoredCapacityBps);
}

/** When the path went away and came back, and when the run ended (ms since it began). */
export interface HandoverTimes {
  cutMs: number;
  restoreMs: number;
  endMs: number;
}

export interface HandoverInput {
  /** Bytes the application received. */
  delivered: Timeline;
  /** Bytes the restored path carried toward the receiver. */
  restoredPath: Timeline;
  times: HandoverTimes;
  survivorCapacityBps: number;
  restoredCapacityBps: number;
}

export interface HandoverMetrics {
  longestStallMs: number;
  timeToFullRateMs: number | null;
  reuseMs: number | null;
  /** Bytes the application received over the whole run. */
  bytesDelivered: number;
  /** Average delivered goodput from one window after the cut to the restore (the survivor alone), bit/s. */
  survivorGoodputBps: number;
}

export function handoverMetrics(input: HandoverInput): HandoverMetrics {
  const { delivered, restoredPath, times } = input;
  const { cutMs, restoreMs, endMs } = times;
  if (!(cutMs <= restoreMs && restoreMs <= endMs)) throw new RangeError(`times out of order: cut ${cutMs}, restore ${restoreMs}, end ${endMs}`);
  const settled = Math.min(cutMs + RATE_WINDOW_MS, restoreMs);
  const survivorGoodputBps = restoreMs > settled ? ((bytesAt(delivered, restoreMs) - bytesAt(delivered, settled)) * 8000) / (restoreMs - settled) : 0;
  return {
    longestStallMs: longestStallMs(delivered, cutMs, endMs),
    timeToFullRateMs: timeToFullRateMs(delivered, cutMs, endMs, input.survivorCapacityBps),
    reuseMs: reuseMs(restoredPath, restoreMs, endMs, input.restoredCapacityBps),
    bytesDelivered: delivered.length === 0 ? 0 : bytesAt(delivered, endMs) - delivered[0]![1],
    survivorGoodputBps,
  };
}

/**
 * A timeline as a rate for plotting: at each reading at least one window after the start, the
 * trailing-window rate; x in seconds, y in Mbit/s.
 */
export function rateSeries(timeline: Timeline, windowMs: number = RATE_WINDOW_MS): Array<[number, number]> {
  const first = timeline[0];
  if (first === undefined) return [];
  const out: Array<[number, number]> = [];
  for (const [t] of timeline) {
    if (t - windowMs < first[0]) continue;
    out.push([t / 1000, windowRateBps(timeline, t, windowMs) / 1e6]);
  }
  return out;
}
