/**
 * Sections 1 and 2 as tables and plots: pure functions from the measured data (bit/s and
 * bytes) to what the report prints. Every mptun figure sits beside its reference from the
 * same run; a reference that could not be measured shows as "—", never as a guess.
 */
import type { BarPlot, Plot, Table } from './types.js';
import type { BulkWindow } from './aggregation-measure.js';

/** Schedulers that spread one connection over several paths. The others are shown, labelled. */
export const AGGREGATING_SCHEDULERS: ReadonlySet<string> = new Set(['minrtt', 'roundrobin', 'redundant', 'blest', 'ecf']);

export interface SchedulerRun {
  scheduler: string;
  /** False for schedulers meant to leave a path idle (backup, overflow). */
  aggregating: boolean;
  download: BulkWindow | null;
  upload: BulkWindow | null;
  /** Why the run has no figures, when it failed. */
  error?: string;
}

export interface PathDescription {
  name: string;
  local: string;
  /** The link as given to the emulator, and its rate each way. */
  link: Record<string, unknown>;
  rateBps: number;
}

/** What sections 1 and 2 both record about a run. */
interface BulkRunBasics {
  seed: number;
  quick: boolean;
  seconds: number;
  warmupSeconds: number;
  paths: PathDescription[];
  /** Sum of the paths' capacities (one direction). */
  sumBps: number;
  /**
   * Payload ÷ datagram bytes on the link in a lossless single-path download (so nothing
   * but framing: TCP header and options, the seal), and the sum scaled by it.
   */
  wireEfficiency: number | null;
  headersCeilingBps: number | null;
  runs: SchedulerRun[];
}

export interface AggregationData extends BulkRunBasics {
  /** The best single path (the faster one) alone: mptun as is, mptun with its loss off, plain TCP. */
  single: {
    path: string;
    mptun: { download: BulkWindow | null; upload: BulkWindow | null };
    mptunLossless: { download: BulkWindow | null };
    tcp: { download: BulkWindow | null; upload: BulkWindow | null };
    error?: string;
  } | null;
}

/** wireEfficiency comes from the short path's single-path download (that link has no loss). */
export interface RttRatioData extends BulkRunBasics {
  /**
   * The short-RTT path alone: mptun, and plain TCP over the same link (absent when the plan
   * left it out, to give quick mode's short windows a longer warm-up instead).
   */
  single: { path: string; mptun: BulkWindow | null; tcp?: BulkWindow | null; error?: string } | null;
}

const DASH = '—';

/** Bit/s as Mbit/s with one decimal (a number, so the table prints it as is). */
export function mbit(bps: number): number {
  return Math.round(bps / 1e5) / 10;
}

/** "43%" of a reference, or a dash when either side is missing. */
export function percentOf(value: number | null | undefined, reference: number | null | undefined): string {
  if (value == null || reference == null || !(reference > 0)) return DASH;
  return `${Math.round((value / reference) * 100)}%`;
}

/** "1.85×" a reference, or a dash. */
export function timesOf(value: number | null | undefined, reference: number | null | undefined): string {
  if (value == null || reference == null || !(reference > 0)) return DASH;
  return `${(value / reference).toFixed(2)}×`;
}

/** Payload share of the bytes the tunnel's own paths carried (plain-TCP relays left out). */
export function wireEfficiency(w: BulkWindow, tunnelPaths: readonly string[]): number | null {
  const link = tunnelPaths.reduce((s, p) => s + (w.linkBytes[p] ?? 0), 0);
  return link > 0 && w.bytes > 0 ? w.bytes / link : null;
}

export function schedulerLabel(run: Pick<SchedulerRun, 'scheduler' | 'aggregating'>): string {
  return run.aggregating ? run.scheduler : `${run.scheduler} (not aggregating)`;
}

