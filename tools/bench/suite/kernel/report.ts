/**
 * Tables and plots of the kernel-MPTCP section, built from what was measured (pure).
 * Figures are printed as measured; the references sit in the same rows.
 */
import { rateSeries, RATE_WINDOW_MS, type HandoverMetrics, type HandoverTimes } from '../handover-metrics.js';
import type { BarPlot, LinePlot, Plot, Table } from '../types.js';
import type { KernelPath } from './paths.js';

export interface BulkRun {
  proto: 'mptcp' | 'tcp';
  direction: 'down' | 'up';
  /** Payload bit/s after the warm-up. */
  goodputBps: number;
  /** Payload bytes over the measured window. */
  bytes: number;
  seconds: number;
  /** Whether the receiving socket ran MPTCP (false for TCP or an MPTCP fallback). */
  mptcp: boolean;
  /** Link-layer bytes received per path over the measured window. */
  pathBytes: Record<string, number>;
  /** [ms, payload bytes delivered]. */
  timeline: Array<[number, number]>;
}

/** Shaped like a run of mptun's handover section: its times, the same metrics, the timelines. */
export interface HandoverRun {
  /** When the cut and the restore took effect and when the run ended, ms on the receiver's timeline. */
  times: HandoverTimes;
  mptcp: boolean;
  /** From handover-metrics.ts, as mptun's handover section computes them. */
  metrics: HandoverMetrics;
  /** Delivered goodput from 1 s after the start to the cut, and from the restore to the end. */
  goodputBeforeBps: number;
  goodputAfterBps: number;
  /** [ms, payload bytes delivered]. */
  delivered: Array<[number, number]>;
  /** Per path: [ms, link-layer bytes received]. */
  paths: Record<string, Array<[number, number]>>;
}

export interface KernelData {
  kernel: string;
  congestionControl: string;
  mptcpScheduler: string;
  topology: string;
  paths: KernelPath[];
  /** Sum of the paths' rates, bit/s. */
  capacityBps: number;
  warmupSeconds: number;
  runs: BulkRun[];
  handover: HandoverRun;
  /** Delay-line packet counters per path over the whole section. */
  delayLine: Record<string, Record<string, number>>;
}

const mbit = (bps: number): number => Math.round(bps / 1e5) / 10;
const pct = (part: number, whole: number): number => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0);
/** A time in ms, or for "never" how long the run watched after the event. */
const ms = (v: number | null, watchedMs: number): number | string => (v === null ? `not within ${(watchedMs / 1000).toFixed(1)} s` : Math.round(v));

function find(d: KernelData, proto: BulkRun['proto'], direction: BulkRun['direction']): BulkRun | undefined {
  return d.runs.find((r) => r.proto === proto && r.direction === direction);
}

function pathLabel(p: KernelPath): string {
  return `${p.name} ${mbit(p.rateBps)} Mbit/s, ${p.delayMs} ms one way (+0–${p.jitterMs} ms), ${p.loss * 100}% loss, ${p.queueMs} ms queue`;
}

/** "wifi 78% / lte 22%" of the link-layer bytes each path received. */
export function shareText(pathBytes: Record<string, number>, names: readonly string[]): string {
  const total = names.reduce((s, n) => s + (pathBytes[n] ?? 0), 0);
  if (total <= 0) return '—';
  return names.map((n) => `${n} ${Math.round(((pathBytes[n] ?? 0) / total) * 100)}%`).join(' / ');
}

export function aggregationTable(d: KernelData): Table {
  const [a] = d.paths;
  const names = d.paths.map((p) => p.name);
  const rows: Table['rows'] = [];
  for (const direction of ['down', 'up'] as const) {
    const m = find(d, 'mptcp', direction);
    const t = find(d, 'tcp', direction);
    rows.push([
      direction === 'down' ? 'download' : 'upload',
      m ? mbit(m.goodputBps) : '—',
      m ? pct(m.goodputBps, d.capacityBps) : '—',
      m ? shareText(m.pathBytes, names) : '—',
      t ? mbit(t.goodputBps) : '—',
      t && a ? pct(t.goodputBps, a.rateBps) : '—',
      m && t && t.goodputBps > 0 ? `×${(m.goodputBps / t.goodputBps).toFixed(2)}` : '—',
    ]);
  }
  const fallback = d.runs.filter((r) => r.proto === 'mptcp' && !r.mptcp);
  return {
    title: `Kernel MPTCP aggregation (${names.join(' + ')}, sum ${mbit(d.capacityBps)} Mbit/s)`,
    columns: ['direction', 'kernel MPTCP (Mbit/s)', `% of ${mbit(d.capacityBps)} Mbit/s`, 'bytes per path', `plain TCP on ${a?.name ?? 'path A'} (Mbit/s)`, `% of ${a ? mbit(a.rateBps) : '?'} Mbit/s`, 'MPTCP / TCP'],
    rows,
    notes: [
      `Goodput = payload bytes the receiver read after a ${d.warmupSeconds} s warm-up, over the rest of the run; capacities are link rates (headers included).`,
      `Paths: ${d.paths.map(pathLabel).join('; ')}. ${d.topology}`,
      `Linux ${d.kernel}, congestion control ${d.congestionControl}, MPTCP scheduler ${d.mptcpScheduler}; sender and receiver are a Python script (socket.IPPROTO_MPTCP / IPPROTO_TCP).`,
      'The issue quotes 89% of the sum of 40 + 20 Mbit/s for the kernel on this kind of machine; the figures above are what this run measured on these paths.',
      ...(fallback.length > 0 ? [`Warning: ${fallback.map((r) => r.direction).join(', ')} fell back to plain TCP (no MPTCP on the receiving socket).`] : []),
    ],
  };
}

