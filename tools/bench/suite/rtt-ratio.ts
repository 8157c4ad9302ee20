/**
 * Section 2, very different RTTs: a 20 ms path beside a 200 ms one, no loss. Per scheduler,
 * the download goodput and how many out-of-order bytes the client had to hold at once while
 * the fast path waited for the slow one — beside the short path alone (mptun, plain TCP).
 */
import { startRig, type Rig, type RigPath } from '../rig/index.js';
import { measureBulk } from './aggregation-measure.js';
import { AGGREGATING_SCHEDULERS, mbit, wireEfficiency, rttRatioPlots, rttRatioTables, type PathDescription, type RttRatioData, type SchedulerRun } from './aggregation-report.js';
import type { Section, SectionResult } from './types.js';

/** 20 ms RTT: 10 ms each way, 50 Mbit/s, a 50 ms queue. */
const SHORT_RATE_BPS = 50e6;
const SHORT: RigPath = { name: 'short', local: '127.0.0.2', link: { rate: SHORT_RATE_BPS, delay: '10ms', queue: '50ms' } };
/** 200 ms RTT: 100 ms each way, 20 Mbit/s, a 200 ms queue. */
const LONG_RATE_BPS = 20e6;
const LONG: RigPath = { name: 'long', local: '127.0.0.3', link: { rate: LONG_RATE_BPS, delay: '100ms', queue: '200ms' } };

export interface RttRatioPlan {
  schedulers: string[];
  seconds: number;
  /** Long enough for slow start on the 200 ms path to reach its share. */
  warmupSeconds: number;
  /** Plain TCP over the short path too (full mode: quick mode spends that time on warm-up). */
  tcpReference: boolean;
}

export function rttRatioPlan(quick: boolean): RttRatioPlan {
  const schedulers = ['minrtt', 'roundrobin', 'redundant', 'blest', 'ecf'];
  return quick ? { schedulers, seconds: 3, warmupSeconds: 2, tcpReference: false } : { schedulers, seconds: 10, warmupSeconds: 3, tcpReference: true };
}

export interface RttRatioOptions {
  seed: number;
  quick?: boolean;
  log?: (line: string) => void;
  schedulers?: string[];
  seconds?: number;
  warmupSeconds?: number;
  /** Measure the short path alone (default true), and plain TCP on it (default: the plan's). */
  singlePath?: boolean;
  tcpReference?: boolean;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

export async function runRttRatio(o: RttRatioOptions): Promise<SectionResult> {
  const log = o.log ?? (() => {});
  const base = rttRatioPlan(o.quick ?? false);
  const plan: RttRatioPlan = { schedulers: o.schedulers ?? base.schedulers, seconds: o.seconds ?? base.seconds, warmupSeconds: o.warmupSeconds ?? base.warmupSeconds, tcpReference: o.tcpReference ?? base.tcpReference };
  const window = { seconds: plan.seconds, warmupSeconds: plan.warmupSeconds };
  const paths = [SHORT, LONG];
  const described: PathDescription[] = [
    { name: SHORT.name, local: SHORT.local, link: { ...SHORT.link }, rateBps: SHORT_RATE_BPS },
    { name: LONG.name, local: LONG.local, link: { ...LONG.link }, rateBps: LONG_RATE_BPS },
  ];
  const data: RttRatioData = {
    seed: o.seed,
    quick: o.quick ?? false,
    seconds: plan.seconds,
    warmupSeconds: plan.warmupSeconds,
    paths: described,
    sumBps: SHORT_RATE_BPS + LONG_RATE_BPS,
    wireEfficiency: null,
    headersCeilingBps: null,
    single: null,
    runs: [],
  };

  if (o.singlePath !== false) {
    const single: NonNullable<RttRatioData['single']> = { path: SHORT.name, mptun: null, ...(plan.tcpReference ? { tcp: null } : {}) };
    data.single = single;
    let rig: Rig | undefined;
    try {
      log(`rtt-ratio: ${SHORT.name} path alone (mptun${plan.tcpReference ? ', plain TCP' : ''})`);
      rig = await startRig({ paths: [SHORT], scheduler: 'minrtt', seed: o.seed, tcpReferences: plan.tcpReference });
      single.mptun = await measureBulk(rig, { direction: 'download', route: { kind: 'tunnel' }, ...window, settle: plan.tcpReference });
      log(`  mptun download ${mbit(single.mptun.goodputBps)} Mbit/s`);
      data.wireEfficiency = wireEfficiency(single.mptun, [SHORT.name]);
      if (data.wireEfficiency != null) data.headersCeilingBps = data.sumBps * data.wireEfficiency;
      if (plan.tcpReference) {
        single.tcp = await measureBulk(rig, { direction: 'download', route: { kind: 'reference', path: SHORT.name }, ...window, settle: false });
        log(`  plain TCP download ${mbit(single.tcp.goodputBps)} Mbit/s`);
      }
    } catch (e) {
      single.error = errorText(e);
      log(`  failed: ${single.error}`);
    } finally {
      await rig?.close();
    }
  }

  for (const scheduler of plan.schedulers) {
    const run: SchedulerRun = { scheduler, aggregating: AGGREGATING_SCHEDULERS.has(scheduler), download: null, upload: null };
    data.runs.push(run);
    let rig: Rig | undefined;
    try {
      rig = await startRig({ paths, scheduler, seed: o.seed });
      run.download = await measureBulk(rig, { direction: 'download', route: { kind: 'tunnel' }, ...window, settle: false });
      const w = run.download;
      log(`rtt-ratio: ${scheduler} download ${mbit(w.goodputBps)} Mbit/s (links ${SHORT.name} ${mbit(w.linkBps[SHORT.name] ?? 0)} + ${LONG.name} ${mbit(w.linkBps[LONG.name] ?? 0)}), receive-buffer peak ${Math.round((w.peakReceiveBuffered ?? 0) / 1024)} KiB`);
    } catch (e) {
      run.error = errorText(e);
      log(`rtt-ratio: ${scheduler} failed: ${run.error}`);
    } finally {
      await rig?.close();
    }
  }

  return { tables: rttRatioTables(data), plots: rttRatioPlots(data), data };
}

export const section: Section = {
  id: 'rtt-ratio',
  title: '2. Very different RTTs',
  run: (opts) => runRttRatio({ seed: opts.seed, quick: opts.quick, log: opts.log }),
};
