/**
 * Section: the namespace testbed of issue 16 — mptun beside the kernel's MPTCP on the same
 * two shaped veth links (kernel/two-links.ts), at 40 + 20 and at 400 + 200 Mbit/s, in one run.
 *
 * Per rate pair: bulk download and upload over the kernel's MPTCP (flow.py, subflow endpoint
 * on c2) and through the real mptun-server and mptun-client (`--path c1 --path c2`, device-
 * bound) over sealed UDP, plain UDP and WebSocket, flow.py carried by the client's `-L`
 * forward. Each transfer's content is checked byte for byte at the receiver (flow.py's
 * offset pattern). Per figure: goodput, % of the sum of the link rates, each link's share of
 * the receiver's interface bytes, and the client's and server's CPU (/proc/PID/stat of the
 * app processes). Then 1 KB round trips, idle and under a bulk download: mptun (sealed UDP),
 * the kernel's MPTCP and plain TCP, to an echo server in the server namespace.
 *
 * No added delay: this kernel has no netem, and the Python delay line cannot carry 400 Mbit/s;
 * the RTT is sub-millisecond plus tbf's queue (50 ms at most). Root on Linux only; elsewhere
 * it reports why it skipped. Nothing is asserted: the figures go to docs/benchmarks.md.
 */
import { summarize } from './latency-stats.js';
import { bulkRun } from './kernel/analyse.js';
import { runFlow, type FlowOptions } from './kernel/flow.js';
import { cpuMeter } from './kernel/proc-cpu.js';
import { probeEnvironment, skipReason } from './kernel/probe.js';
import { roundTrips, startEchoServer, type EchoServer, type RoundTrips } from './kernel/rtt.js';
import { kernelEndpoints, startTunnelClient, startTunnelServer, type TunnelClientOptions } from './kernel/two-link-apps.js';
import { TwoLinkTopology, TWO_LINKS, type TwoLink } from './kernel/two-links.js';
import { cpus, loadavg } from 'node:os';
import { bulkPlot, bulkTable, latencyTable, type BulkFigure, type LatencyCase, type RatePairData, type TestbedPlan } from './testbed-report.js';
import type { Section, SectionResult, SuiteOptions } from './types.js';
import { stopAll, writeKeyFiles, type AppProcess, type KeyFiles } from '../../../apps/client/test/cli-support.js';

export const section: Section = {
  id: 'testbed',
  title: '7c. Namespace testbed: aggregation, CPU and latency beside the kernel',
  run: runTestbed,
};

export const TESTBED_QUICK: TestbedPlan = { runs: 1, seconds: 4, warmupSeconds: 1, rttSeconds: 2, rttWarmupSeconds: 0.5, bulkLeadSeconds: 1 };
export const TESTBED_FULL: TestbedPlan = { runs: 3, seconds: 8, warmupSeconds: 1, rttSeconds: 4, rttWarmupSeconds: 0.5, bulkLeadSeconds: 1.5 };

/** Link rates in Mbit/s, path A (c1, the default route) then path B (c2). */
const RATE_PAIRS: ReadonlyArray<readonly [number, number]> = [
  [40, 20],
  [400, 200],
];

export type Transport = 'udp' | 'udp-plain' | 'ws';
const TRANSPORTS: readonly Transport[] = ['udp', 'udp-plain', 'ws'];

