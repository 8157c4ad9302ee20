/**
 * Section 5, CPU: the highest loopback goodput of ONE tunnel connection through the real
 * apps (port forward → mptun-client → mptun-server → sink), sealed UDP and WebSocket, one
 * and two paths, download and upload; and what it costs: CPU seconds per GB moved on the
 * client process and on the server process, over the measured window only.
 *
 * Reference, same run: a plain Node TCP relay in its own process (net.Server piped to the
 * sink) carrying the same bulk transfer — the floor any user-space relay in Node pays.
 *
 * No link emulator: with unlimited links it only adds a process that every datagram
 * crosses, and on a 2-core machine that process takes CPU from the two being measured (the
 * full run shows the difference in its own table): startRig with `emulate: false`.
 */
import type net from 'node:net';
import { connectTcp, directPaths, Sink, SinkCommand, startRig, type ProcessSample } from '../rig/index.js';
import { startTcpRelay } from './cpu-relay.js';
import type { BarPlot, Plot, Section, SectionResult, SuiteOptions, Table } from './types.js';

export type Direction = 'download' | 'upload';

export interface CpuVariant {
  transport: 'udp' | 'ws';
  paths: 1 | 2;
}

/** How much to run; the suite uses QUICK or FULL, the smoke test something smaller. */
export interface CpuSize {
  variants: CpuVariant[];
  directions: Direction[];
  /** Measured window of each transfer, and the warm-up before it, seconds. */
  seconds: number;
  warmupSeconds: number;
  /** Also measure the 1-path variants through the rig's link emulator with unlimited links. */
  emulatorCheck: boolean;
}

const ALL_VARIANTS: CpuVariant[] = [
  { transport: 'udp', paths: 1 },
  { transport: 'udp', paths: 2 },
  { transport: 'ws', paths: 1 },
  { transport: 'ws', paths: 2 },
];
export const QUICK_CPU: CpuSize = { variants: ALL_VARIANTS, directions: ['download', 'upload'], seconds: 1.5, warmupSeconds: 0.5, emulatorCheck: false };
export const FULL_CPU: CpuSize = { variants: ALL_VARIANTS, directions: ['download', 'upload'], seconds: 6, warmupSeconds: 1, emulatorCheck: true };

const PATH_ADDRESSES = ['127.0.0.2', '127.0.0.3'];
/** Pause between transfers so the previous connection's teardown stays out of the next window. */
const SETTLE_MS = 300;

/** One measured bulk transfer. CPU figures are microseconds over the measured window. */
export interface BulkCpuRun {
  what: string;
  direction: Direction;
  goodputBps: number;
  bytes: number;
  seconds: number;
  /** CPU of the client side (mptun-client; null for the relay, which is one process). */
  clientCpuUs: number | null;
  /** CPU of the server side (mptun-server, or the relay process). */
  serverCpuUs: number;
  /** CPU of the measuring process (traffic and sink), for context. */
  measuringCpuUs: number;
  clientSecondsPerGB: number | null;
  serverSecondsPerGB: number;
  /** Share of one core each process was busy in the window, percent (100 = one core). */
  clientBusyPercent: number | null;
  serverBusyPercent: number;
  measuringBusyPercent: number;
}

type Sampler = () => Promise<ProcessSample>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cpuUs = (a: ProcessSample, b: ProcessSample): number => b.userUs + b.systemUs - (a.userUs + a.systemUs);
const perGB = (us: number, bytes: number): number => (bytes > 0 ? us / 1e6 / (bytes / 1e9) : NaN);

/**
 * Bulk transfer on `socket` ('S' stream from the sink, or 'U' upload into it); bytes and CPU
 * counted between two sample points after the warm-up. The socket is destroyed at the end.
 */
