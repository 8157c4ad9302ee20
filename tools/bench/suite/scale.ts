/**
 * Section 6, Scale:
 *   - idle connections: server and client memory (RSS, and JS heap + external after a full
 *     GC) and CPU with 1,000 (and 10,000 in the full run) connections opened through the
 *     client's port forward to the sink, each proven by one echoed byte, then left idle;
 *   - new connections per second: open, echo one byte, close, 32 in flight, for a while;
 *   - time to first byte: connect through the forward and get one echoed byte back, over an
 *     emulated path with a 20 ms RTT, against plain TCP over the same emulated path.
 * References in the same run: a plain Node TCP relay process holding and churning the same
 * connections, and the rig's plain-TCP relay over the emulated link.
 *
 * The connections are opened by a load-generator child (scale-load.ts): the measuring
 * process already holds the sink's end of every connection, one file descriptor each.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { directPaths, startRig, type HostPort, type ProcessSample } from '../rig/index.js';
import { startTcpRelay } from './cpu-relay.js';
import { openEchoed, startLoadGenerator, type ChurnResult, type HoldResult, type LoadGenerator } from './scale-load.js';
import type { CdfPlot, Plot, Section, SectionResult, SuiteOptions, Table } from './types.js';

/** How much to run; the suite uses QUICK or FULL, the smoke test something smaller. */
export interface ScaleSize {
  /** Idle connection counts, each measured on its own after the previous ones are closed. */
  idleCounts: number[];
  /** Connections being opened at once while building up the idle set. */
  holdConcurrency: number;
  /** Window over which idle CPU is measured, seconds. */
  idleWindowSeconds: number;
  /** Length of the open/echo/close loop, seconds, and how many are in flight. */
  churnSeconds: number;
  churnConcurrency: number;
  /** Unmeasured churn first (a fresh process runs its first thousand connections slower: JIT), seconds. */
  churnWarmupSeconds: number;
  /** Time-to-first-byte samples per variant (proxied, direct). */
  ttfbSamples: number;
  /** Also measure the plain TCP relay reference (idle memory and connections per second). */
  relayReference: boolean;
}

export const QUICK_SCALE: ScaleSize = { idleCounts: [1000], holdConcurrency: 100, idleWindowSeconds: 2, churnSeconds: 3, churnConcurrency: 32, churnWarmupSeconds: 1, ttfbSamples: 20, relayReference: true };
export const FULL_SCALE: ScaleSize = { idleCounts: [1000, 10_000], holdConcurrency: 100, idleWindowSeconds: 3, churnSeconds: 5, churnConcurrency: 32, churnWarmupSeconds: 2, ttfbSamples: 20, relayReference: true };

/** File descriptors kept free for everything else a process has open. */
const FD_MARGIN = 200;
/** How long closed connections may take to be gone everywhere: a floor, plus per connection, capped. */
const DRAIN_FLOOR_MS = 20_000;
const DRAIN_PER_CONNECTION_MS = 10;
const DRAIN_CAP_MS = 120_000;
/** Emulated one-way delay of the time-to-first-byte path: 20 ms RTT. */
const TTFB_ONE_WAY = '10ms';

export interface IdleRun {
  /** The process measured: mptun-server, mptun-client (over the same connections), or the reference relay. */
  what: string;
  asked: number;
  /** Connections the load generator opened and proved with an echo. */
  opened: number;
  failed: number;
  /** Open at the server when memory was sampled (the server's own count; for the relay, the held count). */
  open: number;
  openSeconds: number;
  /** Opening rate over the first and the last tenth of them, connections/s (does it slow down as they pile up?). */
  openRateFirst: number;
  openRateLast: number;
  /** From closing them all until none was open anywhere; null if some still were at the deadline. */
  closeSeconds: number | null;
  /** Still open at the deadline. */
  leftOpen: number;
  before: ProcessSample;
  after: ProcessSample;
  rssPerConnection: number;
  heapExternalPerConnection: number;
  /** CPU of this run's process (`what`) while the connections sat idle, percent of one core. */
  idleCpuPercent: number;
  /** Why fewer than asked were opened (fd limit), if so. */
  capped?: string;
  errors: string[];
}

