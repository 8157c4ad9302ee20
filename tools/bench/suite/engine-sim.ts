/**
 * Section "engine": the engine alone in the simulator, on virtual time
 * (`pnpm bench --only engine`). Goodput of one connection over two emulated paths as a share
 * of their sum, per congestion controller, and the CPU the engine costs per simulated bit.
 * Figures only. `--quick` measures 10 s of virtual time per row instead of 60 s, and a
 * quarter to a twentieth of the CPU-cost runs.
 */
import type { PathProfile } from '../../src/sim/path-profile.js';
import { runThroughput, type ThroughputSpec } from '../../src/sim/table-cases.js';
import type { Section, SectionResult, SuiteOptions, Table } from './types.js';

// 50 Mbit/s with a 20 ms RTT and 20 Mbit/s with a 60 ms RTT, a queue of about one BDP each.
const WIFI: PathProfile = { label: 'wifi', rateBps: 50e6, rttMs: 20, queueMs: 40 };
const LTE: PathProfile = { label: 'lte', rateBps: 20e6, rttMs: 60, queueMs: 60 };
const LOSSY = [{ ...WIFI, loss: 0.001 }, { ...LTE, loss: 0.005 }];

const ROWS: Array<{ label: string; paths: PathProfile[]; cc: string }> = [
  { label: '50M/20ms + 20M/60ms, no loss', paths: [WIFI, LTE], cc: 'cubic' },
  { label: '50M/20ms 0.1% + 20M/60ms 0.5%', paths: LOSSY, cc: 'cubic' },
  { label: '50M/20ms 0.1% + 20M/60ms 0.5%', paths: LOSSY, cc: 'reno' },
  { label: '50M/20ms 0.1% + 20M/60ms 0.5%', paths: LOSSY, cc: 'bbr' },
  { label: '50M/20ms + 20M/60ms, no loss', paths: [WIFI, LTE], cc: 'bbr' },
  { label: '50M/20ms 0.1% alone', paths: [LOSSY[0]!], cc: 'cubic' },
  { label: '20M/60ms 0.5% alone', paths: [LOSSY[1]!], cc: 'cubic' },
  { label: '40M + 20M, no delay, no loss', paths: [{ label: 'a', rateBps: 40e6, rttMs: 1, queueMs: 20 }, { label: 'b', rateBps: 20e6, rttMs: 1, queueMs: 20 }], cc: 'cubic' },
];

/** The CPU-cost row: one connection over two clean 5 Gbit/s paths, big buffers, so only the engine and the simulator work. */
export function costSpec(seed: number, mss: number, measureMs: number): ThroughputSpec {
  return {
    seed,
    scheduler: 'minrtt',
    cc: 'cubic',
    warmupMs: 0,
    measureMs,
    mss,
    receiveBuffer: 16 * 1024 * 1024,
    sendBuffer: 16 * 1024 * 1024,
    paths: [
      { label: 'a', rateBps: 5e9, rttMs: 2, queueMs: 5 },
      { label: 'b', rateBps: 5e9, rttMs: 4, queueMs: 5 },
    ],
  };
}

function cpuSecondsOf(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / 1e6;
}

async function run(opts: SuiteOptions): Promise<SectionResult> {
  const seconds = opts.quick ? 10 : 60;
  const goodput: Array<{ label: string; cc: string; goodputBps: number; shareOfSum: number; bytesPerPath: number[]; cpuSeconds: number }> = [];
  for (const row of ROWS) {
    let r: ReturnType<typeof runThroughput> | undefined;
    const cpuSeconds = cpuSecondsOf(() => {
      r = runThroughput({ seed: opts.seed, paths: row.paths, warmupMs: 0, measureMs: seconds * 1000, scheduler: 'minrtt', cc: row.cc });
    });
    goodput.push({ label: row.label, cc: row.cc, goodputBps: r!.goodputBps, shareOfSum: r!.shareOfSum, bytesPerPath: r!.bytesPerPath, cpuSeconds });
    opts.log(`engine: ${row.label}, ${row.cc}: ${(r!.goodputBps / 1e6).toFixed(1)} Mbit/s`);
  }
  // CPU cost: fast, clean links, so the engine (both endpoints) and the simulator are all that run.
  const cost: Array<{ mss: number; gbit: number; cpuSeconds: number }> = [];
  for (const mss of [1200, 16000]) {
    // Virtual seconds: a simulated 10 Gbit/s costs tens of CPU-seconds per second here.
    const measured = opts.quick ? (mss > 2000 ? 0.5 : 0.25) : mss > 2000 ? 10 : 4;
    let r: ReturnType<typeof runThroughput> | undefined;
    const cpuSeconds = cpuSecondsOf(() => {
      r = runThroughput(costSpec(opts.seed, mss, measured * 1000));
    });
    cost.push({ mss, gbit: (r!.goodputBps * measured) / 1e9, cpuSeconds });
  }
  const tables: Table[] = [
    {
      title: `Goodput of one connection, ${seconds} s bulk in virtual time, minRTT`,
      columns: ['paths', 'cc', 'goodput Mbit/s', 'share of capacity', 'MB per path', 'CPU s'],
      rows: goodput.map((g) => [g.label, g.cc, (g.goodputBps / 1e6).toFixed(1), `${(100 * g.shareOfSum).toFixed(1)}%`, g.bytesPerPath.map((b) => (b / 1e6).toFixed(0)).join(' / '), g.cpuSeconds.toFixed(1)]),
      notes: ['Loss on the data direction. Every byte read is checked against what was written.'],
    },
    {
      title: 'Engine CPU cost: one connection, two clean 5 Gbit/s subflows, both endpoints plus the simulator on one core',
      columns: ['segment payload', 'simulated Gbit moved', 'CPU s', 'simulated Gbit/s per CPU-second'],
      rows: cost.map((c) => [c.mss, c.gbit.toFixed(2), c.cpuSeconds.toFixed(2), (c.gbit / c.cpuSeconds).toFixed(2)]),
    },
  ];
  return { tables, plots: [], data: { seconds, goodput, cost } };
}

export const section: Section = {
  id: 'engine',
  title: '8. The engine in the simulator',
  run,
};
