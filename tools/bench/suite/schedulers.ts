/**
 * Section "schedulers": every scheduler × congestion controller in the simulator on virtual
 * time (`pnpm bench --only schedulers`; docs/schedulers.md holds a run). Four cases (Wi-Fi +
 * LTE with light loss, very different RTTs, a blackholed primary, interactive requests beside
 * a bulk download), coupled congestion control through a shared bottleneck, and the targets
 * averaged over three seeds from `--seed` on. `--quick` shortens every duration fourfold and
 * averages over one seed (a smoke run; the figures are noisier).
 */
import { fixed, mbit, percent } from '../../src/sim/markdown.js';
import { describePath } from '../../src/sim/path-profile.js';
import { runSharedBottleneck } from '../../src/sim/shared-bottleneck.js';
import {
  CASE2_RECEIVE_BUFFER,
  FAR,
  LIGHT_LOSS,
  LTE,
  NEAR,
  WIFI,
  case1Spec,
  case2Spec,
  case3Spec,
  case4Spec,
  runHandover,
  runInteractive,
  runThroughput,
  type StackChoice,
  type ThroughputResult,
} from '../../src/sim/table-cases.js';
import type { Section, SectionResult, SuiteOptions, Table } from './types.js';

const SCHEDULERS = ['minrtt', 'roundrobin', 'redundant', 'backup', 'overflow', 'blest', 'ecf'];
const CONTROLLERS = ['reno', 'cubic', 'cubic-ld', 'lia', 'olia', 'balia', 'ledbat', 'bbr'];

/** Every scheduler with CUBIC and with LIA, then minRTT with the other controllers. */
const COMBOS: StackChoice[] = [
  ...SCHEDULERS.flatMap((scheduler) => ['cubic', 'lia'].map((cc) => ({ scheduler, cc }))),
  ...CONTROLLERS.filter((cc) => cc !== 'cubic' && cc !== 'lia').map((cc) => ({ scheduler: 'minrtt', cc })),
];

const label = (c: StackChoice): string => `${c.scheduler} + ${c.cc}`;

function throughputRow(c: StackChoice, r: ThroughputResult): string[] {
  const total = r.bytesPerPath.reduce((a, b) => a + b, 0);
  const perPath = r.bytesPerPath.map((b) => `${fixed(b / 1e6, 0)} (${percent(total > 0 ? b / total : NaN, 0)})`).join(' / ');
  return [
    c.scheduler,
    c.cc,
    mbit(r.goodputBps),
    percent(r.shareOfSum),
    percent(r.shareOfPayloadCapacity),
    fixed(r.p99DelayMs, 0),
    fixed(r.peakReceiveBuffer / 1024, 0),
    perPath,
    r.intact ? 'yes' : 'NO',
  ];
}

const THROUGHPUT_HEADERS = ['scheduler', 'cc', 'goodput Mbit/s', 'of link sum', 'of payload capacity', 'p99 delay ms', 'peak rcv buffer KiB', 'MB per path (share)', 'intact'];

const COMMON_NOTES = [
  'Virtual time; each run is one connection unless said otherwise. Goodput is what the receiving application read, over the measured stretch after a warm-up.',
  '"Of payload capacity" divides by what the links can carry after the 56 bytes of TCP/MPTCP headers on every 1200-byte segment (95.5% of the link rate). "p99 delay": 99th percentile of the time from a byte\'s first transmission to the application reading it, sampled every 16 KiB.',
  'Bytes per path count data payload on the wire, retransmissions and redundant copies included.',
];

