/**
 * The testbed section's figures and tables (pure): medians over runs, each beside the kernel's
 * MPTCP measured on the same namespaces in the same run.
 */
import { median } from './iface-down.js';
import type { LatencySummary } from './latency-stats.js';
import type { Plot, Table } from './types.js';

export interface TestbedPlan {
  /** Runs per figure (the table shows medians). */
  runs: number;
  /** Length of each bulk transfer, warm-up included, and the warm-up left out of the figures. */
  seconds: number;
  warmupSeconds: number;
  /** Round trips measured per case, after rttWarmupSeconds of unrecorded ones. */
  rttSeconds: number;
  rttWarmupSeconds: number;
  /** How long the bulk download runs before the loaded round trips start. */
  bulkLeadSeconds: number;
}

export interface BulkFigure {
  stack: 'kernel' | 'udp' | 'udp-plain' | 'ws';
  direction: 'down' | 'up';
  goodputBps: number;
  seconds: number;
  /** Link-layer bytes the receiver's interface on each link got over the window, by client interface name. */
  pathBytes: Record<string, number>;
  /** The apps' CPU over the window, % of one core; null for the kernel (its work is in softirq, no process to read). */
  cpu: { clientPercent: number; serverPercent: number } | null;
  /** Whether the receiving socket ran MPTCP (kernel only; mptun's ends are plain TCP). */
  mptcp: boolean;
  /** Bytes the receiver checked against flow.py's offset pattern, and the first that differed. */
  checkedBytes: number;
  firstMismatch: number | null;
  /** Text for the progress line: empty when the content checked out. */
  check: string;
}

export interface LatencyCase {
  stack: 'mptun' | 'kernel' | 'tcp';
  load: 'idle' | 'bulk';
  summary: LatencySummary;
  timedOut: boolean;
  /** Goodput of the bulk download during the round trips (bit/s); null when idle. */
  bulkBps: number | null;
}

export interface RatePairData {
  links: Array<{ name: string; mbit: number }>;
  bulk: BulkFigure[];
  latency: LatencyCase[];
  /** Parts that failed (the rest of the pair still ran): what, and the error's text. */
  failures: Array<{ what: string; error: string }>;
  /** Wall time of the whole pair: set-up, every transfer and round trip, teardown excluded. */
  seconds: number;
  /** The machine's 1-minute load average when the pair started and when it ended (other work on the cores shows here). */
  load: [number, number];
}

/** One note per failed part of the section (bulk or round trips), first line of the error only (the JSON has all of it). */
function failureNotes(pairs: readonly RatePairData[]): string[] {
  return pairs.flatMap((p) => p.failures.map((f) => `FAILED at ${pairLabel(p)} Mbit/s, ${f.what}: ${f.error.split('\n')[0]}`));
}

const STACK_LABEL: Record<BulkFigure['stack'], string> = {
  kernel: 'kernel MPTCP',
  udp: 'mptun sealed UDP',
  'udp-plain': 'mptun plain UDP',
  ws: 'mptun WS',
};
const LATENCY_LABEL: Record<LatencyCase['stack'], string> = { mptun: 'mptun sealed UDP', kernel: 'kernel MPTCP', tcp: 'plain TCP (c1 only)' };

const mbit = (bps: number): string => (bps / 1e6).toFixed(1);
const sumMbit = (p: RatePairData): number => p.links.reduce((s, l) => s + l.mbit, 0);
const pairLabel = (p: RatePairData): string => p.links.map((l) => l.mbit).join(' + ');

/** Each link's share of the receiver's interface bytes, and its wire rate, per run: "c1 66% 39.6". */
export function linkShares(f: Pick<BulkFigure, 'pathBytes' | 'seconds'>, names: readonly string[]): Array<{ name: string; share: number; wireBps: number }> {
  const total = names.reduce((s, n) => s + (f.pathBytes[n] ?? 0), 0);
  return names.map((name) => {
    const bytes = f.pathBytes[name] ?? 0;
    return { name, share: total > 0 ? bytes / total : 0, wireBps: f.seconds > 0 ? (bytes * 8) / f.seconds : 0 };
  });
}

