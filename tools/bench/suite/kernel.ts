/**
 * Section 7: the kernel's own MPTCP in network namespaces, on the same 'wifi' + 'lte'
 * paths as the mptun sections, so the two can be read side by side — aggregation
 * (download, upload, plain TCP on wifi alone) and handover (wifi cut and restored).
 * Runs only as root on Linux with MPTCP enabled; elsewhere it reports why it skipped.
 * Topology and its caveats: kernel/netns.ts (this kernel has no netem, so a small delay
 * line on TUN devices supplies the delay; `tbf` the rates and queues).
 */
import os from 'node:os';
import type { Section, SectionResult, SuiteOptions } from './types.js';
import { bulkRun, handoverRun, planFor, type KernelPlan } from './kernel/analyse.js';
import { DelayLine } from './kernel/delay-line.js';
import { run } from './kernel/exec.js';
import { runFlow, type FlowOptions, type FlowResult } from './kernel/flow.js';
import { KernelTopology, removeStaleNamespaces } from './kernel/netns.js';
import { kernelPaths, ifaceNames, serverAddress, type KernelPath } from './kernel/paths.js';
import { probeEnvironment, skipReason } from './kernel/probe.js';
import { aggregationPlot, aggregationTable, handoverPlot, handoverTable, type BulkRun, type KernelData } from './kernel/report.js';

const TOPOLOGY_NOTE =
  'Client and server in their own network namespaces, joined through a router namespace by one veth pair per path on each side; tbf on each egress sets rate and queue, a delay line on a TUN device per path adds the one-way delay, jitter and loss (this kernel has no netem).';

const FIRST_PORT = 5301;
/** CUBIC, as mptun's default, whatever the host's default is: the comparison is of the stacks. */
const KERNEL_CC = 'cubic';

export const section: Section = {
  id: 'kernel',
  title: '7. Kernel MPTCP (reference)',
  run: runKernelSection,
};

async function sysctlIn(netns: string, key: string): Promise<string> {
  return (await run({ file: 'sysctl', args: ['-n', key], netns }).catch(() => 'n/a')).trim() || 'n/a';
}

async function runKernelSection(opts: SuiteOptions): Promise<SectionResult> {
  const env = await probeEnvironment();
  const reason = skipReason(env);
  if (reason) {
    opts.log(`kernel: skipped — ${reason}`);
    return { tables: [], plots: [], data: { skipped: reason }, skipped: reason };
  }
  const stale = await removeStaleNamespaces().catch(() => []);
  if (stale.length > 0) opts.log(`kernel: removed stale namespaces ${stale.join(', ')}`);

  const plan = planFor(opts.quick);
  const paths = kernelPaths();
  const topo = new KernelTopology(process.pid, paths);
  let delay: DelayLine | undefined;
  try {
    try {
      await topo.create();
      if (!(await topo.mptcpEnabledInside())) throw new Error('net.mptcp.enabled is not 1 inside the namespace');
      delay = await DelayLine.start(topo.ns.router, paths, opts.seed);
    } catch (e) {
      const why = `network namespace setup failed: ${(e as Error).message}`;
      opts.log(`kernel: skipped — ${why}`);
      return { tables: [], plots: [], data: { skipped: why }, skipped: why };
    }
    opts.log(`kernel: namespaces ${topo.ns.client}, ${topo.ns.router}, ${topo.ns.server} ready (seed ${opts.seed})`);
    const data = await measure(opts, plan, paths, topo, delay);
    return {
      tables: [aggregationTable(data), handoverTable(data)],
      plots: [aggregationPlot(data), handoverPlot(data)],
      data,
    };
  } finally {
    await delay?.close();
    await topo.destroy();
  }
}

