/**
 * Section 4, latency under load: 1 KB request → 1 KB response round trips on one tunnel
 * connection while another connection runs a bulk download over the same paths, per
 * scheduler and profile pair. References measured in the same run: the same round trips
 * with no bulk transfer (idle), and each path's own round trip over plain TCP.
 */
import type net from 'node:net';
import { linkProfiles, type LinkProfileName } from '@mptun/sim';
import { connectTcp, SinkCommand, startRig, type Rig, type RigPath } from '../rig/index.js';
import { echoer, type EchoResult } from './latency-echo.js';
import { summarize, type LatencySummary } from './latency-stats.js';
import { parseStack, withStacks } from './stack.js';
import type { Plot, Section, SectionResult, SuiteOptions, Table } from './types.js';

/** Two paths: wifi plus a slower second one. */
export type ProfilePair = 'wifi+lte' | 'wifi+3g';

const PAIRS: Record<ProfilePair, RigPath[]> = {
  'wifi+lte': [
    { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi' } },
    { name: 'lte', local: '127.0.0.3', link: { profile: 'lte' } },
  ],
  'wifi+3g': [
    { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi' } },
    { name: '3g', local: '127.0.0.3', link: { profile: '3g' } },
  ],
};

export const REQUEST_BYTES = 1024;

export interface LatencyPlan {
  /** The first also measures the idle reference and the paths' base RTT. */
  schedulers: string[];
  pairs: ProfilePair[];
  /** Round trips measured per case. */
  seconds: number;
  /** Round trips before measuring: the bulk download ramps up meanwhile (idle: half of it). */
  warmupMs: number;
  /** Round trips per path over its plain TCP relay, for the base RTT (0: skip). */
  baseRttMs: number;
}

export const LATENCY_QUICK: LatencyPlan = { schedulers: ['minrtt', 'blest', 'redundant'], pairs: ['wifi+lte'], seconds: 4, warmupMs: 1000, baseRttMs: 1000 };
export const LATENCY_FULL: LatencyPlan = { schedulers: ['minrtt', 'blest', 'redundant', 'ecf', 'roundrobin', 'minrtt+bbr'], pairs: ['wifi+lte', 'wifi+3g'], seconds: 8, warmupMs: 1000, baseRttMs: 1000 };
/** A few seconds in all, for the smoke test. */
export const LATENCY_SMOKE: LatencyPlan = { schedulers: ['minrtt'], pairs: ['wifi+lte'], seconds: 0.7, warmupMs: 300, baseRttMs: 200 };

interface Case {
  pair: ProfilePair;
  scheduler: string;
  load: 'idle' | 'bulk';
  summary: LatencySummary;
  timeouts: number;
  /** Goodput of the bulk download while the round trips ran (bit/s); null when idle. */
  bulkBps: number | null;
  rttsMs: number[];
}

interface BaseRtt {
  pair: ProfilePair;
  path: string;
  configuredMs: number;
  summary: LatencySummary;
}

const fmt = (ms: number): string => (Number.isNaN(ms) ? '-' : ms.toFixed(1));

export async function runLatency(opts: SuiteOptions, plan: LatencyPlan): Promise<SectionResult> {
  const cases: Case[] = [];
  const baseRtts: BaseRtt[] = [];
  for (const pair of plan.pairs) {
    for (const [i, scheduler] of plan.schedulers.entries()) {
      const first = i === 0;
      const rig = await startRig({ paths: PAIRS[pair], ...parseStack(scheduler), seed: opts.seed, tcpReferences: first && plan.baseRttMs > 0 });
      try {
        if (first && plan.baseRttMs > 0) {
          for (const path of PAIRS[pair]) {
            const echo = echoer(await connectTcp(rig.reference(path.name)), REQUEST_BYTES);
            try {
              const r = await echo.run(plan.baseRttMs);
              const profile = linkProfiles[path.link.profile as LinkProfileName];
              baseRtts.push({ pair, path: path.name, configuredMs: 2 * (profile.delayMs ?? 0), summary: summarize(r.rttsMs) });
            } finally {
              echo.close();
            }
          }
        }
        if (first) cases.push(await idleCase(rig, pair, scheduler, plan));
        cases.push(await loadedCase(rig, pair, scheduler, plan));
      } finally {
        await rig.close();
      }
      for (const c of cases.filter((x) => x.pair === pair && x.scheduler === scheduler)) {
        const s = c.summary;
        opts.log(`latency ${pair} ${scheduler} ${c.load}: p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms (${s.count} round trips${c.bulkBps !== null ? `, bulk ${(c.bulkBps / 1e6).toFixed(1)} Mbit/s` : ''})`);
      }
    }
  }
  return report(cases, baseRtts, plan);
}

async function idleCase(rig: Rig, pair: ProfilePair, scheduler: string, plan: LatencyPlan): Promise<Case> {
  const echo = echoer(await connectTcp(rig.forward), REQUEST_BYTES);
  try {
    await echo.run(plan.warmupMs / 2);
    return toCase(pair, scheduler, 'idle', await echo.run(plan.seconds * 1000), null);
  } finally {
    echo.close();
  }
}

async function loadedCase(rig: Rig, pair: ProfilePair, scheduler: string, plan: LatencyPlan): Promise<Case> {
  const echo = echoer(await connectTcp(rig.forward), REQUEST_BYTES);
  let bulk: net.Socket | null = null;
  try {
    bulk = await connectTcp(rig.forward);
    let got = 0;
    bulk.on('data', (d: Buffer) => (got += d.length));
    bulk.on('error', () => {});
    bulk.write(Buffer.from([SinkCommand.stream]));
    await echo.run(plan.warmupMs);
    const b0 = got;
    const t0 = performance.now();
    const result = await echo.run(plan.seconds * 1000);
    const bulkBps = ((got - b0) * 8000) / (performance.now() - t0);
    return toCase(pair, scheduler, 'bulk', result, bulkBps);
  } finally {
    echo.close();
    bulk?.destroy();
  }
}

function toCase(pair: ProfilePair, scheduler: string, load: Case['load'], r: EchoResult, bulkBps: number | null): Case {
  return { pair, scheduler, load, summary: summarize(r.rttsMs), timeouts: r.timeouts, bulkBps, rttsMs: r.rttsMs };
}

function report(cases: Case[], baseRtts: BaseRtt[], plan: LatencyPlan): SectionResult {
  const label = (c: Case): string => (c.load === 'idle' ? `idle (${c.scheduler}, no bulk)` : c.scheduler);
  const table: Table = {
    title: `${REQUEST_BYTES} B request/response round trips while another connection downloads in bulk`,
    columns: ['profiles', 'scheduler', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'round trips', 'bulk Mbit/s'],
    rows: cases.map((c) => [
      c.pair,
      label(c),
      fmt(c.summary.p50),
      fmt(c.summary.p90),
      fmt(c.summary.p99),
      fmt(c.summary.max),
      c.summary.count + (c.timeouts > 0 ? ` (stopped: one took > 5 s)` : ''),
      c.bulkBps === null ? '-' : (c.bulkBps / 1e6).toFixed(1),
    ]),
    notes: [
      `Each case: ${plan.seconds} s of back-to-back round trips through the port forward to the sink's echo, after ${plan.warmupMs} ms of warm-up (the bulk download ramps up meanwhile); both connections are tunnelled over both paths.`,
      `Idle: the same round trips with no bulk transfer, on the ${plan.schedulers[0]} rig.`,
      ...baseRtts.map((b) => `${b.pair}: ${b.path} base RTT ${b.configuredMs} ms configured; plain TCP over that link alone, same ${REQUEST_BYTES} B round trips idle: p50 ${fmt(b.summary.p50)} ms, min ${fmt(b.summary.min)} ms.`),
    ],
  };
  const plots: Plot[] = plan.pairs.map((pair) => ({
    kind: 'cdf',
    file: `latency-${pair.replace('+', '-')}`,
    title: `${REQUEST_BYTES} B round trips under bulk load, ${pair}`,
    xLabel: 'round-trip time (ms)',
    yLabel: 'fraction of round trips',
    series: cases.filter((c) => c.pair === pair).map((c) => ({ name: label(c), samples: c.rttsMs })),
  }));
  return { tables: [table], plots, data: { plan, requestBytes: REQUEST_BYTES, baseRtts, cases } };
}

export const section: Section = {
  id: 'latency',
  title: '4. Latency under load',
  run: (opts) => runLatency(opts, withStacks(opts.quick ? LATENCY_QUICK : LATENCY_FULL, opts.stacks)),
};