export interface ChurnRun extends ChurnResult {
  what: string;
  perSecond: number;
  serverCpuPercent: number;
  serverCpuMsPerConnection: number;
  clientCpuPercent: number | null;
}

export interface TtfbRun {
  what: string;
  samplesMs: number[];
  medianMs: number;
  p90Ms: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cpuUs = (a: ProcessSample, b: ProcessSample): number => b.userUs + b.systemUs - (a.userUs + a.systemUs);

/** Soft limit on open files of this process (children inherit it), or null when unknown. */
export function fdLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : null;
  } catch {
    return null;
  }
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Connections/s over the first and the last step of a hold's progress marks. */
export function tenthRates(progress: Array<[number, number]>): [number, number] {
  if (progress.length === 0) return [NaN, NaN];
  const [n1, t1] = progress[0]!;
  const first = t1 > 0 ? (n1 / t1) * 1000 : NaN;
  if (progress.length === 1) return [first, first];
  const [na, ta] = progress[progress.length - 2]!;
  const [nb, tb] = progress[progress.length - 1]!;
  return [first, tb > ta ? ((nb - na) / (tb - ta)) * 1000 : NaN];
}

/** Waits until `open()` reports 0 or `timeoutMs` passes; returns what is still open. */
async function drained(open: () => Promise<number>, timeoutMs: number, pollMs = 200): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let n = await open();
  while (n > 0 && performance.now() < deadline) {
    await sleep(pollMs);
    n = await open();
  }
  return n;
}

/** One process whose memory and CPU an idle set measures. */
interface MeasuredProcess {
  what: string;
  /** Memory and CPU of the process, optionally after a full GC. */
  sample(gc: boolean): Promise<ProcessSample>;
}

interface IdleTarget extends MeasuredProcess {
  target: HostPort;
  /** Connections that process counts as open, or null if it keeps no count. */
  openCount(): Promise<number | null>;
  /** Waits until every closed connection is gone on every side (up to timeoutMs); returns how many are left. */
  drain(timeoutMs: number): Promise<number>;
  /** File descriptors one idle connection costs the busiest process (the relay holds two). */
  fdsPerConnection: number;
  /** Another process that holds the same connections (the client), measured over the same set. */
  companion?: MeasuredProcess;
}

/** CPU of each sampled process over one window of `seconds`, percent of one core. */
async function cpuPercentsOver(samples: ReadonlyArray<() => Promise<ProcessSample>>, seconds: number): Promise<number[]> {
  const a = await Promise.all(samples.map((f) => f()));
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const b = await Promise.all(samples.map((f) => f()));
  const wall = (performance.now() - t0) / 1000;
  return a.map((x, i) => cpuUs(x, b[i]!) / 1e4 / wall);
}

/** The processes measured for an idle set: the target, then its companion if it has one. */
const measured = (t: IdleTarget): MeasuredProcess[] => [t, ...(t.companion ? [t.companion] : [])];