/** The columns of mptun's handover table (same metrics, same order), then the kernel's extras. */
export function handoverTable(d: KernelData): Table {
  const h = d.handover;
  const { cutMs, restoreMs, endMs } = h.times;
  const [a, b] = d.paths;
  const cutName = a?.name ?? 'path A';
  const survivor = b?.name ?? 'path B';
  return {
    title: `Kernel MPTCP handover: ${cutName} cut at ${(cutMs / 1000).toFixed(2)} s, restored at ${(restoreMs / 1000).toFixed(2)} s`,
    columns: ['stack', 'longest stall ms', 'time to full rate ms', 'reuse ms', 'bytes delivered', `${survivor} alone Mbit/s`, 'before the cut Mbit/s', 'after the restore Mbit/s'],
    rows: [
      [
        `kernel MPTCP (${d.mptcpScheduler})`,
        Math.round(h.metrics.longestStallMs),
        ms(h.metrics.timeToFullRateMs, endMs - cutMs),
        ms(h.metrics.reuseMs, endMs - restoreMs),
        Math.round(h.metrics.bytesDelivered),
        mbit(h.metrics.survivorGoodputBps),
        mbit(h.goodputBeforeBps),
        mbit(h.goodputAfterBps),
      ],
    ],
    notes: [
      `Bulk download over ${a ? pathLabel(a) : cutName} + ${b ? pathLabel(b) : survivor}; the cut and restore times and the run's ${(endMs / 1000).toFixed(1)} s follow mptun's handover plan.`,
      `Metrics computed by the same code as mptun's handover table: longest stall = longest gap between readings that show new delivered bytes, from the cut to the end; time to full rate = from the cut until the ${RATE_WINDOW_MS} ms average goodput reaches 90% of ${survivor}'s ${b ? mbit(b.rateBps) : '?'} Mbit/s; reuse = from the restore until ${cutName} carries 10% of its ${a ? mbit(a.rateBps) : '?'} Mbit/s over ${RATE_WINDOW_MS} ms (both include the window: ${RATE_WINDOW_MS} is the floor); ${survivor} alone = average goodput from ${RATE_WINDOW_MS} ms after the cut to the restore.`,
      `Delivered bytes sampled every 50 ms on the receiver, so stalls are resolved to that interval; per-path bytes are the receiver's interface rx counters (link-layer, all traffic), where mptun counts what its emulated link delivered.`,
      `The cut drops every packet of ${cutName} in both directions (as the link emulator's down does for mptun); the interfaces stay up, so the kernel notices only through lost packets.`,
      `The kernel goes back to a cut subflow when that subflow's backed-off retransmission timer next fires (ss shows the backoff), so the time to reuse grows with the length of the cut (here ${((restoreMs - cutMs) / 1000).toFixed(1)} s).`,
      ...(h.mptcp ? [] : ['Warning: the receiving socket was not MPTCP (fallback): these are plain TCP figures.']),
    ],
  };
}

/** Per-path throughput and goodput over the handover run, with the cut and restore marked (as mptun's plot). */
export function handoverPlot(d: KernelData): Plot {
  const h = d.handover;
  const cutName = d.paths[0]?.name ?? 'path A';
  const plot: LinePlot = {
    kind: 'line',
    series: [
      ...d.paths.map((p) => ({ name: `${p.name} (link bytes)`, points: rateSeries(h.paths[p.name] ?? []) })),
      { name: 'delivered goodput', points: rateSeries(h.delivered) },
    ],
    markers: [
      { x: h.times.cutMs / 1000, label: `${cutName} cut` },
      { x: h.times.restoreMs / 1000, label: `${cutName} restored` },
    ],
  };
  return { ...plot, file: 'kernel-handover-paths', title: `Kernel MPTCP handover: throughput per path (${RATE_WINDOW_MS} ms average)`, xLabel: 'time (s)', yLabel: 'Mbit/s' };
}

export function aggregationPlot(d: KernelData): Plot {
  const a = d.paths[0];
  const value = (proto: BulkRun['proto'], dir: BulkRun['direction']): number => mbit(find(d, proto, dir)?.goodputBps ?? 0);
  const plot: BarPlot = {
    kind: 'bar',
    categories: ['download', 'upload'],
    series: [
      { name: 'kernel MPTCP', values: [value('mptcp', 'down'), value('mptcp', 'up')] },
      { name: `plain TCP on ${a?.name ?? 'path A'}`, values: [value('tcp', 'down'), value('tcp', 'up')] },
    ],
    references: [{ y: mbit(d.capacityBps), label: 'sum of capacities' }, ...(a ? [{ y: mbit(a.rateBps), label: `${a.name} capacity` }] : [])],
  };
  return { ...plot, file: 'kernel-aggregation', title: 'Kernel MPTCP aggregation: goodput', xLabel: 'direction', yLabel: 'Mbit/s' };
}
