/**
 * Section 3, handover: a bulk download over wifi + lte while the wifi path is cut and later
 * restored. Reports the longest stall in delivered bytes, the time until the survivor (lte)
 * carries the download at full rate, and the time until the restored wifi path is used
 * again, per scheduler; plots per-path throughput and the delivered goodput over time.
 * The same run with the cut made as 100% loss instead of the path going down, too.
 */
import { linkProfiles } from '@mptun/sim';
import { connectTcp, startRig, timedDownload, type Rig, type RigPath } from '../rig/index.js';
import { handoverMetrics, rateSeries, type HandoverMetrics } from './handover-metrics.js';
import { recordHandover, type CutMode, type HandoverRecording } from './handover-run.js';
import { parseStack, withStacks } from './stack.js';
import type { Plot, Section, SectionResult, SuiteOptions, Table } from './types.js';

const CUT_PATH = 'wifi';
const SURVIVOR = 'lte';
const PATHS: RigPath[] = [
  { name: CUT_PATH, local: '127.0.0.2', link: { profile: 'wifi' } },
  { name: SURVIVOR, local: '127.0.0.3', link: { profile: 'lte' } },
];
const SURVIVOR_CAPACITY_BPS = linkProfiles.lte.rateBps ?? 20e6;
const RESTORED_CAPACITY_BPS = linkProfiles.wifi.rateBps ?? 50e6;

export interface HandoverPlan {
  schedulers: string[];
  cutMs: number;
  restoreMs: number;
  endMs: number;
  /** Cut modes to run per scheduler: 'down' always first. */
  modes: CutMode[];
  /** Seconds of plain TCP over the survivor's link alone (0: skip), with 1 s of warm-up. */
  referenceSeconds: number;
}

export const HANDOVER_QUICK: HandoverPlan = { schedulers: ['minrtt', 'minrtt+bbr'], cutMs: 3000, restoreMs: 6000, endMs: 9000, modes: ['down', 'loss'], referenceSeconds: 2 };
export const HANDOVER_FULL: HandoverPlan = { schedulers: ['minrtt', 'blest', 'redundant', 'minrtt+bbr'], cutMs: 5000, restoreMs: 12_000, endMs: 20_000, modes: ['down', 'loss'], referenceSeconds: 4 };
/** A few seconds in all, for the smoke test. */
export const HANDOVER_SMOKE: HandoverPlan = { schedulers: ['minrtt'], cutMs: 1000, restoreMs: 1800, endMs: 2600, modes: ['down'], referenceSeconds: 0 };

interface RunResult {
  scheduler: string;
  mode: CutMode;
  metrics: HandoverMetrics;
  recording: HandoverRecording;
}

const fmtMs = (ms: number | null): string => (ms === null ? 'never' : ms.toFixed(0));
const fmtMbit = (bps: number): string => (bps / 1e6).toFixed(1);

export async function runHandover(opts: SuiteOptions, plan: HandoverPlan): Promise<SectionResult> {
  const runs: RunResult[] = [];
  let referenceBps: number | null = null;
  for (const scheduler of plan.schedulers) {
    for (const mode of plan.modes) {
      // A fresh rig per run: the previous run's cut must not shape this one's subflows.
      const wantReference = plan.referenceSeconds > 0 && referenceBps === null;
      const rig = await startRig({ paths: PATHS, ...parseStack(scheduler), seed: opts.seed, tcpReferences: wantReference });
      try {
        if (wantReference) {
          const ref = await timedDownload(await connectTcp(rig.reference(SURVIVOR)), plan.referenceSeconds, 1);
          referenceBps = ref.goodputBps;
          opts.log(`handover: plain TCP over ${SURVIVOR} alone ${fmtMbit(referenceBps)} Mbit/s`);
        }
        runs.push(await oneRun(rig, scheduler, mode, plan, opts));
      } finally {
        await rig.close();
      }
    }
  }
  return report(runs, plan, referenceBps);
}

async function oneRun(rig: Rig, scheduler: string, mode: CutMode, plan: HandoverPlan, opts: SuiteOptions): Promise<RunResult> {
  const recording = await recordHandover(rig, CUT_PATH, mode, plan, linkProfiles.wifi.loss ?? 0);
  const metrics = handoverMetrics({
    delivered: recording.delivered,
    restoredPath: recording.paths[CUT_PATH] ?? [],
    times: recording.times,
    survivorCapacityBps: SURVIVOR_CAPACITY_BPS,
    restoredCapacityBps: RESTORED_CAPACITY_BPS,
  });
  opts.log(
    `handover ${scheduler} (${mode}): stall ${fmtMs(metrics.longestStallMs)} ms, full rate ${fmtMs(metrics.timeToFullRateMs)} ms, ` +
      `reuse ${fmtMs(metrics.reuseMs)} ms, ${(metrics.bytesDelivered / 1e6).toFixed(1)} MB` +
      (recording.closedAtMs !== null ? `, connection closed at ${(recording.closedAtMs / 1000).toFixed(2)} s` : ''),
  );
  return { scheduler, mode, metrics, recording };
}

