/**
 * The real apps on the two-link namespaces (two-links.ts): mptun-server in the server
 * namespace, mptun-client in the client namespace with one `--path` per client interface
 * (device-bound sockets) and `-L` forwards to the server address; and the kernel's MPTCP
 * endpoint that gives it the same second path. Used by the iface-down and testbed sections.
 */
import type { TwoLinkTopology } from './two-links.js';
import { startApp, type AppProcess, type KeyFiles } from '../../../../apps/client/test/cli-support.js';

const START_TIMEOUT_MS = 30_000;
const PATH_UP_TIMEOUT_MS = 15_000;

/** mptun-server in the server namespace on `listen` URLs; resolves once it has started. */
export async function startTunnelServer(topo: TwoLinkTopology, keys: KeyFiles, listen: readonly string[], extra: readonly string[] = []): Promise<AppProcess> {
  const args = ['run', ...listen.flatMap((u) => ['--listen', u]), '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', topo.serverAddress, '--log-format', 'json', ...extra];
  const server = startApp('server', args, { prefix: ['ip', 'netns', 'exec', topo.ns.server] });
  await server.waitForLog((l) => l['msg'] === 'server started', START_TIMEOUT_MS);
  return server;
}

export interface TunnelClientOptions {
  /** host:port of the server's tunnel listener (sealed and plain UDP). */
  server: string;
  /** `--transport` and its companions, e.g. ['--transport', 'ws', '--ws-url', url]. */
  transport: readonly string[];
  /** Local port → port on the server address, one `-L 127.0.0.1:local:server:remote` each. */
  forwards: ReadonlyArray<{ local: number; remote: number }>;
  /**
   * Wait for each path's "path up" too (default). A udp-plain client has no handshake of its
   * own, so its paths come up with the first proxied connection, not at start.
   */
  waitForPaths?: boolean;
}

/**
 * mptun-client in the client namespace, `--path` for each client interface; resolves once
 * every forward listens and (unless told otherwise) every path is up. The sockets leave by
 * their own device.
 */
export async function startTunnelClient(topo: TwoLinkTopology, keys: KeyFiles, o: TunnelClientOptions): Promise<AppProcess> {
  const paths = topo.links.flatMap((l) => ['--path', l.client]);
  const forwards = o.forwards.flatMap((f) => ['-L', `127.0.0.1:${f.local}:${topo.serverAddress}:${f.remote}`]);
  const client = startApp('client', ['run', '--server', o.server, '--server-key', keys.serverPublic, '--key', keys.clientKey, ...o.transport, ...paths, '--no-socks', ...forwards, '--log-format', 'json'], {
    prefix: ['ip', 'netns', 'exec', topo.ns.client],
  });
  try {
    for (const f of o.forwards) await client.waitForLog((l) => l['msg'] === 'forward listening' && l['address'] === `127.0.0.1:${f.local}`, START_TIMEOUT_MS);
    if (o.waitForPaths !== false) for (const l of topo.links) await client.waitForLog((x) => x['msg'] === 'path up' && x['path'] === `${l.net}.2`, PATH_UP_TIMEOUT_MS);
  } catch (e) {
    await client.stop(5000);
    throw e;
  }
  return client;
}

/** The kernel's MPTCP: a second subflow from c2, bound to it (as mptun's paths are). */
export async function kernelEndpoints(topo: TwoLinkTopology): Promise<void> {
  for (const n of [topo.ns.client, topo.ns.server]) await topo.ip(n, 'mptcp', 'limits', 'set', 'subflow', '2', 'add_addr_accepted', '2');
  const b = topo.links[1];
  await topo.ip(topo.ns.client, 'mptcp', 'endpoint', 'add', `${b.net}.2`, 'dev', b.client, 'subflow');
}