const cell = (bps: number | null | undefined): number | string => (bps == null ? DASH : mbit(bps));
const kib = (bytes: number | null | undefined): number | string => (bytes == null ? DASH : Math.round(bytes / 1024));
const cpuPercent = (w: BulkWindow, which: 'clientSeconds' | 'serverSeconds'): string => (w.seconds > 0 ? `${Math.round((w.cpu[which] / w.seconds) * 100)}%` : DASH);
const lossDrops = (w: BulkWindow, paths: readonly string[]): string => paths.map((p) => `${p} ${w.linkDrops[p]?.['loss'] ?? 0}`).join(', ');

export function aggregationTables(d: AggregationData): Table[] {
  const names = d.paths.map((p) => p.name);
  const single = d.single;
  const bestDown = single?.mptun.download?.goodputBps ?? null;
  const bestUp = single?.mptun.upload?.goodputBps ?? null;
  const rows: Array<Array<string | number>> = d.runs.map((r) => {
    const down = r.download?.goodputBps ?? null;
    const up = r.upload?.goodputBps ?? null;
    if (r.error && down == null && up == null) return [schedulerLabel(r), `failed: ${r.error}`, DASH, DASH, DASH, DASH, DASH];
    return [schedulerLabel(r), cell(down), percentOf(down, d.sumBps), timesOf(down, bestDown), cell(up), percentOf(up, d.sumBps), timesOf(up, bestUp)];
  });
  const sp = single?.path ?? names[0] ?? 'path';
  rows.push([`sum of capacities (${names.join(' + ')})`, mbit(d.sumBps), '100%', DASH, mbit(d.sumBps), '100%', DASH]);
  if (d.headersCeilingBps != null) rows.push(['sum after headers (mptun framing)', mbit(d.headersCeilingBps), percentOf(d.headersCeilingBps, d.sumBps), DASH, mbit(d.headersCeilingBps), percentOf(d.headersCeilingBps, d.sumBps), DASH]);
  if (single) {
    const m = single.mptun;
    rows.push([`${sp} alone, mptun (best single path)`, cell(m.download?.goodputBps), percentOf(m.download?.goodputBps, d.sumBps), timesOf(m.download?.goodputBps, bestDown), cell(m.upload?.goodputBps), percentOf(m.upload?.goodputBps, d.sumBps), timesOf(m.upload?.goodputBps, bestUp)]);
    const l = single.mptunLossless.download?.goodputBps;
    rows.push([`${sp} alone, mptun, link loss off`, cell(l), percentOf(l, d.sumBps), timesOf(l, bestDown), DASH, DASH, DASH]);
    const t = single.tcp;
    rows.push([`${sp} alone, plain TCP (no loss)`, cell(t.download?.goodputBps), percentOf(t.download?.goodputBps, d.sumBps), timesOf(t.download?.goodputBps, bestDown), cell(t.upload?.goodputBps), percentOf(t.upload?.goodputBps, d.sumBps), timesOf(t.upload?.goodputBps, bestUp)]);
  }
  const linkText = d.paths.map((p) => `${p.name} ${mbit(p.rateBps)} Mbit/s`).join(', ');
  const notes = [
    `Bulk transfers through the real apps: download via the client's port forward, upload via its SOCKS5 proxy; ${d.seconds} s measured after ${d.warmupSeconds} s of warm-up each way; one rig (server, emulator, client) per scheduler. Paths: ${linkText}. Seed ${d.seed}.`,
    `"× best single path" divides by mptun over ${sp} alone in the same run (${sp} is the faster path).`,
    `Plain TCP runs over a TCP relay with the same rate, delay, jitter and queue but no random loss (a byte stream cannot drop packets; loopback TCP under it is lossless). "link loss off" is mptun on that same loss-free link, the like-for-like comparison.`,
    d.wireEfficiency != null
      ? `"sum after headers": the sum × ${(d.wireEfficiency * 100).toFixed(1)}%, the payload share of the datagram bytes the link carried in the loss-free single-path download (TCP header and options, DSS, seal).`
      : '"sum after headers" could not be measured in this run.',
    'backup and overflow are not aggregation schedulers: they keep a path idle by design (full mode only).',
    '"@ws": both paths over WebSocket (the emulator relays TCP with the same rate, delay, jitter and queue, without random loss: a byte stream cannot drop packets).',
    'Figures are measured on a shared 2-core machine; they are reported, not asserted.',
  ];
  if (single?.error) notes.push(`single-path references: failed: ${single.error}`);
  const main: Table = { title: 'Bulk goodput per scheduler, wifi + lte', columns: ['scheduler', 'download Mbit/s', '% of sum', '× best single path', 'upload Mbit/s', '% of sum', '× best single path'], rows, notes };

  const flowRows: Array<Array<string | number>> = [];
  for (const r of d.runs) {
    for (const w of [r.download, r.upload]) {
      if (!w) continue;
      flowRows.push([schedulerLabel(r), w.direction, ...names.map((n) => cell(w.linkBps[n])), lossDrops(w, names), percentOf(wireEfficiency(w, names), 1), cpuPercent(w, 'clientSeconds'), cpuPercent(w, 'serverSeconds'), w.direction === 'download' ? kib(w.peakReceiveBuffered) : DASH]);
    }
  }
  const flows: Table = {
    title: 'Where the bytes went (same windows)',
    columns: ['scheduler', 'direction', ...names.map((n) => `${n} link Mbit/s`), 'packets lost on the links', 'payload share of link bytes', 'client CPU (one core)', 'server CPU (one core)', 'client receive-buffer peak KiB'],
    rows: flowRows,
    notes: [
      'Link rates are datagram bytes each emulated path delivered in the transfer direction over the measured window (headers and retransmissions included; redundant copies too).',
      'Payload share = goodput bytes ÷ link bytes in the window; bytes waiting in the receiver\'s reordering buffer shift across the window\'s edges, so it is good to a few percent (framing alone gives about 92%).',
      'CPU is the client and server processes\' CPU time over the window ÷ its length. The link emulator runs in a third process.',
    ],
  };
  return [main, flows];
}