function report(runs: RunResult[], plan: HandoverPlan, referenceBps: number | null): SectionResult {
  const tables: Table[] = [];
  for (const mode of plan.modes) {
    const these = runs.filter((r) => r.mode === mode);
    if (these.length === 0) continue;
    tables.push({
      title: mode === 'down' ? `Handover: ${CUT_PATH} taken down at ${plan.cutMs / 1000} s, back up at ${plan.restoreMs / 1000} s` : `Handover: ${CUT_PATH} losing 100% at ${plan.cutMs / 1000} s, back to normal at ${plan.restoreMs / 1000} s`,
      columns: ['scheduler', 'longest stall ms', 'time to full rate ms', 'reuse ms', 'bytes delivered', `${SURVIVOR} alone Mbit/s`],
      rows: these.map((r) => [
        r.scheduler,
        Math.round(r.metrics.longestStallMs),
        fmtMs(r.metrics.timeToFullRateMs),
        fmtMs(r.metrics.reuseMs),
        r.metrics.bytesDelivered,
        fmtMbit(r.metrics.survivorGoodputBps) + (r.recording.closedAtMs !== null ? ` (closed at ${(r.recording.closedAtMs / 1000).toFixed(1)} s)` : ''),
      ]),
      notes: [
        `Bulk download through the port forward over ${CUT_PATH} (${fmtMbit(RESTORED_CAPACITY_BPS)} Mbit/s) + ${SURVIVOR} (${fmtMbit(SURVIVOR_CAPACITY_BPS)} Mbit/s), ${plan.endMs / 1000} s; delivered bytes read every 50 ms, per-path bytes every 100 ms.`,
        `Longest stall: longest gap between readings that show new bytes, from the cut to the end (a steady flow reads ≈ 50 ms).`,
        `Time to full rate: from the cut until the 500 ms average goodput reaches 90% of ${SURVIVOR}'s ${fmtMbit(SURVIVOR_CAPACITY_BPS)} Mbit/s; reuse: from the restore until ${CUT_PATH} carries 10% of its ${fmtMbit(RESTORED_CAPACITY_BPS)} Mbit/s over 500 ms. Both include the 500 ms window (500 is the floor).`,
        `Delivered goodput counts bytes as the application gets them: data held back behind a lost segment arrives in one burst when the hole is filled, which can lift one 500 ms window to "full rate" for a moment (see the plot).`,
        `${SURVIVOR} alone: average goodput from 500 ms after the cut to the restore.` + (referenceBps !== null ? ` Reference, plain TCP over the same ${SURVIVOR} link alone in this run: ${fmtMbit(referenceBps)} Mbit/s.` : ''),
      ],
    });
  }
  const plots: Plot[] = runs.map((r) => plotOf(r));
  const data = {
    plan,
    capacitiesBps: { [CUT_PATH]: RESTORED_CAPACITY_BPS, [SURVIVOR]: SURVIVOR_CAPACITY_BPS },
    survivorTcpReferenceBps: referenceBps,
    runs: runs.map((r) => ({ scheduler: r.scheduler, mode: r.mode, metrics: r.metrics, ...r.recording })),
  };
  return { tables, plots, data };
}

function plotOf(r: RunResult): Plot {
  const { times } = r.recording;
  return {
    kind: 'line',
    file: `handover-${r.scheduler}${r.mode === 'down' ? '' : `-${r.mode}`}`,
    title: `Handover, ${r.scheduler}: ${CUT_PATH} ${r.mode === 'down' ? 'down' : '100% loss'} and back (500 ms average)`,
    xLabel: 'time (s)',
    yLabel: 'Mbit/s',
    series: [
      // The rig's paths only (not the plain-TCP reference relays, idle here).
      ...PATHS.map((p) => ({ name: `${p.name} (on the link)`, points: rateSeries(r.recording.paths[p.name] ?? []) })),
      { name: 'delivered goodput', points: rateSeries(r.recording.delivered) },
    ],
    markers: [
      { x: times.cutMs / 1000, label: r.mode === 'down' ? `${CUT_PATH} down` : `${CUT_PATH} 100% loss` },
      { x: times.restoreMs / 1000, label: `${CUT_PATH} restored` },
    ],
  };
}

export const section: Section = {
  id: 'handover',
  title: '3. Handover',
  run: (opts) => runHandover(opts, withStacks(opts.quick ? HANDOVER_QUICK : HANDOVER_FULL, opts.stacks)),
};