const UDP_PORT = 4433;
const PLAIN_PORT = 4434;
const WS_PORT = 8080;
/** Ports on the server address: flow.py's bulk server (each run binds it afresh), the echo servers. */
const BULK_PORT = 5501;
const ECHO_TCP_PORT = 5601;
const ECHO_MPTCP_PORT = 5602;
/** The clients' forwards in their namespace: transport i has bulk FORWARD_BASE + 2i, echo the next port. */
const FORWARD_BASE = 9001;
const SAMPLE_MS = 50;
const REQUEST_BYTES = 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runTestbed(opts: SuiteOptions): Promise<SectionResult> {
  const env = await probeEnvironment();
  // No delay line here, so no TUN device is needed.
  const reason = skipReason({ ...env, hasTun: true });
  if (reason) {
    opts.log(`testbed: skipped — ${reason}`);
    return { tables: [], plots: [], data: { skipped: reason }, skipped: reason };
  }
  const plan = opts.quick ? TESTBED_QUICK : TESTBED_FULL;
  const keys = await writeKeyFiles();
  const pairs: RatePairData[] = [];
  try {
    for (const [a, b] of RATE_PAIRS) {
      const links: [TwoLink, TwoLink] = [
        { ...TWO_LINKS[0], mbit: a },
        { ...TWO_LINKS[1], mbit: b },
      ];
      pairs.push(await ratePair(new TwoLinkTopology('mptb-tb-', links), keys, plan, opts));
    }
  } finally {
    await stopAll();
    keys.cleanup();
  }
  return { tables: [bulkTable(pairs, plan, cpus().length), latencyTable(pairs, plan)], plots: [bulkPlot(pairs)], data: { plan, pairs } };
}

/** Everything measured on one pair of link rates, in a fresh pair of namespaces. */
async function ratePair(topo: TwoLinkTopology, keys: KeyFiles, plan: TestbedPlan, opts: SuiteOptions): Promise<RatePairData> {
  const label = `${topo.links[0].mbit}+${topo.links[1].mbit}`;
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  const echoes: EchoServer[] = [];
  try {
    await topo.create();
    await kernelEndpoints(topo);
    echoes.push(await startEchoServer({ ns: topo.ns.server, proto: 'tcp', bind: topo.serverAddress, port: ECHO_TCP_PORT }));
    echoes.push(await startEchoServer({ ns: topo.ns.server, proto: 'mptcp', bind: topo.serverAddress, port: ECHO_MPTCP_PORT }));
    opts.log(`testbed ${label}: namespaces ${topo.ns.client}, ${topo.ns.server} ready; ${plan.runs} run(s) of ${plan.seconds} s per figure`);
    const bulk: BulkFigure[] = [];
    const latency: LatencyCase[] = [];
    const failures: RatePairData['failures'] = [];
    const note = (f: BulkFigure): void => {
      bulk.push(f);
      opts.log(`testbed ${label}: ${f.stack} ${f.direction} ${(f.goodputBps / 1e6).toFixed(1)} Mbit/s${f.cpu ? `, client ${f.cpu.clientPercent.toFixed(0)}% server ${f.cpu.serverPercent.toFixed(0)}% CPU` : ''}${f.check}`);
    };
    await isolated(failures, 'kernel MPTCP bulk', opts, label, async () => {
      for (let i = 0; i < plan.runs; i++) {
        for (const direction of ['down', 'up'] as const) note(await bulkFigure(topo, plan, 'kernel', direction, null));
      }
    });
    const server = await startTunnelServer(topo, keys, [`udp://${topo.serverAddress}:${UDP_PORT}`, `udp-plain://${topo.serverAddress}:${PLAIN_PORT}`, `ws://${topo.serverAddress}:${WS_PORT}/mptun`], ['--insecure-plain-udp']);
    try {
      // The three clients start together (nothing is measured meanwhile); each stops after its part.
      const clients = await Promise.allSettled(TRANSPORTS.map((t) => startTunnelClient(topo, keys, clientOptions(topo, t))));
      for (const [i, transport] of TRANSPORTS.entries()) {
        const started = clients[i]!;
        await isolated(failures, `mptun ${transport}`, opts, label, async () => {
          if (started.status === 'rejected') throw started.reason;
          const apps = { client: started.value, server, forward: forwardPorts(transport) };
          try {
            for (let r = 0; r < plan.runs; r++) {
              for (const direction of ['down', 'up'] as const) note(await bulkFigure(topo, plan, transport, direction, apps));
            }
            if (transport === 'udp') latency.push(...(await latencyCases(topo, plan, 'mptun', opts, label)));
          } finally {
            await apps.client.stop(5000);
          }
        });
      }
    } finally {
      await server.stop(5000);
    }
    for (const stack of ['kernel', 'tcp'] as const) {
      await isolated(failures, `${stack} round trips`, opts, label, async () => void latency.push(...(await latencyCases(topo, plan, stack, opts, label))));
    }
    const seconds = (performance.now() - started) / 1000;
    opts.log(`testbed ${label}: done in ${seconds.toFixed(0)} s`);
    return { links: topo.links.map((l) => ({ name: l.client, mbit: l.mbit })), bulk, latency, failures, seconds, load: [loadBefore, loadavg()[0]!] };
  } finally {
    for (const e of echoes) await e.stop();
    await topo.remove(true);
  }
}