export function aggregationPlots(d: AggregationData): Plot[] {
  const ok = d.runs.filter((r) => r.download || r.upload);
  const references: NonNullable<BarPlot['references']> = [{ y: mbit(d.sumBps), label: 'sum of capacities' }];
  if (d.headersCeilingBps != null) references.push({ y: mbit(d.headersCeilingBps), label: 'sum after headers' });
  const sp = d.single?.path ?? 'best path';
  const singleDown = d.single?.mptun.download?.goodputBps;
  if (singleDown != null) references.push({ y: mbit(singleDown), label: `${sp} alone, mptun (download)` });
  const tcpDown = d.single?.tcp.download?.goodputBps;
  if (tcpDown != null) references.push({ y: mbit(tcpDown), label: `${sp} alone, plain TCP (download)` });
  return [
    {
      kind: 'bar',
      file: 'aggregation-goodput',
      title: 'Bulk goodput per scheduler, wifi + lte',
      xLabel: 'scheduler',
      yLabel: 'goodput (Mbit/s)',
      categories: ok.map(schedulerLabel),
      series: [
        { name: 'download', values: ok.map((r) => (r.download ? mbit(r.download.goodputBps) : 0)) },
        { name: 'upload', values: ok.map((r) => (r.upload ? mbit(r.upload.goodputBps) : 0)) },
      ],
      references,
    },
  ];
}

