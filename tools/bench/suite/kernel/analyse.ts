/**
 * From a receiver's samples to the section's figures (pure): the run plan per mode, bulk
 * goodput with per-path bytes, and the handover metrics. The handover figures come from
 * handover-metrics.ts — the very code behind mptun's handover section — over the samples
 * turned into [ms, bytes] timelines, so the two tables read the same definitions.
 */
import { HANDOVER_FULL, HANDOVER_QUICK } from '../handover.js';
import { bytesAt, handoverMetrics, type HandoverMetrics, type HandoverTimes, type Timeline } from '../handover-metrics.js';
import type { HandoverSchedule } from '../handover-run.js';
import type { FlowResult, FlowSample } from './flow.js';
import type { BulkRun, HandoverRun } from './report.js';

export interface KernelPlan {
  /** Length of each bulk transfer, warm-up included. */
  bulkSeconds: number;
  warmupSeconds: number;
  sampleMs: number;
  /** When to cut and restore path A and when the run ends, ms on the receiver's timeline. */
  handover: HandoverSchedule;
}

/**
 * Quick: 6 s transfers; full: 20 s. The handover run takes mptun's handover plan
 * (HANDOVER_QUICK / HANDOVER_FULL: cut, restore, end), so both tables time the same run.
 */
export function planFor(quick: boolean): KernelPlan {
  const h = quick ? HANDOVER_QUICK : HANDOVER_FULL;
  return {
    bulkSeconds: quick ? 6 : 20,
    warmupSeconds: 1,
    sampleMs: 50,
    handover: { cutMs: h.cutMs, restoreMs: h.restoreMs, endMs: h.endMs },
  };
}

/** The receiver reports float seconds; keep ms to the microsecond so figures stay clean. */
const msOf = (seconds: number): number => Math.round(seconds * 1e6) / 1e3;

/** Delivered payload bytes over time, [ms, bytes]. */
export function deliveredTimeline(samples: readonly FlowSample[]): Array<[number, number]> {
  return samples.map((s) => [msOf(s.t), s.bytes]);
}

/** One interface's rx counter over time, [ms, bytes] (samples where it was unreadable are left out). */
export function ifaceTimeline(samples: readonly FlowSample[], iface: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of samples) {
    const v = s.ifaces[iface];
    if (v !== undefined && v >= 0) out.push([msOf(s.t), v]);
  }
  return out;
}

/**
 * Average rate in bit/s between two times (the counter read as handover-metrics reads it:
 * linear between samples); 0 for an empty interval. (Could move to handover-metrics.ts.)
 */
export function goodputBetweenBps(timeline: Timeline, fromMs: number, toMs: number): number {
  if (!(toMs > fromMs)) return 0;
  return ((bytesAt(timeline, toMs) - bytesAt(timeline, fromMs)) * 8000) / (toMs - fromMs);
}

const lastMs = (timeline: Timeline): number => timeline[timeline.length - 1]?.[0] ?? 0;

/** `pathIfaces` maps a path name to the receiver's interface on that path. */
export function bulkRun(proto: BulkRun['proto'], direction: BulkRun['direction'], flow: FlowResult, pathIfaces: Record<string, string>, warmupSeconds: number): BulkRun {
  const delivered = deliveredTimeline(flow.samples);
  const fromMs = warmupSeconds * 1000;
  const toMs = lastMs(delivered);
  const measured = toMs > fromMs;
  const pathBytes: Record<string, number> = {};
  for (const [name, iface] of Object.entries(pathIfaces)) {
    const tl = ifaceTimeline(flow.samples, iface);
    pathBytes[name] = measured ? bytesAt(tl, toMs) - bytesAt(tl, fromMs) : 0;
  }
  return {
    proto,
    direction,
    goodputBps: goodputBetweenBps(delivered, fromMs, toMs),
    bytes: measured ? bytesAt(delivered, toMs) - bytesAt(delivered, fromMs) : 0,
    seconds: measured ? (toMs - fromMs) / 1000 : 0,
    mptcp: flow.mptcp,
    pathBytes,
    timeline: delivered,
  };
}

export interface HandoverInput {
  flow: FlowResult;
  /** When the cut and the restore took effect, ms on the receiver's timeline. */
  cutMs: number;
  restoreMs: number;
  pathIfaces: Record<string, string>;
  /** The path that was cut and the one that survived, with their rates. */
  cut: { name: string; rateBps: number };
  survivor: { name: string; rateBps: number };
}

/** Warm-up left out of "goodput before the cut" (less when the cut comes early). */
const BEFORE_WARMUP_MS = 1000;

export function handoverRun(h: HandoverInput): HandoverRun {
  const delivered = deliveredTimeline(h.flow.samples);
  const paths: Record<string, Array<[number, number]>> = {};
  for (const [name, iface] of Object.entries(h.pathIfaces)) paths[name] = ifaceTimeline(h.flow.samples, iface);
  // The run ends with the receiver's last sample (as mptun's ends with its last reading).
  const times: HandoverTimes = { cutMs: h.cutMs, restoreMs: h.restoreMs, endMs: Math.max(lastMs(delivered), h.restoreMs) };
  const metrics: HandoverMetrics = handoverMetrics({
    delivered,
    restoredPath: paths[h.cut.name] ?? [],
    times,
    survivorCapacityBps: h.survivor.rateBps,
    restoredCapacityBps: h.cut.rateBps,
  });
  return {
    times,
    mptcp: h.flow.mptcp,
    metrics,
    goodputBeforeBps: goodputBetweenBps(delivered, Math.min(BEFORE_WARMUP_MS, h.cutMs / 2), h.cutMs),
    goodputAfterBps: goodputBetweenBps(delivered, h.restoreMs, times.endMs),
    delivered,
    paths,
  };
}