/**
 * Runs one stack's part; a failure there is recorded (and reported under the tables) and the
 * other stacks still run, so one broken transport does not hide the rest of the comparison.
 */
async function isolated(failures: RatePairData['failures'], what: string, opts: SuiteOptions, label: string, part: () => Promise<void>): Promise<void> {
  try {
    await part();
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    failures.push({ what, error });
    opts.log(`testbed ${label}: ${what} FAILED: ${error.split('\n')[0]}`);
  }
}

const forwardPorts = (t: Transport): { bulk: number; echo: number } => {
  const bulk = FORWARD_BASE + 2 * TRANSPORTS.indexOf(t);
  return { bulk, echo: bulk + 1 };
};

function clientOptions(topo: TwoLinkTopology, t: Transport): TunnelClientOptions {
  const f = forwardPorts(t);
  return {
    server: `${topo.serverAddress}:${t === 'udp-plain' ? PLAIN_PORT : UDP_PORT}`,
    transport: t === 'udp' ? [] : t === 'udp-plain' ? ['--transport', 'udp-plain'] : ['--transport', 'ws', '--ws-url', `ws://${topo.serverAddress}:${WS_PORT}/mptun`],
    forwards: [
      { local: f.bulk, remote: BULK_PORT },
      { local: f.echo, remote: ECHO_TCP_PORT },
    ],
    waitForPaths: t !== 'udp-plain',
  };
}

/** flow.py between the namespaces: straight to the server (kernel MPTCP, plain TCP) or through a client's forward (mptun, `via` its local port). */
function flowOptions(topo: TwoLinkTopology, proto: 'mptcp' | 'tcp', direction: 'down' | 'up', seconds: number, via?: number): FlowOptions {
  return {
    proto,
    direction,
    seconds,
    sampleMs: SAMPLE_MS,
    clientNs: topo.ns.client,
    serverNs: topo.ns.server,
    serverAddress: topo.serverAddress,
    port: BULK_PORT,
    ...(via === undefined ? {} : { connect: `127.0.0.1:${via}` }),
    receiverIfaces: topo.links.map((l) => (direction === 'down' ? l.client : l.server)),
    cc: 'cubic',
  };
}

/**
 * The apps' CPU over the goodput's window: from the end of the warm-up to the receiver's end,
 * timed from the receiver's start. A reading that fails inside a timer is kept for close().
 */
interface TunnelApps {
  client: AppProcess;
  server: AppProcess;
  /** The client's local forward ports. */
  forward: { bulk: number; echo: number };
}

function appCpuWindow(apps: TunnelApps, plan: TestbedPlan): { onStart(): void; close(): BulkFigure['cpu'] } {
  const timers: NodeJS.Timeout[] = [];
  let meter: ReturnType<typeof cpuMeter> | null = null;
  let cpu: BulkFigure['cpu'] = null;
  let failure: unknown = null;
  const guarded = (f: () => void) => (): void => {
    try {
      f();
    } catch (e) {
      failure ??= e;
    }
  };
  const finish = guarded(() => {
    if (!meter || cpu) return;
    const m = meter.stop();
    cpu = { clientPercent: (m.cpuSeconds['client']! / m.seconds) * 100, serverPercent: (m.cpuSeconds['server']! / m.seconds) * 100 };
  });
  const begin = guarded(() => {
    meter = cpuMeter({ client: apps.client.child.pid!, server: apps.server.child.pid! });
    timers.push(setTimeout(finish, (plan.seconds - plan.warmupSeconds) * 1000));
  });
  return {
    onStart: () => void timers.push(setTimeout(begin, plan.warmupSeconds * 1000)),
    close() {
      for (const t of timers) clearTimeout(t);
      // The receiver's end and this timer race by a few ms: a window still open closes now.
      finish();
      if (failure) throw failure as Error;
      return cpu;
    },
  };
}