export async function measureBulk(
  what: string,
  direction: Direction,
  socket: net.Socket,
  sinkReceived: () => number,
  client: Sampler | null,
  server: Sampler,
  size: CpuSize,
): Promise<BulkCpuRun> {
  let got = 0;
  let stop = false;
  socket.on('error', () => {});
  if (direction === 'download') {
    socket.on('data', (d: Buffer) => (got += d.length));
    socket.write(Buffer.from([SinkCommand.stream]));
  } else {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    socket.write(Buffer.from([SinkCommand.upload]));
    const pump = (): void => {
      while (!stop && !socket.destroyed) if (!socket.write(chunk)) return void socket.once('drain', pump);
    };
    pump();
  }
  const delivered = direction === 'download' ? () => got : sinkReceived;
  try {
    await sleep(size.warmupSeconds * 1000);
    const sample = (): Promise<[ProcessSample | null, ProcessSample, NodeJS.CpuUsage, number, number]> => {
      const bytes = delivered();
      const t = performance.now();
      const mine = process.cpuUsage();
      return Promise.all([client ? client() : Promise.resolve(null), server()]).then(([c, s]) => [c, s, mine, bytes, t]);
    };
    const [c0, s0, m0, b0, t0] = await sample();
    await sleep(size.seconds * 1000);
    const [c1, s1, m1, b1, t1] = await sample();
    const bytes = b1 - b0;
    const seconds = (t1 - t0) / 1000;
    const clientCpuUs = c0 && c1 ? cpuUs(c0, c1) : null;
    const serverCpuUs = cpuUs(s0, s1);
    const measuringCpuUs = m1.user + m1.system - (m0.user + m0.system);
    return {
      what,
      direction,
      goodputBps: (bytes * 8) / seconds,
      bytes,
      seconds,
      clientCpuUs,
      serverCpuUs,
      measuringCpuUs,
      clientSecondsPerGB: clientCpuUs === null ? null : perGB(clientCpuUs, bytes),
      serverSecondsPerGB: perGB(serverCpuUs, bytes),
      clientBusyPercent: clientCpuUs === null ? null : clientCpuUs / 1e4 / seconds,
      serverBusyPercent: serverCpuUs / 1e4 / seconds,
      measuringBusyPercent: measuringCpuUs / 1e4 / seconds,
    };
  } finally {
    stop = true;
    socket.destroy();
    await sleep(SETTLE_MS);
  }
}

function variantName(v: CpuVariant): string {
  return `${v.transport === 'udp' ? 'sealed UDP' : 'WS'}, ${v.paths} path${v.paths > 1 ? 's' : ''}`;
}

const mbit = (bps: number): number => Math.round(bps / 1e5) / 10;
const fixed = (x: number | null, digits = 1): string => (x === null || !Number.isFinite(x) ? '—' : x.toFixed(digits));

function row(r: BulkCpuRun, relay: BulkCpuRun | undefined): Array<string | number> {
  const total = (r.clientSecondsPerGB ?? 0) + r.serverSecondsPerGB;
  return [
    r.what,
    r.direction,
    mbit(r.goodputBps),
    fixed(r.clientSecondsPerGB),
    fixed(r.serverSecondsPerGB),
    fixed(total),
    `${fixed(r.clientBusyPercent, 0)} / ${fixed(r.serverBusyPercent, 0)} / ${fixed(r.measuringBusyPercent, 0)}`,
    relay && relay !== r ? `${((100 * r.goodputBps) / relay.goodputBps).toFixed(0)}%` : '—',
    relay && relay !== r ? `${(total / relay.serverSecondsPerGB).toFixed(1)}×` : '—',
  ];
}

