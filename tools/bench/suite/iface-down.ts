/**
 * Section: an interface taken down mid-download (`ip link set dev c1 down` in the client's
 * namespace), mptun beside the kernel's MPTCP on the same two namespaces (kernel/two-links.ts:
 * two shaped veth links, the client routed by destination only).
 *
 * mptun: the real mptun-server and mptun-client (`--path c1 --path c2`, sockets bound to
 * their device), a download through the client's `-L` forward by flow.py (plain TCP into the
 * tunnel). The kernel: flow.py over MPTCP with a subflow endpoint on c2 (`dev c2`). Printed
 * per stack: the longest gap in delivered bytes from the link-down on (the stall), the rate
 * on the other link afterwards, and for mptun how soon the client logged the interface gone
 * and the path down. Root only on Linux; elsewhere it reports why it skipped. Nothing here is
 * asserted: the figures go into docs/benchmarks.md.
 */
import { longestStallMs } from './handover-metrics.js';
import { deliveredTimeline, goodputBetweenBps } from './kernel/analyse.js';
import { run } from './kernel/exec.js';
import { runFlow, type FlowResult } from './kernel/flow.js';
import { probeEnvironment, skipReason } from './kernel/probe.js';
import { TwoLinkTopology } from './kernel/two-links.js';
import type { Section, SectionResult, SuiteOptions, Table } from './types.js';
import { kernelEndpoints, startTunnelClient, startTunnelServer } from './kernel/two-link-apps.js';
import { stopAll, writeKeyFiles, type KeyFiles } from '../../../apps/client/test/cli-support.js';

export const section: Section = {
  id: 'iface-down',
  title: '7b. Interface down (link event), mptun beside the kernel',
  run: runIfaceDown,
};

interface Plan {
  runs: number;
  seconds: number;
  cutMs: number;
}

const planFor = (quick: boolean): Plan => (quick ? { runs: 1, seconds: 4, cutMs: 1500 } : { runs: 3, seconds: 6, cutMs: 2000 });

const SAMPLE_MS = 10;
const TUNNEL_PORT = 4433;
const FIRST_PORT = 5401;
const FORWARD_PORT = 9000;
/** The link taken down: c1, which also carries the client's default route. */
const CUT = 0;

/** CLOCK_MONOTONIC in seconds (libuv's hrtime), the clock flow.py stamps its start with. */
const monoSeconds = (): number => Number(process.hrtime.bigint()) / 1e9;

export interface CutRun {
  stallMs: number;
  /** Goodput from 1 s after the cut to the end, on the remaining link. */
  afterBps: number;
  /** How long `ip link set … down` took to return. */
  commandMs: number;
  /** mptun only: the client's log times after the command returned (ms resolution). */
  seenMs?: number | null;
  pathDownMs?: number | null;
}

export interface IfaceDownData {
  links: TwoLinkTopology['links'];
  cut: string;
  mptun: CutRun[];
  kernel: CutRun[] | { skipped: string };
}

async function runIfaceDown(opts: SuiteOptions): Promise<SectionResult> {
  const env = await probeEnvironment();
  // No delay line here: a TUN device is not needed; the kernel's MPTCP only for its half.
  const reason = skipReason({ ...env, hasTun: true, mptcpEnabled: '1' });
  if (reason) {
    opts.log(`iface-down: skipped — ${reason}`);
    return { tables: [], plots: [], data: { skipped: reason }, skipped: reason };
  }
  const kernelSkip = skipReason({ ...env, hasTun: true });
  const plan = planFor(opts.quick);
  const topo = new TwoLinkTopology('mptb-ifd-');
  const keys = await writeKeyFiles();
  let port = FIRST_PORT;
  try {
    try {
      await topo.create();
    } catch (e) {
      const why = `network namespace setup failed: ${(e as Error).message}`;
      opts.log(`iface-down: skipped — ${why}`);
      return { tables: [], plots: [], data: { skipped: why }, skipped: why };
    }
    opts.log(`iface-down: namespaces ${topo.ns.client}, ${topo.ns.server} ready; ${plan.runs} run(s) per stack, ${topo.links[CUT].client} down ${plan.cutMs} ms into a ${plan.seconds} s download`);
    const mptun: CutRun[] = [];
    const server = await startTunnelServer(topo, keys, [`udp://${topo.serverAddress}:${TUNNEL_PORT}`]);
    try {
      for (let i = 0; i < plan.runs; i++) {
        const r = await mptunRun(topo, keys, plan, port++, FORWARD_PORT + i);
        mptun.push(r);
        opts.log(`iface-down: mptun run ${i + 1}: stall ${Math.round(r.stallMs)} ms, client saw it ${fmt(r.seenMs)}, path down ${fmt(r.pathDownMs)}, then ${mbit(r.afterBps)} Mbit/s`);
      }
    } finally {
      await server.stop(5000);
    }
    let kernel: IfaceDownData['kernel'];
    if (kernelSkip) {
      kernel = { skipped: kernelSkip };
      opts.log(`iface-down: kernel MPTCP skipped — ${kernelSkip}`);
    } else {
      kernel = [];
      await kernelEndpoints(topo);
      for (let i = 0; i < plan.runs; i++) {
        const r = await cutDuring(topo, plan, (onStart) =>
          runFlow({ proto: 'mptcp', direction: 'down', seconds: plan.seconds, sampleMs: SAMPLE_MS, clientNs: topo.ns.client, serverNs: topo.ns.server, serverAddress: topo.serverAddress, port: port++, receiverIfaces: topo.links.map((l) => l.client), cc: 'cubic', onStart }),
        );
        kernel.push(r.run);
        if (!r.mptcp) opts.log('iface-down: the kernel connection fell back to TCP');
        opts.log(`iface-down: kernel run ${i + 1}: stall ${Math.round(r.run.stallMs)} ms, then ${mbit(r.run.afterBps)} Mbit/s`);
      }
    }
    const data: IfaceDownData = { links: topo.links, cut: topo.links[CUT].client, mptun, kernel };
    return { tables: [table(data, plan)], plots: [], data };
  } finally {
    await stopAll();
    keys.cleanup();
    await topo.remove(true);
  }
}

