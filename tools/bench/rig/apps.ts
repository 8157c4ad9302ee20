/**
 * The two apps as rig children, and what starting them needs: fresh keys, the server's
 * config, the client's config pointed at the server (or at a relay per path). The rig, and
 * the torture's attack rig with its own topology, assemble tunnels from these.
 */
import { encodeKey, generateKeypair, loadCrypto, type Keypair } from '@mptun/session';
import type { ServerLimits } from '../../../apps/server/src/index.js';
import type { ClientChildArg } from './client-process.js';
import { RigChild } from './ipc.js';
import type { ServerChildArg } from './server-process.js';
import type { HostPort } from './traffic.js';

export interface TunnelKeys {
  server: Keypair;
  client: Keypair;
}

export async function newKeys(): Promise<TunnelKeys> {
  const crypto = await loadCrypto();
  return { server: generateKeypair(crypto), client: generateKeypair(crypto) };
}

/** Things to stop, stopped in reverse order of start; errors while stopping are ignored. */
export class Closers {
  private readonly list: Array<() => Promise<void>> = [];

  push(close: () => Promise<void>): void {
    this.list.push(close);
  }

  async closeAll(): Promise<void> {
    for (const c of this.list.splice(0).reverse()) await c().catch(() => {});
  }
}

const moduleUrl = (name: string): URL => new URL(`./${name}`, import.meta.url);
const hp = (a: HostPort): string => `${a.host}:${a.port}`;

export interface ServerChildOptions {
  keys: TunnelKeys;
  transport: 'udp' | 'ws';
  scheduler?: string;
  cc?: string;
  limits?: Partial<ServerLimits>;
  /** Listeners besides the main one (the attacks add ws and udp-plain). */
  extraListen?: ServerChildArg['listen'];
  /** Needed for a udp-plain listener among `extraListen`, as --insecure-plain-udp is. */
  insecurePlainUdp?: boolean;
  /** Extra node flags, e.g. ["--expose-gc"]. */
  execArgv?: string[];
}

export interface ServerAddress extends HostPort {
  transport: string;
}

/** mptun-server on 127.0.0.1, any free port; `address` is the main listener, `addresses` all of them in order. */
export async function startServerChild(o: ServerChildOptions): Promise<{ child: RigChild<{ addresses: ServerAddress[] }>; address: HostPort; addresses: ServerAddress[] }> {
  const arg: ServerChildArg = {
    privateKey: encodeKey(o.keys.server.privateKey),
    clientPublicKey: encodeKey(o.keys.client.publicKey),
    listen: [o.transport === 'ws' ? { transport: 'ws', host: '127.0.0.1', port: 0, path: '/mptun' } : { transport: 'udp', host: '127.0.0.1', port: 0 }, ...(o.extraListen ?? [])],
    ...(o.insecurePlainUdp ? { insecurePlainUdp: true } : {}),
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
    ...(o.cc ? { cc: o.cc } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
  };
  const child = await RigChild.start<{ addresses: ServerAddress[] }>('mptun-server', moduleUrl('server-process.ts'), arg, o.execArgv);
  return { child, address: { host: '127.0.0.1', port: child.ready.addresses[0]!.port }, addresses: child.ready.addresses };
}

export interface ClientChildOptions {
  keys: TunnelKeys;
  transport: 'udp' | 'ws';
  /** Where paths go unless `pathServers` names another address for one. */
  server: HostPort;
  /** Loopback addresses to open paths from, one path each. */
  paths: string[];
  pathServers?: Record<string, HostPort>;
  /** The port forward's target. */
  forwardTo: HostPort;
  scheduler?: string;
  cc?: string;
  /** Extra node flags, e.g. ["--cpu-prof"]. */
  execArgv?: string[];
}

/** mptun-client with a SOCKS5 proxy and one port forward, on 127.0.0.1, any free ports. */
export async function startClientChild(o: ClientChildOptions): Promise<{ child: RigChild; forward: HostPort; socks: HostPort }> {
  const arg: ClientChildArg = {
    privateKey: encodeKey(o.keys.client.privateKey),
    config: {
      server: hp(o.server),
      serverKey: encodeKey(o.keys.server.publicKey),
      transport: o.transport,
      paths: o.paths,
      ...(o.pathServers ? { pathServers: Object.fromEntries(Object.entries(o.pathServers).map(([k, v]) => [k, hp(v)])) } : {}),
      socks: '127.0.0.1:0',
      forwards: [`127.0.0.1:0:${o.forwardTo.host}:${o.forwardTo.port}`],
      connectTimeoutMs: 15_000,
      ...(o.scheduler ? { scheduler: o.scheduler } : {}),
      ...(o.cc ? { cc: o.cc } : {}),
    },
  };
  const child = await RigChild.start<{ socks: HostPort; forwards: Array<{ bind: HostPort }> }>('mptun-client', moduleUrl('client-process.ts'), arg, o.execArgv);
  return { child, forward: child.ready.forwards[0]!.bind, socks: child.ready.socks };
}