export async function runCpu(opts: SuiteOptions, size: CpuSize): Promise<SectionResult> {
  const runs: BulkCpuRun[] = [];
  const viaEmulator: BulkCpuRun[] = [];

  for (const v of size.variants) {
    const name = `mptun ${variantName(v)}`;
    opts.log(`cpu: starting ${name}`);
    const tunnel = await startRig({ transport: v.transport, paths: directPaths(PATH_ADDRESSES.slice(0, v.paths)), emulate: false });
    try {
      for (const direction of size.directions) {
        const r = await measureBulk(name, direction, await connectTcp(tunnel.forward), () => tunnel.sink.received, tunnel.clientSample, () => tunnel.serverSample(), size);
        opts.log(`cpu: ${name} ${direction}: ${mbit(r.goodputBps)} Mbit/s, client ${fixed(r.clientSecondsPerGB)} s/GB, server ${fixed(r.serverSecondsPerGB)} s/GB`);
        runs.push(r);
      }
    } finally {
      await tunnel.close();
    }
  }

  // The reference: a plain TCP relay process between the traffic and a sink of its own.
  const relayRuns = new Map<Direction, BulkCpuRun>();
  {
    const sink = await Sink.start();
    try {
      const relay = await startTcpRelay(sink.address);
      try {
        for (const direction of size.directions) {
          const r = await measureBulk('plain Node TCP relay', direction, await connectTcp(relay.listen), () => sink.received, null, () => relay.sample(), size);
          opts.log(`cpu: TCP relay ${direction}: ${mbit(r.goodputBps)} Mbit/s, relay ${fixed(r.serverSecondsPerGB)} s/GB`);
          relayRuns.set(direction, r);
          runs.push(r);
        }
      } finally {
        await relay.close();
      }
    } finally {
      await sink.close();
    }
  }

  // Why the emulator is left out: the same transfer through the rig with unlimited links.
  if (size.emulatorCheck) {
    for (const v of size.variants.filter((x) => x.paths === 1)) {
      const name = `mptun ${variantName(v)}, via link emulator`;
      opts.log(`cpu: starting ${name}`);
      const rig = await startRig({ paths: [{ name: 'p1', local: PATH_ADDRESSES[0]!, link: {} }], transport: v.transport, seed: opts.seed });
      try {
        const r = await measureBulk(name, 'download', await connectTcp(rig.forward), () => rig.sink.received, rig.clientSample, () => rig.serverSample(), size);
        opts.log(`cpu: ${name}: ${mbit(r.goodputBps)} Mbit/s`);
        viaEmulator.push(r);
      } finally {
        await rig.close();
      }
    }
  }

  const table: Table = {
    title: 'One tunnel connection on loopback, no link limits: goodput and CPU per GB moved',
    columns: ['what', 'direction', 'goodput (Mbit/s)', 'client CPU (s/GB)', 'server CPU (s/GB)', 'total CPU (s/GB)', 'busy client / server / traffic (% of a core)', 'goodput vs TCP relay', 'CPU vs TCP relay'],
    rows: runs.map((r) => row(r, relayRuns.get(r.direction))),
    notes: [
      `Each transfer: ${size.warmupSeconds} s warm-up, then ${size.seconds} s measured; CPU is user+system time of each process over the measured window, divided by the payload bytes delivered in it.`,
      'mptun: traffic → port forward → mptun-client → mptun-server → TCP sink, each app in its own process, paths straight to the server (no link emulator).',
      'Reference: a plain Node TCP relay process (net.Server piping each connection to the sink): its CPU is in the server column; "CPU vs TCP relay" compares client+server with it.',
      'Busy: CPU time over wall time in the window, per process (traffic = the measuring process: traffic generator and sink). Near 100% means that process was the bottleneck (each runs its JavaScript on one thread); when none is, the limit was elsewhere: the 2 cores shared by all of them (and by any other work on the machine), or the protocol itself.',
    ],
  };
  const tables: Table[] = [table];
  if (viaEmulator.length > 0) {
    tables.push({
      title: 'The same download through the link emulator with unlimited links (why the table above leaves it out)',
      columns: ['what', 'goodput (Mbit/s)', 'without the emulator (Mbit/s)', 'client CPU (s/GB)', 'server CPU (s/GB)'],
      rows: viaEmulator.map((r) => {
        const direct = runs.find((x) => x.direction === 'download' && r.what.startsWith(x.what + ','));
        return [r.what, mbit(r.goodputBps), direct ? mbit(direct.goodputBps) : '—', fixed(r.clientSecondsPerGB), fixed(r.serverSecondsPerGB)];
      }),
      notes: ['The emulator is a third process every packet crosses; on 2 cores it takes CPU from the tunnel.'],
    });
  }

  const categories = [...size.variants.map(variantName), 'TCP relay'];
  const pick = (d: Direction, f: (r: BulkCpuRun) => number): number[] =>
    categories.map((c) => {
      const r = runs.find((x) => x.direction === d && (c === 'TCP relay' ? x.what === 'plain Node TCP relay' : x.what === `mptun ${c}`));
      return r ? f(r) : 0;
    });
  const goodputPlot: BarPlot & Plot = {
    kind: 'bar',
    file: 'cpu-goodput',
    title: 'One connection on loopback: goodput',
    xLabel: 'variant',
    yLabel: 'goodput (Mbit/s)',
    categories,
    series: size.directions.map((d) => ({ name: d, values: pick(d, (r) => mbit(r.goodputBps)) })),
  };
  const costPlot: BarPlot & Plot = {
    kind: 'bar',
    file: 'cpu-cost',
    title: 'CPU per GB moved (client + server)',
    xLabel: 'variant',
    yLabel: 'CPU seconds per GB',
    categories,
    series: size.directions.map((d) => ({ name: d, values: pick(d, (r) => Math.round(((r.clientSecondsPerGB ?? 0) + r.serverSecondsPerGB) * 10) / 10) })),
  };

  return { tables, plots: [goodputPlot, costPlot], data: { size, runs, viaEmulator } };
}

export const section: Section = {
  id: 'cpu',
  title: '5. CPU',
  run: (opts) => runCpu(opts, opts.quick ? QUICK_CPU : FULL_CPU),
};