async function measure(opts: SuiteOptions, plan: KernelPlan, paths: [KernelPath, KernelPath], topo: KernelTopology, delay: DelayLine): Promise<KernelData> {
  const capacityBps = paths.reduce((s, p) => s + p.rateBps, 0);
  const [a, b] = paths;
  let port = FIRST_PORT;
  const base = (direction: 'down' | 'up'): Omit<FlowOptions, 'proto' | 'seconds'> => ({
    direction,
    sampleMs: plan.sampleMs,
    clientNs: topo.ns.client,
    serverNs: topo.ns.server,
    serverAddress: serverAddress(paths),
    port: port++,
    receiverIfaces: paths.map((p) => (direction === 'down' ? ifaceNames(p).client : ifaceNames(p).server)),
    cc: KERNEL_CC,
  });
  const pathIfaces = (direction: 'down' | 'up'): Record<string, string> =>
    Object.fromEntries(paths.map((p) => [p.name, direction === 'down' ? ifaceNames(p).client : ifaceNames(p).server]));

  const runs: BulkRun[] = [];
  for (const [proto, direction] of [['mptcp', 'down'], ['mptcp', 'up'], ['tcp', 'down'], ['tcp', 'up']] as const) {
    const flow = await runFlow({ ...base(direction), proto, seconds: plan.bulkSeconds });
    const r = bulkRun(proto, direction, flow, pathIfaces(direction), plan.warmupSeconds);
    runs.push(r);
    const ref = proto === 'mptcp' ? capacityBps : a.rateBps;
    const fallback = proto === 'mptcp' && !r.mptcp ? ' (fell back to TCP!)' : '';
    opts.log(`kernel: ${proto === 'mptcp' ? 'MPTCP' : `TCP on ${a.name}`} ${direction === 'down' ? 'download' : 'upload'} ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s = ${((r.goodputBps / ref) * 100).toFixed(0)}% of ${(ref / 1e6).toFixed(0)}${fallback}`);
  }

  const h = plan.handover;
  let cutMono = Number.NaN;
  let restoreMono = Number.NaN;
  const timers: NodeJS.Timeout[] = [];
  const failures: Error[] = [];
  let flow: FlowResult;
  try {
    flow = await runFlow({
      ...base('down'),
      proto: 'mptcp',
      seconds: h.endMs / 1000,
      onStart: () => {
        timers.push(
          setTimeout(() => {
            delay.set(a.name, 'down').then((m) => (cutMono = m), (e: Error) => failures.push(e));
          }, h.cutMs),
          setTimeout(() => {
            delay.set(a.name, 'up').then((m) => (restoreMono = m), (e: Error) => failures.push(e));
          }, h.restoreMs),
        );
      },
    });
  } finally {
    for (const t of timers) clearTimeout(t);
    // Whatever happened, leave path A up for anything after this.
    if (Number.isFinite(cutMono) && !Number.isFinite(restoreMono)) await delay.set(a.name, 'up').catch(() => {});
  }
  if (failures.length > 0) throw failures[0]!;
  if (!Number.isFinite(cutMono) || !Number.isFinite(restoreMono)) throw new Error('kernel handover: the cut or the restore did not take effect');
  const handover = handoverRun({
    flow,
    // Monotonic seconds (delay line and receiver share the clock) → ms on the receiver's timeline.
    cutMs: (cutMono - flow.startMono) * 1000,
    restoreMs: (restoreMono - flow.startMono) * 1000,
    pathIfaces: pathIfaces('down'),
    cut: { name: a.name, rateBps: a.rateBps },
    survivor: { name: b.name, rateBps: b.rateBps },
  });
  const fmt = (v: number | null): string => (v === null ? 'not within the run' : `${Math.round(v)} ms`);
  const m = handover.metrics;
  opts.log(`kernel: handover — longest stall ${fmt(m.longestStallMs)}, full rate on ${b.name} after ${fmt(m.timeToFullRateMs)}, ${a.name} reused after ${fmt(m.reuseMs)}, ${b.name} alone ${(m.survivorGoodputBps / 1e6).toFixed(1)} Mbit/s`);

  return {
    kernel: os.release(),
    congestionControl: KERNEL_CC,
    mptcpScheduler: await sysctlIn(topo.ns.server, 'net.mptcp.scheduler'),
    topology: TOPOLOGY_NOTE,
    paths,
    capacityBps,
    warmupSeconds: plan.warmupSeconds,
    runs,
    handover,
    delayLine: await delay.stats().catch(() => ({})),
  };
}