/** One idle set: a run for the target, and one for its companion over the same connections. */
async function measureIdle(load: LoadGenerator, t: IdleTarget, asked: number, size: ScaleSize, log: (l: string) => void): Promise<IdleRun[]> {
  const limit = fdLimit();
  let count = asked;
  let capped: string | undefined;
  if (limit !== null) {
    // The measuring process holds the sink's end of each connection on top of what it has
    // open already; the busiest child holds fdsPerConnection per connection (the relay two).
    const fits = Math.min(limit - FD_MARGIN - openFds(), Math.floor((limit - FD_MARGIN) / t.fdsPerConnection));
    if (fits < asked) {
      count = Math.max(0, fits);
      capped = `ulimit -n is ${limit}: ${asked} connections need about ${asked * t.fdsPerConnection + FD_MARGIN} descriptors in one process, so ${count} were opened`;
      log(`scale: ${t.what}: ${capped}`);
    }
  }
  const procs = measured(t);
  const before = await Promise.all(procs.map((p) => p.sample(true)));
  const hold: HoldResult = count > 0 ? await load.hold(t.target, count, size.holdConcurrency) : { opened: 0, failed: 0, errors: [], ms: 0, progress: [] };
  const [rateFirst, rateLast] = tenthRates(hold.progress);
  log(`scale: ${t.what}: ${hold.opened} idle connections open in ${(hold.ms / 1000).toFixed(1)} s${hold.failed > 0 ? `, ${hold.failed} failed (${hold.errors.join('; ')})` : ''}`);
  try {
    await sleep(500); // let the last handshakes' timers and buffers settle
    const idleCpu = await cpuPercentsOver(procs.map((p) => () => p.sample(false)), size.idleWindowSeconds);
    const after = await Promise.all(procs.map((p) => p.sample(true)));
    const open = (await t.openCount()) ?? (await load.held());
    const n = Math.max(1, hold.opened);
    const runs: IdleRun[] = procs.map((p, i) => ({
      what: p.what,
      asked,
      opened: hold.opened,
      failed: hold.failed,
      open,
      openSeconds: hold.ms / 1000,
      openRateFirst: rateFirst,
      openRateLast: rateLast,
      closeSeconds: null,
      leftOpen: 0,
      before: before[i]!,
      after: after[i]!,
      rssPerConnection: (after[i]!.rss - before[i]!.rss) / n,
      heapExternalPerConnection: (after[i]!.heapUsed + after[i]!.external - (before[i]!.heapUsed + before[i]!.external)) / n,
      idleCpuPercent: idleCpu[i]!,
      errors: hold.errors,
      ...(capped ? { capped } : {}),
    }));
    if (hold.progress.length > 1) log(`scale: ${t.what}: opening rate ${rateFirst.toFixed(0)}/s over the first tenth, ${rateLast.toFixed(0)}/s over the last`);
    for (const run of runs) log(`scale: ${run.what}: ${open} open, ${(run.heapExternalPerConnection / 1024).toFixed(1)} KB heap+external and ${(run.rssPerConnection / 1024).toFixed(1)} KB RSS per connection, idle CPU ${run.idleCpuPercent.toFixed(1)}%`);
    await closeAndDrain(load, t, runs, log);
    return runs;
  } finally {
    await load.closeAll(); // on an error path; after closeAndDrain there is nothing left
  }
}

/** Closes what the load generator holds and times how long until it is gone everywhere (recorded in each of the set's runs). */
async function closeAndDrain(load: LoadGenerator, t: IdleTarget, runs: IdleRun[], log: (l: string) => void): Promise<void> {
  const run = runs[0]!;
  const t0 = performance.now();
  await load.closeAll();
  const timeoutMs = Math.min(DRAIN_CAP_MS, DRAIN_FLOOR_MS + DRAIN_PER_CONNECTION_MS * run.opened);
  run.leftOpen = await t.drain(timeoutMs);
  run.closeSeconds = run.leftOpen === 0 ? (performance.now() - t0) / 1000 : null;
  if (run.leftOpen > 0) log(`scale: ${t.what}: ${run.leftOpen} connections still open ${(timeoutMs / 1000).toFixed(0)} s after closing ${run.opened}`);
  else log(`scale: ${t.what}: ${run.opened} connections closed and gone in ${run.closeSeconds!.toFixed(1)} s`);
  for (const other of runs.slice(1)) Object.assign(other, { leftOpen: run.leftOpen, closeSeconds: run.closeSeconds });
}

async function measureBaseline(t: IdleTarget, size: ScaleSize): Promise<IdleRun[]> {
  const procs = measured(t);
  const idleCpu = await cpuPercentsOver(procs.map((p) => () => p.sample(false)), size.idleWindowSeconds);
  const samples = await Promise.all(procs.map((p) => p.sample(true)));
  const open = (await t.openCount()) ?? 0;
  return procs.map((p, i) => ({ what: p.what, asked: 0, opened: 0, failed: 0, open, openSeconds: 0, openRateFirst: NaN, openRateLast: NaN, closeSeconds: null, leftOpen: 0, before: samples[i]!, after: samples[i]!, rssPerConnection: NaN, heapExternalPerConnection: NaN, idleCpuPercent: idleCpu[i]!, errors: [] }));
}

