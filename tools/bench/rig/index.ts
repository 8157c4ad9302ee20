/**
 * The bench rig: the whole tunnel from the real apps, each in its own process —
 *
 *   measuring process: traffic ──► mptun-client (SOCKS5 / -L) ──► link emulator, one relay per
 *   path on the path's loopback alias ──► mptun-server ──► TCP sink (back in the measuring process)
 *
 * and, when asked, a plain-TCP reference per path: a TCP relay over the same emulated link
 * straight to the sink, so "mptun" and "TCP alone on that path" are measured side by side.
 *
 *   const rig = await startRig({ paths: [{ name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi' } }] });
 *   const s = await connectTcp(rig.forward); const r = await timedDownload(s, 5);
 *   await rig.emulator.down('wifi'); … await rig.close();
 */
import type { ServerLimits } from '../../../apps/server/src/index.js';
import type { LinkEmulatorConfig, PathPatch, PathStats, PathInfo } from '@mptun/linkem';
import type { SubflowInfo } from '@mptun/node';
import { Closers, newKeys, startClientChild, startServerChild } from './apps.js';
import { RigChild, type ProcessSample } from './ipc.js';
import { Sink } from './sink.js';
import type { HostPort } from './traffic.js';

export { Sink, SinkCommand, fillPattern, patternByte, patternMismatch } from './sink.js';
export { connectTcp, connectSocks, timedDownload, timedUpload, Sampler, type BulkResult, type HostPort } from './traffic.js';
export { RigChild, type ProcessSample } from './ipc.js';
export { Closers, newKeys, startClientChild, startServerChild, type ServerAddress, type TunnelKeys } from './apps.js';

export interface RigPath {
  /** The emulator's name for it, e.g. "wifi". */
  name: string;
  /** Loopback alias the client sends from and the relay listens on, e.g. "127.0.0.2". */
  local: string;
  /** Both directions' link settings (`up`/`down` for one), as the link emulator takes them. */
  link: PathPatch;
}

export interface RigOptions {
  paths: RigPath[];
  /** How paths reach the server: sealed UDP (default) or WebSocket (the relays are then TCP). */
  transport?: 'udp' | 'ws';
  /** Scheduler and congestion control, on both ends (client: uploads, server: downloads). */
  scheduler?: string;
  cc?: string;
  /** Seed of the emulated links' random choices. */
  seed?: number;
  /** Add a plain TCP relay per path over the same link to the sink (see `reference()`). */
  tcpReferences?: boolean;
  serverLimits?: Partial<ServerLimits>;
  /** Extra node flags for the server process, e.g. ["--expose-gc"]. */
  serverExecArgv?: string[];
  /** Extra node flags for the client process, e.g. ["--cpu-prof"]. */
  clientExecArgv?: string[];
  /**
   * false: no link emulator; the client's paths go straight to the server (for CPU figures:
   * on 2 cores an emulator process in the middle takes a third of the CPU at loopback speed).
   * `emulator` and `reference()` then throw. Default true.
   */
  emulate?: boolean;
}

export interface ServerSample extends ProcessSample {
  stats: { open: number; total: number; [k: string]: unknown };
}

export interface ClientSample extends ProcessSample {
  connections: Array<{ id: number | undefined; peakReceiveBuffered: number; subflows: SubflowInfo[] }>;
}

export interface Rig {
  readonly sink: Sink;
  /** The client's port forward to the sink. */
  readonly forward: HostPort;
  /** The client's SOCKS5 proxy (the sink is at `sink.address`). */
  readonly socks: HostPort;
  readonly seed: number;
  /** mptun-server's own listening address (UDP, or TCP for ws), bypassing the emulator. */
  readonly serverAddress: HostPort;
  /** Where the plain-TCP reference relay of path `name` listens (needs tcpReferences). */
  reference(name: string): HostPort;
  readonly emulator: {
    setOptions(name: string, patch: PathPatch): Promise<void>;
    down(name: string): Promise<void>;
    up(name: string): Promise<void>;
    stats(): Promise<PathStats[]>;
  };
  serverSample(gc?: boolean): Promise<ServerSample>;
  clientSample(): Promise<ClientSample>;
  /** The client's memory and CPU, after a full GC when `gc` (needs --expose-gc in clientExecArgv). */
  clientMemory(gc?: boolean): Promise<ProcessSample>;
  /** Process ids, for anyone who wants to watch them from outside (emulator -1 when there is none). */
  readonly pids: { server: number; client: number; emulator: number };
  close(): Promise<void>;
}

/** Paths from these loopback addresses with no link settings, for a rig with `emulate: false`. */
export function directPaths(locals: readonly string[]): RigPath[] {
  return locals.map((local, i) => ({ name: `path${i + 1}`, local, link: {} }));
}

