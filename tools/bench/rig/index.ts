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
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import type { ServerLimits } from '../../../apps/server/src/index.js';
import type { LinkEmulatorConfig, PathPatch, PathStats, PathInfo } from '../../src/linkem/index.js';
import type { SubflowInfo } from '@mptun/node';
import { RigChild, type ProcessSample } from './ipc.js';
import { Sink } from './sink.js';
import type { HostPort } from './traffic.js';
import type { ClientChildArg } from './client-process.js';
import type { ServerChildArg } from './server-process.js';

export { Sink, SinkCommand, fillPattern, patternByte, patternMismatch } from './sink.js';
export { connectTcp, connectSocks, timedDownload, timedUpload, Sampler, type BulkResult, type HostPort } from './traffic.js';
export { RigChild, type ProcessSample } from './ipc.js';

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
  /** Process ids, for anyone who wants to watch them from outside. */
  readonly pids: { server: number; client: number; emulator: number };
  close(): Promise<void>;
}

const moduleUrl = (name: string): URL => new URL(`./${name}`, import.meta.url);

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
  const crypto = await loadCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => {});
    closers.length = 0;
  };
  try {
    const sink = await Sink.start();
    closers.push(() => sink.close());

    const serverArg: ServerChildArg = {
      privateKey: encodeKey(serverKeys.privateKey),
      clientPublicKey: encodeKey(clientKeys.publicKey),
      listen: [transport === 'ws' ? { transport: 'ws', host: '127.0.0.1', port: 0, path: '/mptun' } : { transport: 'udp', host: '127.0.0.1', port: 0 }],
      ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
      ...(opts.cc ? { cc: opts.cc } : {}),
      ...(opts.serverLimits ? { limits: opts.serverLimits } : {}),
    };
    const server = await RigChild.start<{ addresses: HostPort[] }>('mptun-server', moduleUrl('server-process.ts'), serverArg, opts.serverExecArgv);
    closers.push(() => server.stop());
    const serverPort = server.ready.addresses[0]!.port;

    const emulatorConfig: LinkEmulatorConfig = {
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      paths: [
        ...opts.paths.map((p) => ({ name: p.name, protocol: transport === 'ws' ? ('tcp' as const) : ('udp' as const), listen: `${p.local}:0`, target: `127.0.0.1:${serverPort}`, ...(transport === 'ws' ? streamPatch(p.link) : p.link) })),
        ...(opts.tcpReferences ? opts.paths.map((p) => ({ name: `${p.name}-tcp`, protocol: 'tcp' as const, listen: `${p.local}:0`, target: `127.0.0.1:${sink.address.port}`, ...streamPatch(p.link) })) : []),
      ],
    };
    const linkem = await RigChild.start<{ paths: PathInfo[]; seed: number }>('link emulator', moduleUrl('linkem-process.ts'), emulatorConfig);
    closers.push(() => linkem.stop());
    const relay = (name: string): HostPort => {
      const p = linkem.ready.paths.find((x) => x.name === name);
      if (!p) throw new Error(`no emulated path "${name}"${name.endsWith('-tcp') ? ' (start the rig with tcpReferences)' : ''}`);
      return p.listen;
    };
    const hp = (a: HostPort): string => `${a.host}:${a.port}`;

    const clientArg: ClientChildArg = {
      privateKey: encodeKey(clientKeys.privateKey),
      config: {
        server: hp(relay(opts.paths[0]!.name)),
        serverKey: encodeKey(serverKeys.publicKey),
        transport,
        paths: opts.paths.map((p) => p.local),
        pathServers: Object.fromEntries(opts.paths.map((p) => [p.local, hp(relay(p.name))])),
        socks: '127.0.0.1:0',
        forwards: [`127.0.0.1:0:${sink.address.host}:${sink.address.port}`],
        connectTimeoutMs: 15_000,
        ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
        ...(opts.cc ? { cc: opts.cc } : {}),
      },
    };
    const client = await RigChild.start<{ socks: HostPort; forwards: Array<{ bind: HostPort }> }>('mptun-client', moduleUrl('client-process.ts'), clientArg);
    closers.push(() => client.stop());

    return {
      sink,
      forward: client.ready.forwards[0]!.bind,
      socks: client.ready.socks,
      seed: linkem.ready.seed,
      serverAddress: { host: '127.0.0.1', port: serverPort },
      reference: (name) => relay(`${name}-tcp`),
      emulator: {
        setOptions: async (name, patch) => void (await linkem.request('setOptions', { name, patch })),
        down: async (name) => void (await linkem.request('down', name)),
        up: async (name) => void (await linkem.request('up', name)),
        stats: () => linkem.request<PathStats[]>('stats'),
      },
      serverSample: (gc = false) => server.request<ServerSample>(gc ? 'gcSample' : 'sample'),
      clientSample: () => client.request<ClientSample>('sample'),
      pids: { server: server.pid, client: client.pid, emulator: linkem.pid },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
