/**
 * The attacks' own rig, assembled from the bench rig's app children because the
 * attacks need two things the bench rig does not give: the server's public key (to forge
 * initiations whose mac1 checks out) and a capture relay on the honest path (to replay
 * real datagrams):
 *
 *   mptun-client ─► link emulator (127.0.0.2) ─► capture relay ─► mptun-server ─► sink
 *
 * The server also listens on WebSocket and on udp-plain (as --insecure-plain-udp opens it),
 * so the listener floods hit the same process the honest download goes through.
 *
 * Every piece but the sink runs in its own process; close() stops them all.
 */
import type { ServerLimits } from '../../apps/server/src/index.js';
import { Closers, newKeys, RigChild, Sink, startClientChild, startServerChild, type ClientSample, type HostPort, type ServerSample, type TunnelKeys } from '../bench/rig/index.js';
import type { LinkEmulatorConfig, PathInfo, PathPatch, PathStats } from '@mptun/linkem';
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
  /** The same server's udp-plain and WebSocket listeners (path /mptun). */
  readonly plainAddress: HostPort;
  readonly wsAddress: HostPort;
  readonly serverPublicKey: Uint8Array;
  /** The honest client's keys (authorized at the server) and the server's. */
  readonly keys: TunnelKeys;
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
  const keys = await newKeys();
  const closers = new Closers();
  try {
    const sink = await Sink.start();
    closers.push(() => sink.close());
    const server = await startServerChild({
      keys,
      transport: 'udp',
      extraListen: [
        { transport: 'ws', host: '127.0.0.1', port: 0, path: '/mptun' },
        { transport: 'udp-plain', host: '127.0.0.1', port: 0 },
      ],
      insecurePlainUdp: true,
      ...(opts.serverLimits ? { limits: opts.serverLimits } : {}),
      execArgv: ['--expose-gc'],
    });
    closers.push(() => server.child.stop());
    const serverAddress = server.address;
    const listener = (transport: string): HostPort => {
      const a = server.addresses.find((x) => x.transport === transport);
      if (!a) throw new Error(`the rig's server has no ${transport} listener`);
      return { host: '127.0.0.1', port: a.port };
    };

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

    const client = await startClientChild({ keys, transport: 'udp', server: hop, paths: [clientPathAddress], pathServers: { [clientPathAddress]: hop }, forwardTo: sink.address });
    closers.push(() => client.child.stop());

    const unpack = (list: string[]): Buffer[] => list.map((s) => Buffer.from(s, 'base64'));
    return {
      sink,
      forward: client.forward,
      socks: client.socks,
      serverAddress,
      plainAddress: listener('udp-plain'),
      wsAddress: listener('ws'),
      serverPublicKey: keys.server.publicKey,
      keys,
      clientPathAddress,
      serverSample: (gc = false) => server.child.request<ServerSample>(gc ? 'gcSample' : 'sample'),
      clientSample: () => client.child.request<ClientSample>('sample'),
      relayStats: () => relay.request<RelayStats>('stats'),
      linkDownBytes: async () => (await linkem.request<PathStats[]>('stats'))[0]!.down.bytesDelivered,
      captured: async () => {
        const c = await relay.request<{ initiations: string[]; sample: string[]; recent: string[] }>('captured');
        return { initiations: unpack(c.initiations), sample: unpack(c.sample), recent: unpack(c.recent) };
      },
      replay: (mode, count, perSecond, seed) => relay.request<number>('replay', { mode, count, perSecond, seed }, REPLAY_TIMEOUT_MS),
      pids: { server: server.child.pid, client: client.child.pid, emulator: linkem.pid, relay: relay.pid },
      close: () => closers.closeAll(),
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}