/** Medians over the runs of one stack and direction. */
export function medianFigure(runs: readonly BulkFigure[], names: readonly string[]) {
  const shares = names.map((_, i) => ({
    name: names[i]!,
    share: median(runs.map((r) => linkShares(r, names)[i]!.share)),
    wireBps: median(runs.map((r) => linkShares(r, names)[i]!.wireBps)),
  }));
  const cpu = runs.every((r) => r.cpu !== null) ? { client: median(runs.map((r) => r.cpu!.clientPercent)), server: median(runs.map((r) => r.cpu!.serverPercent)) } : null;
  const bad = runs.filter((r) => r.firstMismatch !== null || r.checkedBytes === 0).length;
  return { goodputBps: median(runs.map((r) => r.goodputBps)), shares, cpu, bad, fallback: runs.some((r) => r.stack === 'kernel' && !r.mptcp) };
}

/** CPU seconds per GB of goodput at `percent` of one core (NaN without goodput). */
export function cpuSecondsPerGB(percent: number, goodputBps: number): number {
  return goodputBps > 0 ? ((percent / 100) * 8e9) / goodputBps : NaN;
}

/** Every stack and direction of every pair, medians over the runs, in table order. */
function medians(pairs: readonly RatePairData[]) {
  const out = [];
  for (const p of pairs) {
    const names = p.links.map((l) => l.name);
    for (const stack of Object.keys(STACK_LABEL) as Array<BulkFigure['stack']>) {
      for (const direction of ['down', 'up'] as const) {
        const runs = p.bulk.filter((f) => f.stack === stack && f.direction === direction);
        if (runs.length > 0) out.push({ pair: p, stack, direction, runs: runs.length, m: medianFigure(runs, names) });
      }
    }
  }
  return out;
}

export function bulkTable(pairs: readonly RatePairData[], plan: TestbedPlan, cores: number): Table {
  const all = medians(pairs);
  const rows: Table['rows'] = all.map(({ pair, stack, direction, runs, m }) => {
    const kernel = all.find((k) => k.pair === pair && k.stack === 'kernel' && k.direction === direction);
    const perGB = (pct: number): string => cpuSecondsPerGB(pct, m.goodputBps).toFixed(1);
    return [
      pairLabel(pair),
      STACK_LABEL[stack] + (m.fallback ? ' (fell back to TCP)' : ''),
      direction === 'down' ? 'download' : 'upload',
      mbit(m.goodputBps),
      ((m.goodputBps / (sumMbit(pair) * 1e6)) * 100).toFixed(1),
      kernel && kernel.m.goodputBps > 0 ? `×${(m.goodputBps / kernel.m.goodputBps).toFixed(2)}` : '—',
      m.shares.map((s) => `${s.name} ${Math.round(s.share * 100)}% (${mbit(s.wireBps)})`).join(' / '),
      m.cpu ? `${m.cpu.client.toFixed(0)} / ${m.cpu.server.toFixed(0)}` : '—',
      m.cpu ? `${perGB(m.cpu.client)} / ${perGB(m.cpu.server)}` : '—',
      m.bad === 0 ? `ok ×${runs}` : `${m.bad} of ${runs} FAILED`,
    ];
  });
  return {
    title: 'Two shaped veth links, kernel MPTCP and mptun (`--path c1 --path c2`) in the same run',
    columns: ['links Mbit/s', 'stack', 'direction', 'goodput Mbit/s', '% of sum', 'vs kernel', 'per link: share of bytes (wire Mbit/s)', 'CPU % client / server', 'CPU s/GB client / server', 'content check'],
    rows,
    notes: [
      `Median of ${plan.runs} run(s); each a ${plan.seconds} s bulk transfer by flow.py, the first ${plan.warmupSeconds} s left out. Goodput: payload the receiver read; % of the sum of the two link rates (tbf both ways, 50 ms queue, no added delay: no netem in this kernel).`,
      "Per link: the receiver's interface rx bytes (/sys/class/net statistics: everything arriving on it, headers included) on each link over the same window.",
      'mptun: real mptun-server and mptun-client (sockets bound to c1 and c2), flow.py through the client\'s `-L` forward, plain TCP at both ends. Kernel MPTCP: flow.py with IPPROTO_MPTCP, subflow endpoint on c2 (`dev c2`), cubic.',
      'CPU: utime + stime of each app process (/proc/PID/stat) over the measured window, % of one core, and per GB of goodput; the kernel\'s own work runs in softirq and has no process to read (—).',
      'Content check: every received byte compared with flow.py\'s pattern at its stream offset.',
      `Wall time per rate pair (set-up, transfers and round trips) and the machine's 1-minute load average at its start and end, on ${cores} cores: ${pairs.map((p) => `${pairLabel(p)}: ${p.seconds.toFixed(0)} s, load ${p.load[0].toFixed(1)} → ${p.load[1].toFixed(1)}`).join('; ')}. A load above the core count means the apps waited for a core: their CPU % then says how much they got, not how much they needed.`,
      ...failureNotes(pairs),
    ],
  };
}

