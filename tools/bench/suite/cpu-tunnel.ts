/**
 * The tunnel without the link emulator, for CPU figures: mptun-server and mptun-client each
 * in their own process (the rig's own child modules), the client's paths pointed straight
 * at the server's listener, and the TCP sink in the measuring process.
 *
 *   traffic ──► mptun-client (-L / SOCKS5) ──► mptun-server ──► sink
 *
 * On a 2-core machine a link emulator in the middle costs a third of the CPU at loopback
 * speed (every datagram crosses one more process), so "how fast can the tunnel go" is
 * measured without it. Everything else matches startRig: same keys, same config.
 */
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import type { ServerLimits } from '../../../apps/server/src/index.js';
import { RigChild, Sink, type ClientSample, type HostPort, type ServerSample } from '../rig/index.js';
import type { ClientChildArg } from '../rig/client-process.js';
import type { ServerChildArg } from '../rig/server-process.js';

export interface DirectTunnelOptions {
  transport: 'udp' | 'ws';
  /** Loopback addresses the client's paths leave from, one path each, e.g. ["127.0.0.2"]. */
  locals: string[];
  scheduler?: string;
  cc?: string;
  serverLimits?: Partial<ServerLimits>;
  serverExecArgv?: string[];
}

export interface DirectTunnel {
  readonly sink: Sink;
  /** The client's port forward to the sink. */
  readonly forward: HostPort;
  readonly socks: HostPort;
  readonly pids: { server: number; client: number };
  serverSample(gc?: boolean): Promise<ServerSample>;
  clientSample(): Promise<ClientSample>;
  close(): Promise<void>;
}

const rigModule = (name: string): URL => new URL(`../rig/${name}`, import.meta.url);

export async function startDirectTunnel(opts: DirectTunnelOptions): Promise<DirectTunnel> {
  if (opts.locals.length === 0) throw new Error('startDirectTunnel: at least one path');
  const crypto = await loadCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const sink = await Sink.start();
    closers.push(() => sink.close());

    const serverArg: ServerChildArg = {
      privateKey: encodeKey(serverKeys.privateKey),
      clientPublicKey: encodeKey(clientKeys.publicKey),
      listen: [opts.transport === 'ws' ? { transport: 'ws', host: '127.0.0.1', port: 0, path: '/mptun' } : { transport: 'udp', host: '127.0.0.1', port: 0 }],
      ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
      ...(opts.cc ? { cc: opts.cc } : {}),
      ...(opts.serverLimits ? { limits: opts.serverLimits } : {}),
    };
    const server = await RigChild.start<{ addresses: HostPort[] }>('mptun-server', rigModule('server-process.ts'), serverArg, opts.serverExecArgv);
    closers.push(() => server.stop());
    const serverPort = server.ready.addresses[0]!.port;

    const clientArg: ClientChildArg = {
      privateKey: encodeKey(clientKeys.privateKey),
      config: {
        server: `127.0.0.1:${serverPort}`,
        serverKey: encodeKey(serverKeys.publicKey),
        transport: opts.transport,
        paths: opts.locals,
        socks: '127.0.0.1:0',
        forwards: [`127.0.0.1:0:${sink.address.host}:${sink.address.port}`],
        connectTimeoutMs: 15_000,
        ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
        ...(opts.cc ? { cc: opts.cc } : {}),
      },
    };
    const client = await RigChild.start<{ socks: HostPort; forwards: Array<{ bind: HostPort }> }>('mptun-client', rigModule('client-process.ts'), clientArg);
    closers.push(() => client.stop());

    return {
      sink,
      forward: client.ready.forwards[0]!.bind,
      socks: client.ready.socks,
      pids: { server: server.pid, client: client.pid },
      serverSample: (gc = false) => server.request<ServerSample>(gc ? 'gcSample' : 'sample'),
      clientSample: () => client.request<ClientSample>('sample'),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