async function measureChurn(
  load: LoadGenerator,
  what: string,
  target: HostPort,
  server: () => Promise<ProcessSample>,
  client: (() => Promise<ProcessSample>) | null,
  size: ScaleSize,
  log: (l: string) => void,
): Promise<ChurnRun> {
  if (size.churnWarmupSeconds > 0) {
    const w = await load.churn(target, size.churnWarmupSeconds, size.churnConcurrency);
    log(`scale: ${what}: warm-up ${w.completed} connections in ${w.seconds.toFixed(1)} s${w.failed > 0 ? `, ${w.failed} failed: ${w.errors.join('; ')}` : ''}`);
  }
  const [s0, c0] = await Promise.all([server(), client ? client() : null]);
  const t0 = performance.now();
  const r = await load.churn(target, size.churnSeconds, size.churnConcurrency);
  const [s1, c1] = await Promise.all([server(), client ? client() : null]);
  const wall = (performance.now() - t0) / 1000;
  const serverUs = cpuUs(s0, s1);
  const run: ChurnRun = {
    ...r,
    what,
    perSecond: r.completed / r.seconds,
    serverCpuPercent: serverUs / 1e4 / wall,
    serverCpuMsPerConnection: r.completed > 0 ? serverUs / 1000 / r.completed : NaN,
    clientCpuPercent: c0 && c1 ? cpuUs(c0, c1) / 1e4 / wall : null,
  };
  log(`scale: ${what}: ${run.perSecond.toFixed(0)} connections/s (${r.completed} in ${r.seconds.toFixed(1)} s, ${r.failed} failed${r.errors.length ? `: ${r.errors.join('; ')}` : ''}), server CPU ${run.serverCpuPercent.toFixed(0)}%`);
  return run;
}

async function measureTtfb(opts: SuiteOptions, size: ScaleSize): Promise<TtfbRun[]> {
  const rig = await startRig({ paths: [{ name: 'rtt20', local: '127.0.0.2', link: { delay: TTFB_ONE_WAY } }], tcpReferences: true, seed: opts.seed });
  try {
    const variants: Array<{ what: string; target: HostPort; samples: number[] }> = [
      { what: 'mptun: port forward → client → server → sink', target: rig.forward, samples: [] },
      { what: 'direct TCP to the sink over the same emulated path', target: rig.reference('rtt20'), samples: [] },
    ];
    // One unmeasured round each (first-use costs: JIT, the relay's first connect), then interleaved samples.
    for (const v of variants) (await openEchoed(v.target)).destroy();
    for (let i = 0; i < size.ttfbSamples; i++) {
      for (const v of variants) {
        const t0 = performance.now();
        const s = await openEchoed(v.target);
        v.samples.push(performance.now() - t0);
        s.destroy();
      }
    }
    return variants.map((v) => {
      const sorted = [...v.samples].sort((a, b) => a - b);
      const run = { what: v.what, samplesMs: v.samples, medianMs: percentile(sorted, 50), p90Ms: percentile(sorted, 90) };
      opts.log(`scale: time to first byte, ${v.what}: median ${run.medianMs.toFixed(1)} ms, p90 ${run.p90Ms.toFixed(1)} ms`);
      return run;
    });
  } finally {
    await rig.close();
  }
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const kb = (bytes: number): string => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : '—');
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—');