/** Goodput as % of the sum of the link rates, per stack, one group per rate pair and direction. */
export function bulkPlot(pairs: readonly RatePairData[]): Plot {
  const all = medians(pairs);
  const categories = pairs.flatMap((p) => (['down', 'up'] as const).map((d) => `${pairLabel(p)} ${d === 'down' ? 'download' : 'upload'}`));
  const series = (Object.keys(STACK_LABEL) as Array<BulkFigure['stack']>).map((stack) => ({
    name: STACK_LABEL[stack],
    values: pairs.flatMap((p) =>
      (['down', 'up'] as const).map((d) => {
        const f = all.find((x) => x.pair === p && x.stack === stack && x.direction === d);
        return f ? (f.m.goodputBps / (sumMbit(p) * 1e6)) * 100 : 0;
      }),
    ),
  }));
  return { kind: 'bar', file: 'testbed-goodput', title: 'Goodput on two shaped veth links, % of the sum of the link rates', xLabel: 'links (Mbit/s) and direction', yLabel: '% of the sum', categories, series, references: [{ y: 100, label: 'sum of the link rates' }] };
}

const ms = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(2));

export function latencyTable(pairs: readonly RatePairData[], plan: TestbedPlan): Table {
  const rows: Table['rows'] = [];
  for (const p of pairs) {
    for (const c of p.latency) {
      rows.push([pairLabel(p), LATENCY_LABEL[c.stack], c.load === 'idle' ? 'idle' : 'under a bulk download', ms(c.summary.p50), ms(c.summary.p99), ms(c.summary.max), c.summary.count + (c.timedOut ? ' (stopped: one took > 5 s)' : ''), c.bulkBps === null ? '—' : mbit(c.bulkBps)]);
    }
  }
  return {
    title: '1 KB round trips between the namespaces, idle and under a bulk download over the same stack',
    columns: ['links Mbit/s', 'stack', 'load', 'p50 ms', 'p99 ms', 'max ms', 'round trips', 'bulk Mbit/s'],
    rows,
    notes: [
      `rtt.py: 1024 B written, all of it echoed back, repeated for ${plan.rttSeconds} s after ${plan.rttWarmupSeconds} s unrecorded; TCP_NODELAY both ends. Echo server in the server namespace (TCP for mptun's forward and plain TCP, MPTCP for the kernel).`,
      `Under load: a flow.py download over the same stack started ${plan.bulkLeadSeconds} s before the round trips. Plain TCP follows the client's default route, c1 only.`,
    ],
  };
}
