/**
 * The attacks' own rig, built by hand from the bench rig's child modules because the
 * attacks need two things the bench rig does not give: the server's public key (to forge
 * initiations whose mac1 checks out) and a capture relay on the honest path (to replay
 * real datagrams):
 *
 *   mptun-client ─► link emulator (127.0.0.2) ─► capture relay ─► mptun-server ─► sink
 *
 * Every piece but the sink runs in its own process; close() stops them all.
 */
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import type { ServerLimits } from '../../apps/server/src/index.js';
import { RigChild, Sink, type HostPort, type ServerSample, type ClientSample } from '../bench/rig/index.js';
import type { ClientChildArg } from '../bench/rig/client-process.js';
import type { ServerChildArg } from '../bench/rig/server-process.js';
import type { LinkEmulatorConfig, PathInfo, PathPatch, PathStats } from '../src/linkem/index.js';
import type { RelayChildArg } from './attack-relay-process.js';
import type { RelayStats } from './attack-relay.js';

export interface AttackRigOptions {
  seed: number;
  /** The honest path's link. */
  link: PathPatch;
  serverLimits?: Partial<ServerLimits>;
}

export interface Captured {
  initiations: Buffer[];
  sample: Buffer[];
  recent: Buffer[];
}

export interface AttackRig {
  readonly sink: Sink;
  readonly forward: HostPort;
  readonly socks: HostPort;
  /** The server's UDP socket itself, bypassing emulator and relay. */
  readonly serverAddress: HostPort;
  readonly serverPublicKey: Uint8Array;
  /** Where the honest path leaves the client. */
  readonly clientPathAddress: string;
  serverSample(gc?: boolean): Promise<ServerSample>;
  clientSample(): Promise<ClientSample>;
  relayStats(): Promise<RelayStats>;
  /** Bytes the emulated link delivered towards the client so far. */
  linkDownBytes(): Promise<number>;
  captured(): Promise<Captured>;
  /** Copies of captured datagrams sent from the honest path's own socket; resolves with the count. */
  replay(mode: 'duplicate' | 'old' | 'bitflip' | 'initiation', count: number, perSecond: number, seed: number): Promise<number>;
  readonly pids: { server: number; client: number; emulator: number; relay: number };
  close(): Promise<void>;
}

const rigModule = (name: string): URL => new URL(`../bench/rig/${name}`, import.meta.url);
const REPLAY_TIMEOUT_MS = 120_000;

export async function startAttackRig(opts: AttackRigOptions): Promise<AttackRig> {
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
      listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
      ...(opts.serverLimits ? { limits: opts.serverLimits } : {}),
    };
    const server = await RigChild.start<{ addresses: HostPort[] }>('mptun-server', rigModule('server-process.ts'), serverArg, ['--expose-gc']);
    closers.push(() => server.stop());
    const serverAddress: HostPort = { host: '127.0.0.1', port: server.ready.addresses[0]!.port };

    const relayArg: RelayChildArg = { server: serverAddress };
    const relay = await RigChild.start<{ address: HostPort }>('capture relay', new URL('./attack-relay-process.ts', import.meta.url), relayArg);
    closers.push(() => relay.stop());

    const clientPathAddress = '127.0.0.2';
    const emulatorConfig: LinkEmulatorConfig = {
      seed: opts.seed,
      paths: [{ name: 'honest', protocol: 'udp', listen: `${clientPathAddress}:0`, target: `${relay.ready.address.host}:${relay.ready.address.port}`, ...opts.link }],
    };
    const linkem = await RigChild.start<{ paths: PathInfo[] }>('link emulator', rigModule('linkem-process.ts'), emulatorConfig);
    closers.push(() => linkem.stop());
    const hop = linkem.ready.paths[0]!.listen;

    const clientArg: ClientChildArg = {
      privateKey: encodeKey(clientKeys.privateKey),
      config: {
        server: `${hop.host}:${hop.port}`,
        serverKey: encodeKey(serverKeys.publicKey),
        transport: 'udp',
        paths: [clientPathAddress],
        pathServers: { [clientPathAddress]: `${hop.host}:${hop.port}` },
        socks: '127.0.0.1:0',
        forwards: [`127.0.0.1:0:${sink.address.host}:${sink.address.port}`],
        connectTimeoutMs: 15_000,
      },
    };
    const client = await RigChild.start<{ socks: HostPort; forwards: Array<{ bind: HostPort }> }>('mptun-client', rigModule('client-process.ts'), clientArg);
    closers.push(() => client.stop());

    const unpack = (list: string[]): Buffer[] => list.map((s) => Buffer.from(s, 'base64'));
    return {
      sink,
      forward: client.ready.forwards[0]!.bind,
      socks: client.ready.socks,
      serverAddress,
      serverPublicKey: serverKeys.publicKey,
      clientPathAddress,
      serverSample: (gc = false) => server.request<ServerSample>(gc ? 'gcSample' : 'sample'),
      clientSample: () => client.request<ClientSample>('sample'),
      relayStats: () => relay.request<RelayStats>('stats'),
      linkDownBytes: async () => (await linkem.request<PathStats[]>('stats'))[0]!.down.bytesDelivered,
      captured: async () => {
        const c = await relay.request<{ initiations: string[]; sample: string[]; recent: string[] }>('captured');
        return { initiations: unpack(c.initiations), sample: unpack(c.sample), recent: unpack(c.recent) };
      },
      replay: (mode, count, perSecond, seed) => relay.request<number>('replay', { mode, count, perSecond, seed }, REPLAY_TIMEOUT_MS),
      pids: { server: server.pid, client: client.pid, emulator: linkem.pid, relay: relay.pid },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