export async function runScale(opts: SuiteOptions, size: ScaleSize): Promise<SectionResult> {
  const limit = fdLimit();
  opts.log(`scale: open-file limit (ulimit -n) ${limit ?? 'unknown'}; idle sets of ${size.idleCounts.join(', ')}`);
  const most = Math.max(0, ...size.idleCounts);
  const idle: IdleRun[] = [];
  const churn: ChurnRun[] = [];
  const notes: string[] = [];

  const load = await startLoadGenerator();
  try {
    const tunnel = await startRig({
      transport: 'udp',
      paths: directPaths(['127.0.0.2']),
      emulate: false,
      // Room for every idle connection (the defaults are 1024 in all, 256 per client).
      serverLimits: { maxConnections: most + 1024, maxConnectionsPerClient: most + 1024 },
      serverExecArgv: ['--expose-gc'],
      clientExecArgv: ['--expose-gc'],
    });
    try {
      const server: IdleTarget = {
        what: 'mptun-server',
        target: tunnel.forward,
        sample: (gc) => tunnel.serverSample(gc),
        openCount: async () => (await tunnel.serverSample()).stats.open,
        // Gone from the server first, then from the client (its sample lists every connection: poll it slower).
        drain: async (timeoutMs) => {
          const t0 = performance.now();
          const onServer = await drained(async () => (await tunnel.serverSample()).stats.open, timeoutMs);
          const onClient = await drained(async () => (await tunnel.clientSample()).connections.length, Math.max(0, timeoutMs - (performance.now() - t0)), 500);
          const left = onServer + onClient + tunnel.sink.open;
          if (left > 0) opts.log(`scale: left open — server relays ${onServer}, client connections ${onClient}, sink sockets ${tunnel.sink.open}`);
          return left;
        },
        fdsPerConnection: 1,
        companion: { what: 'mptun-client', sample: (gc) => tunnel.clientMemory(gc) },
      };
      // Memory first, on a fresh process (RSS never shrinks much); connections per second after
      // the idle sets are closed and gone.
      idle.push(...(await measureBaseline(server, size)));
      for (const n of size.idleCounts) idle.push(...(await measureIdle(load, server, n, size, opts.log)));
      churn.push(await measureChurn(load, 'mptun: port forward → client → server → sink', tunnel.forward, () => tunnel.serverSample(), () => tunnel.clientSample(), size, opts.log));

      if (size.relayReference) {
        const relay = await startTcpRelay(tunnel.sink.address, ['--expose-gc']);
        try {
          // The sink's count covers the relay's connections now that the tunnel's are gone.
          const ref: IdleTarget = {
            what: 'plain Node TCP relay',
            target: relay.listen,
            sample: (gc) => relay.sample(gc),
            openCount: async () => null,
            drain: (timeoutMs) => drained(async () => tunnel.sink.open, timeoutMs),
            fdsPerConnection: 2,
          };
          if ((await ref.drain(DRAIN_FLOOR_MS)) > 0) opts.log('scale: connections of the churn loop still open at the sink');
          idle.push(...(await measureBaseline(ref, size)));
          for (const n of size.idleCounts) idle.push(...(await measureIdle(load, ref, n, size, opts.log)));
          churn.push(await measureChurn(load, 'plain Node TCP relay → sink', relay.listen, () => relay.sample(), null, size, opts.log));
        } finally {
          await relay.close();
        }
      }
    } finally {
      await tunnel.close();
    }
  } finally {
    await load.close();
  }

  const ttfb = await measureTtfb(opts, size);

  for (const r of idle) if (r.capped) notes.push(`${r.what}: ${r.capped}.`);
  const tables: Table[] = [
    {
      title: 'Idle connections: server and client memory and CPU',
      columns: ['process', 'idle connections', 'open', 'RSS (MB)', 'heap+external after GC (MB)', 'RSS per connection (KB)', 'heap+external per connection (KB)', 'CPU while idle (% of a core)', 'opening took (s)', 'opening rate, first → last tenth (conn/s)', 'closing took (s)'],
      rows: idle.map((r) => [
        r.what,
        r.asked === 0 ? 'none (baseline)' : r.opened === r.asked ? r.asked : `${r.opened} of ${r.asked}`,
        r.open,
        mb(r.after.rss),
        mb(r.after.heapUsed + r.after.external),
        kb(r.rssPerConnection),
        kb(r.heapExternalPerConnection),
        r.idleCpuPercent.toFixed(1),
        r.asked === 0 ? '—' : r.openSeconds.toFixed(1),
        r.asked === 0 ? '—' : `${r.openRateFirst.toFixed(0)} → ${r.openRateLast.toFixed(0)}`,
        r.asked === 0 ? '—' : r.closeSeconds !== null ? r.closeSeconds.toFixed(1) : `${r.leftOpen} still open`,
      ]),
      notes: [
        'Connections go load generator → port forward → mptun-client → mptun-server (sealed UDP, one path, no link emulator) → TCP sink; each is proven by one byte echoed end to end, then left idle.',
        'Opening: all of them, proven by their echo, at most ' + size.holdConcurrency + ' at once. Closing: the load generator closes them all at once; timed until none is left on the server, the client or the sink.',
        'Per connection: the growth since the sample taken just before opening them, divided by the connections opened. "open" is the server\'s own count (for the relay, the connections the load generator still held); the client\'s rows are measured over the same connections as the server\'s row above them.',
        `Reference: a plain Node TCP relay process holding the same connections to the same sink. The server's limits were raised to ${most + 1024} (defaults: 1024 in all, 256 per client).`,
        `Open-file limit (ulimit -n) of every process here: ${limit ?? 'unknown'}; the load generator runs in its own process so the measuring process only holds the sink's ends.`,
        ...notes,
      ],
    },
    {
      title: 'New connections per second',
      columns: ['what', 'connections/s', 'failed', 'median connect → echo (ms)', 'server CPU (% of a core)', 'server CPU per connection (ms)', 'client CPU (% of a core)'],
      rows: churn.map((r) => [r.what, Math.round(r.perSecond), r.failed, ms(r.medianMs), r.serverCpuPercent.toFixed(0), r.serverCpuMsPerConnection.toFixed(2), r.clientCpuPercent === null ? '—' : r.clientCpuPercent.toFixed(0)]),
      notes: [
        `Each connection: connect, send 'E' and one byte, wait for it to come back, close; ${size.churnConcurrency} in flight for ${size.churnSeconds} s, after ${size.churnWarmupSeconds} s of the same unmeasured. For the relay, "server" is the relay process.`,
        'Same path as the idle connections (port forward, sealed UDP, no link emulator), measured after they were closed and gone.',
      ],
    },
    {
      title: 'Time to first byte over a 20 ms RTT path',
      columns: ['what', 'median (ms)', 'p90 (ms)', 'min (ms)', 'max (ms)', 'samples'],
      rows: ttfb.map((r) => [r.what, ms(r.medianMs), ms(r.p90Ms), ms(Math.min(...r.samplesMs)), ms(Math.max(...r.samplesMs)), r.samplesMs.length]),
      notes: [
        `From connect() to the echoed byte, one fresh connection per sample, the two variants interleaved; the emulated path delays each direction by ${TTFB_ONE_WAY}.`,
        "mptun: the tunnel's path session is already up; the tunnel request rides the connection's first packet and the forward waits for the server's reply (one RTT), then the byte goes there and back (one more RTT).",
        "Direct: the link emulator's TCP relay accepts the handshake locally and only delays the bytes, so this figure is one RTT; a real TCP connection over such a path pays one more RTT for its handshake.",
      ],
    },
  ];
  const cdf: CdfPlot & Plot = {
    kind: 'cdf',
    file: 'scale-ttfb',
    title: 'Time to first byte over a 20 ms RTT path',
    xLabel: 'ms',
    yLabel: 'fraction of connections',
    series: ttfb.map((r) => ({ name: r.what.startsWith('mptun') ? 'mptun (port forward)' : 'direct TCP', samples: r.samplesMs })),
  };
  return { tables, plots: [cdf], data: { size, fdLimit: limit, idle, churn, ttfb } };
}

export const section: Section = {
  id: 'scale',
  title: '6. Scale',
  run: (opts) => runScale(opts, opts.quick ? QUICK_SCALE : FULL_SCALE),
};
