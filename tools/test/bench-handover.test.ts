import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesAt,
  handoverMetrics,
  longestStallMs,
  rateSeries,
  reuseMs,
  timeToFullRateMs,
  timeUntilRateMs,
  windowRateBps,
  type Timeline,
} from '../bench/suite/handover-metrics.js';
import { HANDOVER_SMOKE, runHandover } from '../bench/suite/handover.js';
import { percentile, summarize } from '../bench/suite/latency-stats.js';
import { LATENCY_SMOKE, runLatency } from '../bench/suite/latency.js';
import type { CdfPlot, LinePlot, SuiteOptions } from '../bench/suite/types.js';

/**
 * A synthetic counter read every `stepMs` from 0 to `endMs`, growing at `rateBps(t)` (bit/s)
 * over each step (the rate at the step's start).
 */
function timeline(endMs: number, stepMs: number, rateBps: (ms: number) => number): Array<[number, number]> {
  const out: Array<[number, number]> = [[0, 0]];
  let bytes = 0;
  for (let t = stepMs; t <= endMs + 1e-9; t += stepMs) {
    bytes += (rateBps(t - stepMs) * stepMs) / 8000;
    out.push([t, bytes]);
  }
  return out;
}

const MBIT = 1e6;

describe('handover metrics: counters between readings', () => {
  const tl: Timeline = [
    [100, 1000],
    [200, 3000],
    [400, 3000],
  ];

  it('interpolates linearly between readings and holds flat outside them', () => {
    expect(bytesAt(tl, 150)).toBe(2000);
    expect(bytesAt(tl, 200)).toBe(3000);
    expect(bytesAt(tl, 300)).toBe(3000);
    expect(bytesAt(tl, 0)).toBe(1000);
    expect(bytesAt(tl, 1e6)).toBe(3000);
    expect(bytesAt([], 5)).toBe(0);
  });

  it('averages a rate over a trailing window in bit/s', () => {
    // 2000 bytes in the 100 ms before t = 200: 160 kbit/s; half of that over 200 ms.
    expect(windowRateBps(tl, 200, 100)).toBe(160_000);
    expect(windowRateBps(tl, 300, 200)).toBe(80_000);
    expect(() => windowRateBps(tl, 300, 0)).toThrow(RangeError);
  });

  it('reads any steady rate back exactly, whatever the reading times (property)', () => {
    const seed = 863_622;
    console.log(`bench-handover rate property seed ${seed}`);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 12, maxLength: 60 }), (mbit, gaps) => {
        const line: Array<[number, number]> = [[0, 0]];
        let t = 0;
        for (const g of gaps) {
          t += g;
          line.push([t, (mbit * MBIT * t) / 8000]);
        }
        const at = t / 2 + 1;
        const window = Math.min(at, 300);
        expect(windowRateBps(line, at, window) / MBIT).toBeCloseTo(mbit, 6);
      }),
      { seed, numRuns: 200 },
    );
  });
});

describe('handover metrics: longest stall', () => {
  // 40 Mbit/s, read every 50 ms, nothing from 3000 to 3400 ms.
  const stalled = timeline(9000, 50, (t) => (t >= 3000 && t < 3400 ? 0 : 40 * MBIT));

  it('measures the gap between readings that show new bytes, from the cut on', () => {
    expect(longestStallMs(stalled, 3000, 9000)).toBe(450);
    // A steady flow reads as one sampling interval.
    expect(longestStallMs(stalled, 5000, 9000)).toBe(50);
  });

  it('clips a stall that began before the cut at the cut, and ignores one wholly before it', () => {
    expect(longestStallMs(stalled, 3200, 9000)).toBe(250);
    expect(longestStallMs(stalled, 4000, 9000)).toBe(50);
  });

  it('counts a flow that never resumes, or ended early, up to the end', () => {
    const dead = timeline(9000, 50, (t) => (t < 3000 ? 40 * MBIT : 0));
    expect(longestStallMs(dead, 3000, 9000)).toBe(6000);
    const endedEarly = timeline(7000, 50, () => 40 * MBIT);
    expect(longestStallMs(endedEarly, 3000, 9000)).toBe(2000);
    expect(() => longestStallMs(dead, 5, 4)).toThrow(RangeError);
  });
});

