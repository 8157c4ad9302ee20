/**
 * The figures computed from a receiver's timeline — the same definitions as the mptun
 * sections: goodput after a warm-up, and for the handover run the longest stall, the time
 * to full rate on the survivor and the time until the restored path is used again.
 * Pure functions over [seconds, cumulative bytes] series.
 */

/** [seconds, cumulative bytes], times ascending. */
export type Series = ReadonlyArray<readonly [number, number]>;

/** Average rate in bit/s between the first point at or after `from` and the last at or before `to`. */
export function goodputBps(series: Series, from: number, to = Number.POSITIVE_INFINITY): number {
  const a = series.find(([t]) => t >= from);
  let b: readonly [number, number] | undefined;
  for (const p of series) if (p[0] <= to) b = p;
  if (!a || !b || b[0] <= a[0]) return 0;
  return ((b[1] - a[1]) * 8) / (b[0] - a[0]);
}

/**
 * Longest time with no new bytes, after `from` (the cut): measured between successive
 * points where the count grew (the cut itself counts as the first), and up to the last
 * point if the count never grew again. Resolution: the sampling interval.
 */
export function longestStall(series: Series, from: number): number {
  let before = 0;
  for (const [t, v] of series) if (t <= from) before = v;
  let lastGrowth = from;
  let last = before;
  let longest = 0;
  let end = from;
  for (const [t, v] of series) {
    if (t <= from) continue;
    end = t;
    if (v > last) {
      longest = Math.max(longest, t - lastGrowth);
      lastGrowth = t;
      last = v;
    }
  }
  return Math.max(longest, end - lastGrowth);
}

/**
 * Seconds from `from` until the rate over a `windowS` window lying wholly after `from`
 * first reaches `thresholdBps` (the window's end is the moment it does), or undefined if
 * it never does.
 */
export function timeToRate(series: Series, from: number, thresholdBps: number, windowS = 0.5): number | undefined {
  let j = 0;
  for (let i = 0; i < series.length; i++) {
    const start = series[i];
    if (!start || start[0] < from) continue;
    if (j < i) j = i;
    while (j < series.length && (series[j]?.[0] ?? 0) < start[0] + windowS - 1e-9) j++;
    const end = series[j];
    if (!end) return undefined;
    const rate = ((end[1] - start[1]) * 8) / (end[0] - start[0]);
    if (rate >= thresholdBps) return end[0] - from;
  }
  return undefined;
}

/** Rate in bit/s over successive windows of about `stepS`: [window end, bit/s] points. */
export function rateSeries(series: Series, stepS: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let a = series[0];
  if (!a) return out;
  for (const b of series) {
    if (b[0] - a[0] >= stepS - 1e-9) {
      out.push([b[0], ((b[1] - a[1]) * 8) / (b[0] - a[0])]);
      a = b;
    }
  }
  return out;
}
