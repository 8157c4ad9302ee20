/**
 * From a receiver's samples to the section's figures (pure): the run plan per mode, bulk
 * goodput with per-path bytes, and the handover metrics.
 */
import type { FlowResult, FlowSample } from './flow.js';
import { goodputBps, longestStall, timeToRate, type Series } from './metrics.js';
import type { BulkRun, HandoverRun } from './report.js';

export interface KernelPlan {
  /** Length of each bulk transfer, warm-up included. */
  bulkSeconds: number;
  warmupSeconds: number;
  sampleMs: number;
  handover: { cutAt: number; restoreAt: number; seconds: number };
}

/** Quick: 6 s transfers and a 9 s handover run (~35 s in all); full: 20 s and 25 s (~110 s). */
export function planFor(quick: boolean): KernelPlan {
  return quick
    ? { bulkSeconds: 6, warmupSeconds: 1, sampleMs: 50, handover: { cutAt: 3, restoreAt: 6, seconds: 9 } }
    : { bulkSeconds: 20, warmupSeconds: 1, sampleMs: 50, handover: { cutAt: 5, restoreAt: 15, seconds: 25 } };
}

/** Delivered payload bytes over time. */
export function deliveredSeries(samples: readonly FlowSample[]): Array<[number, number]> {
  return samples.map((s) => [s.t, s.bytes]);
}

/** One interface's rx counter over time (samples where it was unreadable are left out). */
export function ifaceSeries(samples: readonly FlowSample[], iface: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of samples) {
    const v = s.ifaces[iface];
    if (v !== undefined && v >= 0) out.push([s.t, v]);
  }
  return out;
}

/** Growth of a counter between the first point at or after `from` and the last point. */
function growthFrom(series: Series, from: number): number {
  const a = series.find(([t]) => t >= from);
  const b = series[series.length - 1];
  return a && b ? b[1] - a[1] : 0;
}

/** `pathIfaces` maps a path name to the receiver's interface on that path. */
export function bulkRun(proto: BulkRun['proto'], direction: BulkRun['direction'], flow: FlowResult, pathIfaces: Record<string, string>, warmupSeconds: number): BulkRun {
  const delivered = deliveredSeries(flow.samples);
  const pathBytes: Record<string, number> = {};
  for (const [name, iface] of Object.entries(pathIfaces)) pathBytes[name] = growthFrom(ifaceSeries(flow.samples, iface), warmupSeconds);
  const first = delivered.find(([t]) => t >= warmupSeconds);
  const last = delivered[delivered.length - 1];
  return {
    proto,
    direction,
    goodputBps: goodputBps(delivered, warmupSeconds),
    bytes: first && last ? last[1] - first[1] : 0,
    seconds: first && last ? last[0] - first[0] : 0,
    mptcp: flow.mptcp,
    pathBytes,
    timeline: delivered,
  };
}

export interface HandoverInput {
  flow: FlowResult;
  /** Seconds on the receiver's timeline when the cut and the restore took effect. */
  cutAt: number;
  restoreAt: number;
  pathIfaces: Record<string, string>;
  /** The path that was cut and the one that survived, with their rates. */
  cut: { name: string; rateBps: number };
  survivor: { name: string; rateBps: number };
}

/** Seconds → whole-ms figure, or null for "never". */
const toMs = (s: number | undefined): number | null => (s === undefined ? null : Math.round(s * 1000));

export function handoverRun(h: HandoverInput): HandoverRun {
  const delivered = deliveredSeries(h.flow.samples);
  const paths: Record<string, Array<[number, number]>> = {};
  for (const [name, iface] of Object.entries(h.pathIfaces)) paths[name] = ifaceSeries(h.flow.samples, iface);
  const last = delivered[delivered.length - 1]?.[0] ?? h.restoreAt;
  return {
    cutAt: h.cutAt,
    restoreAt: h.restoreAt,
    seconds: last,
    mptcp: h.flow.mptcp,
    longestStallMs: Math.round(longestStall(delivered, h.cutAt) * 1000),
    timeToFullRateMs: toMs(timeToRate(delivered, h.cutAt, 0.9 * h.survivor.rateBps)),
    reuseMs: toMs(timeToRate(paths[h.cut.name] ?? [], h.restoreAt, 0.1 * h.cut.rateBps)),
    // Before: after a 1 s warm-up; during and after: the whole interval.
    goodputBeforeBps: goodputBps(delivered, Math.min(1, h.cutAt / 2), h.cutAt),
    goodputDuringBps: goodputBps(delivered, h.cutAt, h.restoreAt),
    goodputAfterBps: goodputBps(delivered, h.restoreAt),
    timeline: delivered,
    paths,
  };
}