describe('handover metrics: time to full rate and reuse', () => {
  const LTE = 20 * MBIT;

  it('never counts the bytes from before the cut: an immediate full rate reads as the 500 ms window', () => {
    const line = timeline(9000, 50, (t) => (t < 3000 ? 70 * MBIT : 19 * MBIT));
    expect(timeToFullRateMs(line, 3000, 9000, LTE)).toBe(500);
  });

  it('waits until a whole 500 ms window averages 90% of the capacity', () => {
    // Silent for 1 s after the cut, then 19 Mbit/s: the window at +1450 holds 450 ms of it
    // (17.1 Mbit/s), the one at +1500 all of it.
    const line = timeline(9000, 50, (t) => (t < 3000 ? 70 * MBIT : t < 4000 ? 0 : 19 * MBIT));
    expect(timeToFullRateMs(line, 3000, 9000, LTE)).toBe(1500);
  });

  it('says never when the survivor stays under 90% or the rate comes only after the end', () => {
    const slow = timeline(9000, 50, (t) => (t < 3000 ? 70 * MBIT : 17 * MBIT));
    expect(timeToFullRateMs(slow, 3000, 9000, LTE)).toBeNull();
    const late = timeline(9000, 50, (t) => (t < 8800 ? 0 : 20 * MBIT));
    expect(timeToFullRateMs(late, 3000, 9000, LTE)).toBeNull();
  });

  it('counts the restored path back in use at 10% of its capacity over 500 ms', () => {
    // wifi (50 Mbit/s) read every 100 ms: idle until 800 ms after the restore at 6000, then 6 Mbit/s.
    // Needs 5 Mbit/s averaged: at 7200 the window holds 400 ms of it (4.8), at 7300 all (6).
    const wifi = timeline(12_000, 100, (t) => (t < 3000 ? 40 * MBIT : t < 6800 ? 0 : 6 * MBIT));
    expect(reuseMs(wifi, 6000, 12_000, 50 * MBIT)).toBe(1300);
    expect(reuseMs(wifi, 6000, 12_000, 100 * MBIT)).toBeNull();
    expect(timeUntilRateMs(wifi, 6000, 12_000, 0)).toBe(500);
  });

  it('puts the three together with the bytes delivered and the survivor-alone goodput', () => {
    const delivered = timeline(9000, 50, (t) => (t < 3000 ? 60 * MBIT : t < 3300 ? 0 : t < 6000 ? 16 * MBIT : 60 * MBIT));
    const wifi = timeline(9000, 100, (t) => (t < 3000 || t >= 6600 ? 40 * MBIT : 0));
    const m = handoverMetrics({ delivered, restoredPath: wifi, times: { cutMs: 3000, restoreMs: 6000, endMs: 9000 }, survivorCapacityBps: LTE, restoredCapacityBps: 50 * MBIT });
    expect(m.longestStallMs).toBe(350);
    // 16 Mbit/s is under 18: full rate only once 50 ms of 60 Mbit/s lifts the window to 20.4.
    expect(m.timeToFullRateMs).toBe(3050);
    // wifi carries 40 Mbit/s from +600: the first window holding 100 ms of it averages 8 ≥ 5.
    expect(m.reuseMs).toBe(700);
    expect(m.bytesDelivered).toBeCloseTo((3 * 60e6 + 2.7 * 16e6 + 3 * 60e6) / 8, 0);
    // From cut + 500 to the restore: 2.5 s at 16 Mbit/s.
    expect(m.survivorGoodputBps / MBIT).toBeCloseTo(16, 6);
    expect(() => handoverMetrics({ delivered, restoredPath: wifi, times: { cutMs: 5000, restoreMs: 4000, endMs: 9000 }, survivorCapacityBps: LTE, restoredCapacityBps: 1 })).toThrow(RangeError);
  });

  it('turns a counter into a plotted rate: seconds and Mbit/s, from one window in', () => {
    const points = rateSeries(timeline(2000, 100, () => 8 * MBIT));
    expect(points[0]).toEqual([0.5, 8]);
    expect(points.length).toBe(16);
    for (const [, y] of points) expect(y).toBeCloseTo(8, 9);
    expect(rateSeries([])).toEqual([]);
  });
});