export function rttRatioTables(d: RttRatioData): Table[] {
  const names = d.paths.map((p) => p.name);
  const sp = d.single?.path ?? names[0] ?? 'path';
  const best = d.single?.mptun?.goodputBps ?? null;
  const rows: Array<Array<string | number>> = d.runs.map((r) => {
    const w = r.download;
    if (!w) return [schedulerLabel(r), `failed: ${r.error ?? 'no figures'}`, DASH, DASH, DASH, ...names.map(() => DASH)];
    return [schedulerLabel(r), mbit(w.goodputBps), percentOf(w.goodputBps, d.sumBps), timesOf(w.goodputBps, best), kib(w.peakReceiveBuffered), ...names.map((n) => cell(w.linkBps[n]))];
  });
  rows.push([`sum of capacities (${names.join(' + ')})`, mbit(d.sumBps), '100%', DASH, DASH, ...names.map(() => DASH)]);
  if (d.headersCeilingBps != null) rows.push(['sum after headers (mptun framing)', mbit(d.headersCeilingBps), percentOf(d.headersCeilingBps, d.sumBps), DASH, DASH, ...names.map(() => DASH)]);
  if (d.single) {
    const m = d.single.mptun;
    rows.push([`${sp} alone, mptun`, cell(m?.goodputBps), percentOf(m?.goodputBps, d.sumBps), timesOf(m?.goodputBps, best), kib(m?.peakReceiveBuffered), ...names.map((n) => cell(m?.linkBps[n]))]);
    const t = d.single.tcp;
    if (t !== undefined) rows.push([`${sp} alone, plain TCP`, cell(t?.goodputBps), percentOf(t?.goodputBps, d.sumBps), timesOf(t?.goodputBps, best), DASH, ...names.map(() => DASH)]);
  }
  const linkText = d.paths.map((p) => `${p.name}: ${mbit(p.rateBps)} Mbit/s, ${String(p.link['delay'])} one way, queue ${String(p.link['queue'])}`).join('; ');
  const notes = [
    `Bulk download through the client's port forward, ${d.seconds} s measured after ${d.warmupSeconds} s of warm-up; one rig per scheduler. ${linkText}; no loss. Seed ${d.seed}.`,
    'The receive-buffer peak is the most out-of-order bytes the client held at once over the connection (warm-up included), read while it was still open: what a fast path costs in memory while it waits for the slow one.',
    `"× ${sp} alone" divides by mptun over the short-RTT path alone in the same run.${d.single?.tcp !== undefined ? ' Plain TCP runs over a TCP relay with the same link settings.' : ''}`,
    d.wireEfficiency != null
      ? `"sum after headers": the sum × ${(d.wireEfficiency * 100).toFixed(1)}%, the payload share of the datagram bytes the link carried in the single-path mptun download.`
      : '"sum after headers" could not be measured in this run.',
  ];
  if (d.single && d.single.tcp === undefined) notes.push('Plain TCP over the short path is measured in the full run only.');
  if (d.single?.error) notes.push(`single-path references: failed: ${d.single.error}`);
  return [{ title: 'Download goodput and receive buffer, 20 ms vs 200 ms RTT', columns: ['scheduler', 'download Mbit/s', '% of sum', `× ${sp} alone`, 'receive-buffer peak KiB', ...names.map((n) => `${n} link Mbit/s`)], rows, notes }];
}

export function rttRatioPlots(d: RttRatioData): Plot[] {
  const ok = d.runs.filter((r) => r.download);
  const references: NonNullable<BarPlot['references']> = [{ y: mbit(d.sumBps), label: 'sum of capacities' }];
  if (d.headersCeilingBps != null) references.push({ y: mbit(d.headersCeilingBps), label: 'sum after headers' });
  const sp = d.single?.path ?? 'short path';
  if (d.single?.mptun) references.push({ y: mbit(d.single.mptun.goodputBps), label: `${sp} alone, mptun` });
  if (d.single?.tcp) references.push({ y: mbit(d.single.tcp.goodputBps), label: `${sp} alone, plain TCP` });
  return [
    {
      kind: 'bar',
      file: 'rtt-ratio-goodput',
      title: 'Download goodput per scheduler, 20 ms + 200 ms RTT paths',
      xLabel: 'scheduler',
      yLabel: 'goodput (Mbit/s)',
      categories: ok.map(schedulerLabel),
      series: [{ name: 'download', values: ok.map((r) => mbit(r.download!.goodputBps)) }],
      references,
    },
    {
      kind: 'bar',
      file: 'rtt-ratio-receive-buffer',
      title: 'Client receive-buffer peak per scheduler, 20 ms + 200 ms RTT paths',
      xLabel: 'scheduler',
      yLabel: 'peak out-of-order bytes held (KiB)',
      categories: ok.map(schedulerLabel),
      series: [{ name: 'receive-buffer peak', values: ok.map((r) => Math.round((r.download!.peakReceiveBuffered ?? 0) / 1024)) }],
    },
  ];
}