async function run(opts: SuiteOptions): Promise<SectionResult> {
  const seed = opts.seed;
  const spreadSeeds = Array.from({ length: opts.quick ? 1 : 3 }, (_, i) => seed + i);
  const scale = opts.quick ? 0.25 : 1;
  const WARMUP_MS = 5000 * scale;
  const MEASURE_MS = 30_000 * scale;
  const INTERACTIVE_MS = 20_000 * scale;
  const tables: Table[] = [];
  const progress = opts.log;
  function timed<T>(what: string, fn: () => T): T {
    const t0 = process.cpuUsage();
    const r = fn();
    const c = process.cpuUsage(t0);
    progress(`schedulers: ${what}: ${((c.user + c.system) / 1e6).toFixed(1)} s CPU`);
    return r;
  }
  const combosNote = `Combinations: every scheduler with cubic and lia, and minrtt with every controller (${COMBOS.length}). Seed ${seed}.`;

  // ---- Case 1 ----
  const case1 = new Map<string, ThroughputResult>();
  const rows1 = COMBOS.map((c) => {
    const r = timed(`case 1, ${label(c)}`, () => runThroughput(case1Spec(c, seed, WARMUP_MS, MEASURE_MS)));
    case1.set(label(c), r);
    return throughputRow(c, r);
  });
  tables.push({
    title: '1. Wi-Fi + LTE, light loss',
    columns: THROUGHPUT_HEADERS,
    rows: rows1,
    notes: [
      `${describePath({ ...WIFI, loss: LIGHT_LOSS })} + ${describePath({ ...LTE, loss: LIGHT_LOSS })}; loss on the data direction.`,
      `Upload bulk; ${WARMUP_MS / 1000} s warm-up, ${MEASURE_MS / 1000} s measured. Link sum 70 Mbit/s.`,
      combosNote,
      ...COMMON_NOTES,
    ],
  });

  // Loss sensitivity for the default, with each path alone as the reference.
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const overSpread = (f: (s: number) => number): number => mean(spreadSeeds.map(f));
  const sweepRows: string[][] = [];
  for (const loss of [0, LIGHT_LOSS, 0.0005]) {
    const both = overSpread((s) => timed(`both, loss ${loss}, seed ${s}`, () => runThroughput(case1Spec({ scheduler: 'minrtt', cc: 'cubic' }, s, WARMUP_MS, MEASURE_MS, loss))).goodputBps);
    const alone = (p: typeof WIFI): number =>
      overSpread(
        (s) =>
          timed(`${p.label} alone, loss ${loss}, seed ${s}`, () =>
            runThroughput({ scheduler: 'minrtt', cc: 'cubic', seed: s, paths: [{ ...p, loss }], warmupMs: WARMUP_MS, measureMs: MEASURE_MS }),
          ).goodputBps,
      );
    const wifi = alone(WIFI);
    const lte = alone(LTE);
    sweepRows.push([percent(loss, 2), mbit(both), percent(both / 70e6), mbit(wifi), mbit(lte), percent(both / (wifi + lte))]);
  }
  tables.push({
    title: '1b. Loss sensitivity, minrtt + cubic, against one connection on each path alone',
    columns: ['loss', 'MPTCP Mbit/s', 'of link sum', 'Wi-Fi alone', 'LTE alone', 'MPTCP / sum alone'],
    rows: sweepRows,
    notes: [`Same loss, same stack on each path alone; means over seeds ${spreadSeeds.join(', ')}.`],
  });

  // ---- Case 2 ----
  const case2 = new Map<string, ThroughputResult>();
  const rows2 = COMBOS.map((c) => {
    const r = timed(`case 2, ${label(c)}`, () => runThroughput(case2Spec(c, seed, WARMUP_MS, MEASURE_MS)));
    case2.set(label(c), r);
    return throughputRow(c, r);
  });
  tables.push({
    title: '2. Very different RTTs, 2 MiB receive buffer',
    columns: THROUGHPUT_HEADERS,
    rows: rows2,
    notes: [
      `${describePath(NEAR)} + ${describePath(FAR)}; receive buffer ${CASE2_RECEIVE_BUFFER / 1024 / 1024} MiB.`,
      `Upload bulk; ${WARMUP_MS / 1000} s warm-up, ${MEASURE_MS / 1000} s measured. Link sum 40 Mbit/s.`,
    ],
  });

  // ---- Case 3 ----
  const spec3 = case3Spec({ scheduler: 'minrtt', cc: 'cubic' }, seed);
  const case3 = new Map<string, ReturnType<typeof runHandover>>();
  const rows3 = COMBOS.map((c) => {
    const r = timed(`case 3, ${label(c)}`, () => runHandover(case3Spec(c, seed)));
    case3.set(label(c), r);
    return [
      c.scheduler,
      c.cc,
      percent(r.backupShareBefore, 2),
      fixed(r.resumeAfterMs, 0),
      fixed(r.longestStallMs, 0),
      mbit(r.goodputAfterBps),
      r.complete && r.intact ? 'yes' : `NO (${fixed(r.bytesRead / 1e6, 1)} of ${fixed(r.bytesWritten / 1e6, 1)} MB)`,
    ];
  });
  const both3 = timed('case 3, minrtt + cubic, no backup flag', () => runHandover(case3Spec({ scheduler: 'minrtt', cc: 'cubic' }, seed, false)));
  tables.push({
    title: '3. Handover: the primary path blackholes',
    columns: ['scheduler', 'cc', 'backup share before', 'bytes again after ms', 'longest stall ms', 'goodput after Mbit/s', 'all delivered, byte-exact'],
    rows: rows3,
    notes: [
      `Primary ${describePath(spec3.primary)}; backup ${describePath(spec3.backup)}, joined with the MP_JOIN backup flag.`,
      `Upload bulk; at ${spec3.failAtMs / 1000} s both directions of the primary go down for good (queued and in-flight packets lost); the writer goes on ${spec3.writeAfterMs / 1000} s more, then half-closes, and the run waits for every byte.`,
      '"Bytes again after": from the failure to the end of the interruption it caused (the first silence ≥ 50 ms at the reader starting within 500 ms of it). "Longest stall": the longest silence in the 5 s after the failure.',
      `Without the backup flag (both paths carry data, minrtt + cubic): LTE carried ${percent(both3.backupShareBefore)} before the failure; ` +
        `bytes again after ${fixed(both3.resumeAfterMs, 0)} ms, longest stall ${fixed(both3.longestStallMs, 0)} ms, ` +
        `${mbit(both3.goodputAfterBps)} Mbit/s after, all delivered: ${both3.complete && both3.intact ? 'yes' : 'NO'}.`,
    ],
  });

  // ---- Case 4 ----
  const spec4 = case4Spec({ scheduler: 'minrtt', cc: 'cubic' }, seed, INTERACTIVE_MS);
  const case4 = new Map<string, ReturnType<typeof runInteractive>>();
  const rows4 = COMBOS.map((c) => {
    const r = timed(`case 4, ${label(c)}`, () => runInteractive(case4Spec(c, seed, INTERACTIVE_MS)));
    case4.set(label(c), r);
    return [
      c.scheduler,
      c.cc,
      `${r.answered}/${r.requests}`,
      fixed(r.p50LatencyMs, 1),
      fixed(r.p99LatencyMs, 1),
      fixed(r.p99LatencyMs / r.bestBaseRttMs, 2),
      fixed(r.bestLoadedRttMs, 1),
      fixed(r.p99OverLoadedRtt, 2),
      mbit(r.bulkGoodputBps),
    ];
  });
  tables.push({
    title: '4. Interactive requests beside a bulk download',
    columns: ['scheduler', 'cc', 'answered', 'p50 ms', 'p99 ms', 'p99 / base RTT (20 ms)', 'loaded RTT ms', 'p99 / loaded RTT', 'bulk Mbit/s'],
    rows: rows4,
    notes: [
      `The case-1 paths (loss on the download direction). Connection A downloads in bulk; connection B, between the same two endpoints and over the same links, sends a ${spec4.requestBytes}-byte request every ${spec4.intervalMs} ms and the server answers each with ${spec4.responseBytes} bytes; ${INTERACTIVE_MS / 1000} s of requests after a ${spec4.startMs / 1000} s head start.`,
      'Latency: request written → whole response read. "Loaded RTT": the fastest path\'s propagation RTT plus the time to drain its queues (both ways) when a request is written, what any packet would have waited; its median is shown, and "p99 / loaded RTT" is the 99th percentile over requests of latency ÷ that request\'s loaded RTT.',
    ],
  });

  // ---- Coupled congestion control on a shared bottleneck ----
  const sharedRows: string[][] = [];
  for (const [mptcpCc, subflows, competitorCc, queueMs] of [
    ['lia', 2, 'cubic', 20],
    ['olia', 2, 'cubic', 20],
    ['balia', 2, 'cubic', 20],
    ['cubic', 2, 'cubic', 20],
    ['reno', 2, 'reno', 20],
    ['lia', 2, 'reno', 20],
    ['ledbat', 1, 'cubic', 20],
    ['ledbat', 1, 'cubic', 100],
  ] as const) {
    const r = timed(`${mptcpCc} ×${subflows} vs ${competitorCc}, ${queueMs} ms queue`, () =>
      runSharedBottleneck({
        seed,
        mptcpCc,
        mptcpSubflows: subflows,
        competitorCc,
        bottleneck: { rateBps: 50e6, delayMs: 5, queue: { ms: queueMs } },
        accessDelaysMs: subflows === 2 ? [5, 10, 5] : [5, 5],
        warmupMs: WARMUP_MS,
        measureMs: MEASURE_MS,
      }),
    );
    sharedRows.push([`${mptcpCc}, ${subflows} subflow${subflows > 1 ? 's' : ''}`, competitorCc, `${queueMs}`, mbit(r.mptcpBps), mbit(r.competitorBps), fixed(r.shareOverFair, 2), percent(r.utilization)]);
  }
  tables.push({
    title: 'Coupled congestion control through one shared bottleneck',
    columns: ['multipath connection', 'competitor', 'queue ms', 'its Mbit/s', "competitor's Mbit/s", 'share / fair', 'link used'],
    rows: sharedRows,
    notes: [
      'A two-subflow connection whose subflows both cross one 50 Mbit/s link (5 ms; access delays 5 and 10 ms) against a one-subflow connection through the same link. "Share / fair": the multipath connection\'s goodput over half of the two connections\' total.',
      `${WARMUP_MS / 1000} s warm-up, ${MEASURE_MS / 1000} s measured. LEDBAT also runs behind a 100 ms queue: its delay signal needs a queue longer than its 60 ms target.`,
    ],
  });

  // ---- Targets ----
  const verdict = (ok: boolean): string => (ok ? 'met' : 'not met');
  /** The table's own run for the first seed, fresh runs for the others. */
  function overSeeds<T>(cached: T, runOne: (s: number) => T, what: string): T[] {
    return spreadSeeds.map((s) => (s === seed ? cached : timed(`${what}, seed ${s}`, () => runOne(s))));
  }
  const range = (xs: readonly number[], f: (v: number) => string): string => `${f(mean(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  const def = { scheduler: 'minrtt', cc: 'cubic' };
  const t1 = overSeeds(case1.get('minrtt + cubic')!, (s) => runThroughput(case1Spec(def, s, WARMUP_MS, MEASURE_MS)), 'case 1');
  const t2b = overSeeds(case2.get('blest + cubic')!, (s) => runThroughput(case2Spec({ scheduler: 'blest', cc: 'cubic' }, s, WARMUP_MS, MEASURE_MS)), 'case 2 blest');
  const t2e = overSeeds(case2.get('ecf + cubic')!, (s) => runThroughput(case2Spec({ scheduler: 'ecf', cc: 'cubic' }, s, WARMUP_MS, MEASURE_MS)), 'case 2 ecf');
  const t3 = overSeeds(case3.get('minrtt + cubic')!, (s) => runHandover(case3Spec(def, s)), 'case 3');
  const t4 = overSeeds(case4.get('minrtt + cubic')!, (s) => runInteractive(case4Spec(def, s, INTERACTIVE_MS)), 'case 4');
  const share1 = t1.map((r) => r.shareOfSum);
  const share2 = [mean(t2b.map((r) => r.shareOfSum)), mean(t2e.map((r) => r.shareOfSum))];
  const resume3 = t3.map((r) => r.resumeAfterMs);
  const backup3 = t3.map((r) => r.backupShareBefore);
  const base4 = t4.map((r) => r.p99LatencyMs / r.bestBaseRttMs);
  const loaded4 = t4.map((r) => r.p99OverLoadedRtt);
  const ms = (v: number): string => `${fixed(v, 0)} ms`;
  const times = (v: number): string => `${fixed(v, 2)}×`;
  tables.push({
    title: 'Targets',
    columns: ['target', 'mean (min–max)', 'verdict'],
    rows: [
      ['case 1, minrtt + cubic ≥ 95% of the link sum', range(share1, (v) => percent(v)), verdict(mean(share1) >= 0.95)],
      ['case 1, minrtt + cubic, of the payload capacity', range(t1.map((r) => r.shareOfPayloadCapacity), (v) => percent(v)), ''],
      ['case 2, BLEST ≥ 90% of the link sum (cubic)', range(t2b.map((r) => r.shareOfSum), (v) => percent(v)), verdict(share2[0]! >= 0.9)],
      ['case 2, ECF ≥ 90% of the link sum (cubic)', range(t2e.map((r) => r.shareOfSum), (v) => percent(v)), verdict(share2[1]! >= 0.9)],
      ['case 3, minrtt + cubic: bytes again within 1 s', range(resume3, ms), verdict(Math.max(...resume3) <= 1000)],
      ['case 3: longest stall', range(t3.map((r) => r.longestStallMs), ms), ''],
      ['case 3: nothing lost', t3.every((r) => r.complete && r.intact) ? 'all delivered' : 'bytes missing', verdict(t3.every((r) => r.complete && r.intact))],
      ['case 3: backup share before the failure < 1%', range(backup3, (v) => percent(v, 2)), verdict(Math.max(...backup3) < 0.01)],
      ["case 4, minrtt + cubic: p99 ≤ 1.5 × best path's base RTT", range(base4, times), verdict(Math.max(...base4) <= 1.5)],
      ['case 4: p99 of latency / its loaded RTT ≤ 1.5', range(loaded4, times), verdict(Math.max(...loaded4) <= 1.5)],
    ],
    notes: [`Over seeds ${spreadSeeds.join(', ')}; case 2 is met when BLEST or ECF is.`],
  });
  return { tables, plots: [], data: { seed, seeds: spreadSeeds, quick: opts.quick, tables } };
}

export const section: Section = {
  id: 'schedulers',
  title: '9. Schedulers × congestion control, simulated',
  run,
};