describe('latency percentiles', () => {
  it('takes the nearest rank, always one of the samples', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarizes count, min, p50/p90/p99 and max', () => {
    const ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    expect(summarize(ten)).toEqual({ count: 10, min: 1, p50: 5, p90: 9, p99: 10, max: 10 });
    expect(ten[0]).toBe(10); // the input is left as it was
  });
});

describe('sections 3 and 4 through the real apps (smoke, small sizes)', () => {
  const opts = (lines: string[]): SuiteOptions => ({ quick: true, seed: 11, log: (l) => lines.push(l) });

  it('handover: one cut and restore, with a table row, a line plot and metrics from the recording', async () => {
    console.log('bench-handover smoke seed 11');
    const lines: string[] = [];
    const r = await runHandover(opts(lines), HANDOVER_SMOKE);
    expect(r.tables).toHaveLength(1);
    expect(r.tables[0]!.rows).toHaveLength(1);
    expect(r.tables[0]!.rows[0]![0]).toBe('minrtt');
    const plot = r.plots[0] as LinePlot & { file: string };
    expect(plot.file).toBe('handover-minrtt');
    expect(plot.series.map((s) => s.name)).toEqual(['wifi (on the link)', 'lte (on the link)', 'delivered goodput']);
    expect(plot.markers?.map((m) => m.label)).toEqual(['wifi down', 'wifi restored']);
    type Run = { times: { cutMs: number; restoreMs: number; endMs: number }; paths: Record<string, Timeline>; metrics: { bytesDelivered: number; longestStallMs: number } };
    const run = (r.data as { runs: Run[] }).runs[0]!;
    expect(run.times.cutMs).toBeLessThan(run.times.restoreMs);
    expect(run.times.restoreMs).toBeLessThan(run.times.endMs);
    expect(run.metrics.bytesDelivered).toBeGreaterThan(0);
    // The path to be cut carried the download before the cut (its counter is the right direction's).
    expect(bytesAt(run.paths.wifi ?? [], run.times.cutMs)).toBeGreaterThan(0);
    expect(r.tables[0]!.rows[0]![1]).toBe(Math.round(run.metrics.longestStallMs));
    expect(lines.some((l) => l.startsWith('handover minrtt (down)'))).toBe(true);
  }, 20_000);

  it('latency: idle and loaded round trips, base RTTs and one CDF', async () => {
    const lines: string[] = [];
    const r = await runLatency(opts(lines), LATENCY_SMOKE);
    const rows = r.tables[0]!.rows;
    expect(rows.map((row) => row[1])).toEqual(['idle (minrtt, no bulk)', 'minrtt']);
    const cdf = r.plots[0] as CdfPlot & { file: string };
    expect(cdf.file).toBe('latency-wifi-lte');
    for (const s of cdf.series) expect(s.samples.length).toBeGreaterThan(0);
    const data = r.data as { baseRtts: Array<{ path: string; summary: { count: number } }> };
    expect(data.baseRtts.map((b) => b.path)).toEqual(['wifi', 'lte']);
    for (const b of data.baseRtts) expect(b.summary.count).toBeGreaterThan(0);
    expect(lines).toHaveLength(2);
  }, 20_000);
});
