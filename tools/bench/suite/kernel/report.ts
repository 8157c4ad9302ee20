/**
 * Tables and plots of the kernel-MPTCP section, built from what was measured (pure).
 * Figures are printed as measured; the references sit in the same rows.
 */
import type { BarPlot, LinePlot, Plot, Table } from '../types.js';
import { rateSeries, type Series } from './metrics.js';
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
  /** [seconds, payload bytes delivered]. */
  timeline: Array<[number, number]>;
}

export interface HandoverRun {
  /** When the cut and the restore took effect, seconds on the receiver's timeline. */
  cutAt: number;
  restoreAt: number;
  seconds: number;
  mptcp: boolean;
  longestStallMs: number;
  /** From the cut until 500 ms of goodput reach 90% of the survivor's rate; null: never. */
  timeToFullRateMs: number | null;
  /** From the restore until the restored path carries 10% of its rate over 500 ms; null: never. */
  reuseMs: number | null;
  goodputBeforeBps: number;
  goodputDuringBps: number;
  goodputAfterBps: number;
  timeline: Array<[number, number]>;
  /** Per path: [seconds, link-layer bytes received]. */
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
const ms = (v: number | null, watchedS: number): number | string => (v === null ? `not within ${watchedS.toFixed(1)} s` : Math.round(v));

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

export function handoverTable(d: KernelData): Table {
  const h = d.handover;
  const [a, b] = d.paths;
  const cutName = a?.name ?? 'path A';
  const survivor = b?.name ?? 'path B';
  return {
    title: `Kernel MPTCP handover (download; ${cutName} cut at ${h.cutAt.toFixed(2)} s, restored at ${h.restoreAt.toFixed(2)} s)`,
    columns: ['metric', 'kernel MPTCP'],
    rows: [
      ['longest stall in delivered bytes after the cut (ms)', ms(h.longestStallMs, h.seconds - h.cutAt)],
      [`time to full rate on ${survivor} (500 ms goodput ≥ 90% of ${b ? mbit(b.rateBps) : '?'} Mbit/s) (ms)`, ms(h.timeToFullRateMs, h.seconds - h.cutAt)],
      [`time to use ${cutName} again after the restore (≥ 10% of ${a ? mbit(a.rateBps) : '?'} Mbit/s over 500 ms) (ms)`, ms(h.reuseMs, h.seconds - h.restoreAt)],
      ['goodput before the cut (Mbit/s)', mbit(h.goodputBeforeBps)],
      ['goodput while cut (Mbit/s)', mbit(h.goodputDuringBps)],
      ['goodput after the restore (Mbit/s)', mbit(h.goodputAfterBps)],
    ],
    notes: [
      `The cut drops every packet of ${cutName} in both directions (as the link emulator's down does for mptun); the interfaces stay up, so the kernel notices only through lost packets.`,
      'Delivered bytes sampled every 50 ms on the receiver: stalls are resolved to that interval.',
      `The kernel goes back to a cut subflow when that subflow's backed-off retransmission timer next fires (ss shows the backoff), so the time to reuse grows with the length of the cut (here ${(h.restoreAt - h.cutAt).toFixed(1)} s).`,
      ...(h.mptcp ? [] : ['Warning: the receiving socket was not MPTCP (fallback): these are plain TCP figures.']),
    ],
  };
}

/** Per-path throughput and goodput over the handover run, with the cut and restore marked. */
export function handoverPlot(d: KernelData, stepS = 0.25): Plot {
  const h = d.handover;
  const toMbit = (s: Series): Array<[number, number]> => rateSeries(s, stepS).map(([t, v]) => [Math.round(t * 1000) / 1000, Math.round(v / 1e4) / 100]);
  const cutName = d.paths[0]?.name ?? 'path A';
  const plot: LinePlot = {
    kind: 'line',
    series: [
      ...d.paths.map((p) => ({ name: `${p.name} (link bytes)`, points: toMbit(h.paths[p.name] ?? []) })),
      { name: 'delivered (goodput)', points: toMbit(h.timeline) },
    ],
    markers: [
      { x: h.cutAt, label: `${cutName} cut` },
      { x: h.restoreAt, label: `${cutName} restored` },
    ],
  };
  return { ...plot, file: 'kernel-handover-paths', title: 'Kernel MPTCP handover: throughput per path', xLabel: 'time (s)', yLabel: 'Mbit/s' };
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