/** One bulk transfer, with the apps' CPU when they are given. */
async function bulkFigure(topo: TwoLinkTopology, plan: TestbedPlan, stack: BulkFigure['stack'], direction: 'down' | 'up', apps: TunnelApps | null): Promise<BulkFigure> {
  const cpuWindow = apps ? appCpuWindow(apps, plan) : null;
  let flow;
  let cpu: BulkFigure['cpu'] = null;
  try {
    flow = await runFlow({ ...flowOptions(topo, stack === 'kernel' ? 'mptcp' : 'tcp', direction, plan.seconds, apps?.forward.bulk), ...(cpuWindow ? { onStart: cpuWindow.onStart } : {}) });
  } finally {
    cpu = cpuWindow?.close() ?? null;
  }
  const pathIfaces = Object.fromEntries(topo.links.map((l) => [l.client, direction === 'down' ? l.client : l.server]));
  const r = bulkRun(stack === 'kernel' ? 'mptcp' : 'tcp', direction, flow, pathIfaces, plan.warmupSeconds);
  const end = flow.end;
  const check = end === null ? ' (receiver reported no end line)' : end.firstMismatch !== null ? ` (CONTENT MISMATCH at byte ${end.firstMismatch})` : '';
  return { stack, direction, goodputBps: r.goodputBps, seconds: r.seconds, pathBytes: r.pathBytes, cpu, mptcp: flow.mptcp, checkedBytes: end?.bytes ?? 0, firstMismatch: end?.firstMismatch ?? null, check };
}

/** Round trips idle, then under a bulk download over the same stack. */
async function latencyCases(topo: TwoLinkTopology, plan: TestbedPlan, stack: LatencyCase['stack'], opts: SuiteOptions, label: string): Promise<LatencyCase[]> {
  const proto = stack === 'kernel' ? 'mptcp' : 'tcp';
  // mptun: the sealed UDP client's forwards.
  const via = stack === 'mptun' ? forwardPorts('udp') : undefined;
  const connect = via ? `127.0.0.1:${via.echo}` : `${topo.serverAddress}:${stack === 'kernel' ? ECHO_MPTCP_PORT : ECHO_TCP_PORT}`;
  const trips = (): Promise<RoundTrips> => roundTrips({ ns: topo.ns.client, proto, connect, size: REQUEST_BYTES, warmupSeconds: plan.rttWarmupSeconds, seconds: plan.rttSeconds });
  const idle = await trips();
  // The bulk download runs from before the round trips start until after they end.
  const bulkSeconds = plan.bulkLeadSeconds + plan.rttWarmupSeconds + plan.rttSeconds + 1;
  let loaded: Promise<RoundTrips> | undefined;
  const flow = await runFlow({
    ...flowOptions(topo, proto, 'down', bulkSeconds, via?.bulk),
    onStart: () => {
      loaded = sleep(plan.bulkLeadSeconds * 1000).then(trips);
      loaded.catch(() => {}); // awaited below; a failure is not unhandled meanwhile
    },
  });
  if (!loaded) throw new Error(`testbed: the ${stack} bulk download never started`);
  const underBulk = await loaded;
  const bulkBps = bulkRun(proto, 'down', flow, {}, plan.bulkLeadSeconds).goodputBps;
  const cases: LatencyCase[] = [
    { stack, load: 'idle', summary: summarize(idle.rttsMs), timedOut: idle.timedOut, bulkBps: null },
    { stack, load: 'bulk', summary: summarize(underBulk.rttsMs), timedOut: underBulk.timedOut, bulkBps },
  ];
  for (const c of cases) opts.log(`testbed ${label}: ${stack} round trips ${c.load}: p50 ${c.summary.p50.toFixed(2)} p99 ${c.summary.p99.toFixed(2)} ms (${c.summary.count})${c.bulkBps === null ? '' : `, bulk ${(c.bulkBps / 1e6).toFixed(1)} Mbit/s`}`);
  return cases;
}
