/**
 * Section 1, aggregation: bulk download and upload through mptun over wifi + lte, per
 * scheduler, beside the sum of the two capacities, the best single path alone through
 * mptun, and plain TCP over that path's emulated link — all measured in the same run.
 */
import { linkProfiles } from '@mptun/sim';
import { startRig, type Rig, type RigPath } from '../rig/index.js';
import { measureBulk, type BulkWindow } from './aggregation-measure.js';
import { AGGREGATING_SCHEDULERS, aggregationPlots, aggregationTables, mbit, wireEfficiency, type AggregationData, type PathDescription, type SchedulerRun } from './aggregation-report.js';
import { parseStack } from './stack.js';
import type { Section, SectionResult } from './types.js';

const WIFI: RigPath = { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi' } };
const LTE: RigPath = { name: 'lte', local: '127.0.0.3', link: { profile: 'lte' } };

export interface AggregationPlan {
  schedulers: string[];
  /** Measured seconds per transfer, after `warmupSeconds`. */
  seconds: number;
  warmupSeconds: number;
}

/**
 * Quick: the five aggregating schedulers, short windows. Full: all seven, long windows. Both
 * add minRTT with both paths over WebSocket ("minrtt@ws"), where the subflows' windows come
 * from the carrier rather than from congestion control of their own.
 */
export function aggregationPlan(quick: boolean): AggregationPlan {
  return quick
    ? { schedulers: ['minrtt', 'roundrobin', 'blest', 'ecf', 'redundant', 'minrtt+bbr', 'minrtt@ws'], seconds: 3, warmupSeconds: 1 }
    : { schedulers: ['minrtt', 'roundrobin', 'redundant', 'blest', 'ecf', 'overflow', 'backup', 'minrtt+bbr', 'ecf+bbr', 'minrtt@ws'], seconds: 10, warmupSeconds: 2 };
}

export interface AggregationOptions {
  seed: number;
  quick?: boolean;
  log?: (line: string) => void;
  /** Override the plan's schedulers, or its windows (the tests use tiny ones). */
  schedulers?: string[];
  seconds?: number;
  warmupSeconds?: number;
  /** Measure the single-path references (default true). */
  singlePath?: boolean;
}

const describePath = (p: RigPath): PathDescription => ({ name: p.name, local: p.local, link: { ...p.link }, rateBps: linkProfiles[p.link.profile as 'wifi' | 'lte'].rateBps ?? 0 });
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

function linkSummary(w: BulkWindow, names: readonly string[]): string {
  return names.map((n) => `${n} ${mbit(w.linkBps[n] ?? 0)}`).join(' + ');
}

export async function runAggregation(o: AggregationOptions): Promise<SectionResult> {
  const log = o.log ?? (() => {});
  const base = aggregationPlan(o.quick ?? false);
  const plan: AggregationPlan = { schedulers: o.schedulers ?? base.schedulers, seconds: o.seconds ?? base.seconds, warmupSeconds: o.warmupSeconds ?? base.warmupSeconds };
  const window = { seconds: plan.seconds, warmupSeconds: plan.warmupSeconds };
  const paths = [WIFI, LTE];
  const names = paths.map((p) => p.name);
  const data: AggregationData = {
    seed: o.seed,
    quick: o.quick ?? false,
    seconds: plan.seconds,
    warmupSeconds: plan.warmupSeconds,
    paths: paths.map(describePath),
    sumBps: paths.map(describePath).reduce((s, p) => s + p.rateBps, 0),
    wireEfficiency: null,
    headersCeilingBps: null,
    single: null,
    runs: [],
  };

  if (o.singlePath !== false) {
    const single: NonNullable<AggregationData['single']> = { path: WIFI.name, mptun: { download: null, upload: null }, mptunLossless: { download: null }, tcp: { download: null, upload: null } };
    data.single = single;
    let rig: Rig | undefined;
    try {
      log(`aggregation: ${WIFI.name} alone (mptun, plain TCP)`);
      rig = await startRig({ paths: [WIFI], scheduler: 'minrtt', seed: o.seed, tcpReferences: true });
      const tunnel = { kind: 'tunnel' } as const;
      const tcp = { kind: 'reference', path: WIFI.name } as const;
      single.mptun.download = await measureBulk(rig, { direction: 'download', route: tunnel, ...window });
      log(`  mptun download ${mbit(single.mptun.download.goodputBps)} Mbit/s`);
      single.tcp.download = await measureBulk(rig, { direction: 'download', route: tcp, ...window });
      log(`  plain TCP download ${mbit(single.tcp.download.goodputBps)} Mbit/s`);
      single.tcp.upload = await measureBulk(rig, { direction: 'upload', route: tcp, ...window });
      log(`  plain TCP upload ${mbit(single.tcp.upload.goodputBps)} Mbit/s`);
      // The same link with its random loss off: what the TCP reference gets, for mptun.
      await rig.emulator.setOptions(WIFI.name, { loss: 0 });
      single.mptunLossless.download = await measureBulk(rig, { direction: 'download', route: tunnel, ...window });
      await rig.emulator.setOptions(WIFI.name, { loss: linkProfiles.wifi.loss ?? 0 });
      log(`  mptun download, loss off ${mbit(single.mptunLossless.download.goodputBps)} Mbit/s`);
      // Last on this rig: an upload leaves seconds of tunnel-buffered bytes behind; closing the rig ends them.
      single.mptun.upload = await measureBulk(rig, { direction: 'upload', route: tunnel, ...window, settle: false });
      log(`  mptun upload ${mbit(single.mptun.upload.goodputBps)} Mbit/s`);
      data.wireEfficiency = wireEfficiency(single.mptunLossless.download, [WIFI.name]);
      if (data.wireEfficiency != null) data.headersCeilingBps = data.sumBps * data.wireEfficiency;
    } catch (e) {
      single.error = errorText(e);
      log(`  failed: ${single.error}`);
    } finally {
      await rig?.close();
    }
  }

  for (const scheduler of plan.schedulers) {
    const stack = parseStack(scheduler);
    const run: SchedulerRun = { scheduler, aggregating: AGGREGATING_SCHEDULERS.has(stack.scheduler), download: null, upload: null };
    data.runs.push(run);
    let rig: Rig | undefined;
    try {
      rig = await startRig({ paths, ...stack, seed: o.seed });
      run.download = await measureBulk(rig, { direction: 'download', route: { kind: 'tunnel' }, ...window });
      run.upload = await measureBulk(rig, { direction: 'upload', route: { kind: 'tunnel' }, ...window, settle: false });
      log(`aggregation: ${scheduler} download ${mbit(run.download.goodputBps)} Mbit/s (links ${linkSummary(run.download, names)}), upload ${mbit(run.upload.goodputBps)} Mbit/s (links ${linkSummary(run.upload, names)})`);
    } catch (e) {
      run.error = errorText(e);
      log(`aggregation: ${scheduler} failed: ${run.error}`);
    } finally {
      await rig?.close();
    }
  }

  return { tables: aggregationTables(data), plots: aggregationPlots(data), data };
}

export const section: Section = {
  id: 'aggregation',
  title: '1. Aggregation',
  run: (opts) => runAggregation({ seed: opts.seed, quick: opts.quick, log: opts.log, ...(opts.stacks ? { schedulers: opts.stacks } : {}) }),
};