/** One mptun download through a fresh client's forward, c1 taken down during it. */
async function mptunRun(topo: TwoLinkTopology, keys: KeyFiles, plan: Plan, port: number, forward: number): Promise<CutRun> {
  const client = await startTunnelClient(topo, keys, { server: `${topo.serverAddress}:${TUNNEL_PORT}`, transport: [], forwards: [{ local: forward, remote: port }] });
  try {
    const r = await cutDuring(topo, plan, (onStart) =>
      runFlow({ proto: 'tcp', direction: 'down', seconds: plan.seconds, sampleMs: SAMPLE_MS, clientNs: topo.ns.client, serverNs: topo.ns.server, serverAddress: topo.serverAddress, port, connect: `127.0.0.1:${forward}`, receiverIfaces: topo.links.map((l) => l.client), cc: 'cubic', onStart }),
    );
    const address = `${topo.links[CUT].net}.2`;
    const logged = (msg: string, key: string): number | null => {
      const line = client.logs().find((l) => l['msg'] === msg && l[key] === address);
      return line ? Date.parse(String(line['time'])) - r.cutWall : null;
    };
    return { ...r.run, seenMs: logged('interface went away', 'address'), pathDownMs: logged('path down', 'path') };
  } finally {
    await client.stop(5000);
  }
}

/**
 * Runs a download, takes the cut link down `plan.cutMs` after the receiver has its
 * connection, and brings it (and the default route through it) back afterwards.
 */
async function cutDuring(topo: TwoLinkTopology, plan: Plan, flow: (onStart: () => void) => Promise<FlowResult>): Promise<{ run: CutRun; mptcp: boolean; cutWall: number }> {
  const dev = topo.links[CUT].client;
  let cut: Promise<{ mono: number; wall: number; commandMs: number }> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let result: FlowResult;
  try {
    result = await flow(() => {
      timer = setTimeout(() => {
        cut = (async () => {
          const started = monoSeconds();
          await run({ file: 'ip', args: ['-n', topo.ns.client, 'link', 'set', 'dev', dev, 'down'] });
          const mono = monoSeconds();
          return { mono, wall: Date.now(), commandMs: (mono - started) * 1000 };
        })();
      }, plan.cutMs);
    });
  } finally {
    clearTimeout(timer);
    await cut?.catch(() => {});
    await topo.ip(topo.ns.client, 'link', 'set', 'dev', dev, 'up');
    await topo.restoreDefaultRoute();
  }
  if (!cut) throw new Error(`iface-down: the download ended before ${dev} was taken down`);
  const c = await cut;
  const timeline = deliveredTimeline(result.samples);
  const cutMs = (c.mono - result.startMono) * 1000;
  const endMs = timeline.at(-1)![0];
  return {
    run: { stallMs: longestStallMs(timeline, cutMs, endMs), afterBps: goodputBetweenBps(timeline, cutMs + 1000, endMs), commandMs: c.commandMs },
    mptcp: result.mptcp,
    cutWall: c.wall,
  };
}

const mbit = (bps: number): string => (bps / 1e6).toFixed(1);
const fmt = (ms: number | null | undefined): string => (ms === null || ms === undefined ? 'not logged' : `${ms} ms`);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function row(stack: string, runs: CutRun[]): Array<string | number> {
  const ms = (xs: Array<number | null | undefined>): string => {
    const got = xs.filter((x): x is number => typeof x === 'number');
    return got.length === 0 ? 'n/a' : `${Math.round(median(got))}`;
  };
  return [stack, runs.length, ms(runs.map((r) => r.stallMs)), runs.map((r) => Math.round(r.stallMs)).join(', '), mbit(median(runs.map((r) => r.afterBps))), ms(runs.map((r) => r.seenMs)), ms(runs.map((r) => r.pathDownMs))];
}

function table(d: IfaceDownData, plan: Plan): Table {
  const rows = [row('mptun (--path c1 --path c2)', d.mptun)];
  if (Array.isArray(d.kernel)) rows.push(row('kernel MPTCP (endpoint c2 subflow dev c2)', d.kernel));
  const [a, b] = d.links;
  return {
    title: `\`ip link set dev ${d.cut} down\` mid-download`,
    columns: ['stack', 'runs', 'stall, median (ms)', 'stall per run (ms)', `rate on ${b.client} after (Mbit/s)`, 'client saw it (ms)', 'path down logged (ms)'],
    rows,
    notes: [
      `Two namespaces joined by veth ${a.client} (${a.mbit} Mbit/s, the default route) and ${b.client} (${b.mbit} Mbit/s), tbf both ways, sub-millisecond RTT; ${a.client} taken down ${plan.cutMs} ms into a ${plan.seconds} s download (flow.py, samples every ${SAMPLE_MS} ms).`,
      'Stall: the longest gap in delivered bytes from the link-down to the end. Log times (mptun): the client\'s JSON log time minus when `ip link` returned, ms resolution.',
      ...(Array.isArray(d.kernel) ? [] : [`Kernel MPTCP not run: ${d.kernel.skipped}`]),
    ],
  };
}
