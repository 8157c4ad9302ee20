/**
 * HAProxy for the scale-out tests (scale-out-haproxy, scale-out-drain): Debian's haproxy in
 * the foreground in the site namespace (scale-out-netns.ts) with deploy/haproxy/mptun-ws.cfg
 * as it is, and the three mptun-servers on WebSocket that file names, each with its affinity
 * token and its agent check, on a subnet the clients have no route to.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyFiles } from '../apps/client/test/cli-support.js';
import { clientAddresses, netnsMissing, type ScaleOutNetwork } from './scale-out-netns.js';
import { boundIn, REPO, startSiteServer, type ScaleOutServer } from './scale-out-support.js';

const CONF = join(REPO, 'deploy/haproxy/mptun-ws.cfg');
/** Debian puts haproxy in /usr/sbin, which a user's PATH may leave out. */
const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
export const PROXY = '10.47.0.110:8080';
/** The servers of the deploy file: address, token, and the port of its agent check. */
export const WS_SERVERS = [
  { host: '10.47.9.31', token: 's1' },
  { host: '10.47.9.32', token: 's2' },
  { host: '10.47.9.33', token: 's3' },
];
/**
 * Client `i`'s two addresses behind HAProxy. `balance source` (map-based) puts an address on
 * server (its 32-bit value mod 3); 10.47.1.x and 10.47.2.y are x + 1 and y + 2 mod 3, so
 * 10.47.1.(50+i) and 10.47.2.(60+i) are never on one server, and clients 1-5 cover all three.
 */
export const haproxyClient = (i: number): { first: string; second: string } => clientAddresses(i, 50, 60);
const AGENT_PORT = 8081;

function skipReason(): string | undefined {
  const v = spawnSync(HAPROXY, ['-v'], { stdio: 'ignore' });
  if (v.error !== undefined || v.status !== 0) return 'haproxy is not installed (apt-get install -y haproxy)';
  return undefined;
}
/**
 * Why the HAProxy tests cannot run here: no namespaces (not root), or no haproxy. In CI
 * (scripts/test.sh installs haproxy; the benchmark's namespaces already need root) neither
 * is a reason: the test fails there rather than pass unrun.
 */
export const haproxyMissing = process.env.CI ? undefined : (netnsMissing ?? skipReason());

/** One upgrade as HAProxy logged it (the deploy file's log-format). */
export interface Routed {
  client: string;
  server: string;
  status: number;
  /** The token the path asked for, or null. */
  affinity: string | null;
}

export interface Haproxy {
  child: ChildProcess;
  routed: () => Routed[];
  output: () => string;
}

/**
 * HAProxy in the foreground in the site namespace with the deploy file as it is; the only
 * thing added is a global section that sends its log lines to stdout (Debian's haproxy.cfg
 * sends them to syslog).
 */
export async function startHaproxy(net: ScaleOutNetwork, dir: string): Promise<Haproxy> {
  const global = join(dir, 'global.cfg');
  writeFileSync(global, ['global', '    log stdout format raw local0 info', ''].join('\n'));
  const check = spawnSync(HAPROXY, ['-c', '-f', global, '-f', CONF], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c refused the config: ${check.stdout}${check.stderr}`);
  let out = '';
  const child = spawn(...net.command('site', [HAPROXY, '-db', '-f', global, '-f', CONF]), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (boundIn(net, 'tcp', PROXY)) break;
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`haproxy did not bind ${PROXY}: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const routed = (): Routed[] =>
    [...out.matchAll(/^mptun-ws client=(\S+):\d+ server=(\S+) status=(-?\d+) affinity=(\S*)$/gm)].map((m) => ({
      client: m[1]!,
      server: m[2]!,
      status: Number(m[3]),
      affinity: m[4] === '' || m[4] === '-' ? null : m[4]!,
    }));
  return { child, routed, output: () => out };
}

export interface WsServer extends ScaleOutServer {
  token: string;
}

/**
 * One server of the deploy file: WebSocket on host:8080 with its token, its agent check on
 * host:8081, nothing announced (clients reach it only through the proxy), `extra` flags last.
 */
export async function startWsServer(net: ScaleOutNetwork, s: { host: string; token: string }, keys: KeyFiles, extra: string[]): Promise<WsServer> {
  const server = await startSiteServer(net, s.host, keys, ['--listen', `ws://${s.host}:8080/mptun`, '--affinity-token', s.token, '--balancer-agent', `${s.host}:${AGENT_PORT}`, ...extra]);
  return { ...server, token: s.token };
}