/** Settings a byte stream cannot have (see linkem's notForStreams), left off the TCP references. */
const DATAGRAM_ONLY: ReadonlyArray<string> = ['loss', 'burst', 'gilbertElliott', 'reorder', 'duplicate', 'mtu', 'transforms'];

function streamPatch(p: PathPatch): PathPatch {
  const strip = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([k]) => !DATAGRAM_ONLY.includes(k)));
  const out = strip(p as Record<string, unknown>) as PathPatch;
  if (p.up) out.up = strip(p.up as Record<string, unknown>);
  if (p.down) out.down = strip(p.down as Record<string, unknown>);
  return out;
}

export async function startRig(opts: RigOptions): Promise<Rig> {
  const transport = opts.transport ?? 'udp';
  const emulate = opts.emulate ?? true;
  const keys = await newKeys();
  const closers = new Closers();
  try {
    const sink = await Sink.start();
    closers.push(() => sink.close());
    const server = await startServerChild({
      keys,
      transport,
      ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
      ...(opts.cc ? { cc: opts.cc } : {}),
      ...(opts.serverLimits ? { limits: opts.serverLimits } : {}),
      ...(opts.serverExecArgv ? { execArgv: opts.serverExecArgv } : {}),
    });
    closers.push(() => server.child.stop());

    const linkem = emulate ? await startEmulator(opts, transport, server.address, sink.address) : null;
    if (linkem) closers.push(() => linkem.stop());
    const noEmulator = (): never => {
      throw new Error('this rig has no link emulator (emulate: false)');
    };
    const relay = (name: string): HostPort => {
      const p = linkem ? linkem.ready.paths.find((x) => x.name === name) : noEmulator();
      if (!p) throw new Error(`no emulated path "${name}"${name.endsWith('-tcp') ? ' (start the rig with tcpReferences)' : ''}`);
      return p.listen;
    };

    const client = await startClientChild({
      keys,
      transport,
      // Through the emulator each path goes to its own relay; without it, straight to the server.
      server: linkem ? relay(opts.paths[0]!.name) : server.address,
      paths: opts.paths.map((p) => p.local),
      ...(linkem ? { pathServers: Object.fromEntries(opts.paths.map((p) => [p.local, relay(p.name)])) } : {}),
      forwardTo: sink.address,
      ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
      ...(opts.cc ? { cc: opts.cc } : {}),
      ...(opts.clientExecArgv ? { execArgv: opts.clientExecArgv } : {}),
    });
    closers.push(() => client.child.stop());

    return {
      sink,
      forward: client.forward,
      socks: client.socks,
      seed: linkem?.ready.seed ?? opts.seed ?? 0,
      serverAddress: server.address,
      reference: (name) => relay(`${name}-tcp`),
      emulator: {
        setOptions: async (name, patch) => void (linkem ? await linkem.request('setOptions', { name, patch }) : noEmulator()),
        down: async (name) => void (linkem ? await linkem.request('down', name) : noEmulator()),
        up: async (name) => void (linkem ? await linkem.request('up', name) : noEmulator()),
        stats: () => (linkem ? linkem.request<PathStats[]>('stats') : noEmulator()),
      },
      serverSample: (gc = false) => server.child.request<ServerSample>(gc ? 'gcSample' : 'sample'),
      clientSample: () => client.child.request<ClientSample>('sample'),
      clientMemory: (gc = false) => client.child.request<ProcessSample>(gc ? 'gcMemory' : 'memory'),
      pids: { server: server.child.pid, client: client.child.pid, emulator: linkem?.pid ?? -1 },
      close: () => closers.closeAll(),
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** The link emulator child: one relay per path to the server, plus the plain-TCP references. */
function startEmulator(opts: RigOptions, transport: 'udp' | 'ws', server: HostPort, sink: HostPort): Promise<RigChild<{ paths: PathInfo[]; seed: number }>> {
  const config: LinkEmulatorConfig = {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    paths: [
      ...opts.paths.map((p) => ({ name: p.name, protocol: transport === 'ws' ? ('tcp' as const) : ('udp' as const), listen: `${p.local}:0`, target: `${server.host}:${server.port}`, ...(transport === 'ws' ? streamPatch(p.link) : p.link) })),
      ...(opts.tcpReferences ? opts.paths.map((p) => ({ name: `${p.name}-tcp`, protocol: 'tcp' as const, listen: `${p.local}:0`, target: `${sink.host}:${sink.port}`, ...streamPatch(p.link) })) : []),
    ],
  };
  return RigChild.start('link emulator', new URL('./linkem-process.ts', import.meta.url), config);
}
