/**
 * The pieces the scale-out tests share (scale-out-nginx, scale-out-drain, scale-out-haproxy):
 * Debian's nginx started in the foreground with a deploy file, mptun-servers each with its own
 * address behind a balancer, clients with two paths, SOCKS echoes that stay open while the
 * servers are looked at, and reading the servers' /metrics. Balancer and servers run in the
 * site namespace, clients in the clients namespace (scale-out-netns.ts); the test process
 * reaches into both through that file's bridges.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { startApp, type AppProcess, type KeyFiles } from '../apps/client/test/cli-support.js';
import { socksOpen } from '../apps/server/test/cli-apps.js';
import { clientAddresses, ECHO_PORT, netnsMissing, type ScaleOutNetwork } from './scale-out-netns.js';

export const REPO = join(import.meta.dirname, '..');
export const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
/** Debian puts nginx in /usr/sbin, which a user's PATH may leave out. */
export const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
/** The servers behind nginx (deploy/nginx/*.conf), in the site namespace. */
export const SERVERS = ['10.47.0.11', '10.47.0.12', '10.47.0.13'];
/** Client `i`'s two paths (behind nginx): the first reaches the balancer, the second only its server. */
export const twoPaths = (i: number): { first: string; second: string } => clientAddresses(i, 20, 40);

function skipReason(): string | undefined {
  const v = spawnSync(NGINX, ['-v'], { stdio: 'ignore' });
  if (v.error !== undefined || v.status !== 0) return 'nginx is not installed (apt-get install -y nginx libnginx-mod-stream)';
  if (!existsSync(STREAM_MODULE)) return `nginx's stream module is missing (${STREAM_MODULE}; apt-get install -y libnginx-mod-stream)`;
  return undefined;
}
/**
 * Why the nginx tests cannot run here: no namespaces (not root), or no nginx. In CI
 * (scripts/test.sh installs nginx; the benchmark's namespaces already need root) neither is
 * a reason: the test fails there rather than pass unrun.
 */
export const nginxMissing = process.env.CI ? undefined : (netnsMissing ?? skipReason());

/** What startNginx needs of a way of balancing: the deploy file and the shared address. */
export interface BalancerFile {
  conf: string;
  /** The proto of the shared address in `ss` and tshark (udp or tcp). */
  proto: 'udp' | 'tcp';
  shared: string;
}

/** Whether `address` (host:port) is bound in the namespace: the socket table, as `ss` lists it. */
export function boundIn(net: ScaleOutNetwork, proto: 'udp' | 'tcp', address: string): boolean {
  const ss = spawnSync(...net.command('site', ['ss', proto === 'udp' ? '-uanH' : '-tlnH', 'src', address]), { encoding: 'utf8' });
  return ss.stdout.includes(address);
}

/** nginx in the foreground in the site namespace with the deploy file included, its pid and logs in `dir`. */
export async function startNginx(net: ScaleOutNetwork, dir: string, b: BalancerFile): Promise<{ child: ChildProcess; errors: () => string }> {
  const main = join(dir, 'nginx.conf');
  writeFileSync(
    main,
    [
      ...(b.proto === 'udp' ? [`load_module ${STREAM_MODULE};`] : []),
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} notice;`,
      'events { worker_connections 1024; }',
      `include ${b.conf};`,
      '',
    ].join('\n'),
  );
  // -t binds the listen addresses too: in the namespace, where they are.
  const check = spawnSync(...net.command('site', [NGINX, '-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', main]), { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the config: ${check.stderr}`);
  let errors = '';
  const child = spawn(...net.command('site', [NGINX, '-p', dir, '-e', join(dir, 'error.log'), '-c', main]), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors += d));
  // Ready once the shared address is bound: a UDP probe gets no answer, so watch the socket table.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (boundIn(net, b.proto, b.shared)) break;
    if (child.exitCode !== null) throw new Error(`nginx exited: ${errors}`);
    if (Date.now() > deadline) throw new Error(`nginx did not bind ${b.shared}: ${errors}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, errors: () => errors };
}

/** The sum of every series of `name` in a Prometheus text page. */
export function metricSum(page: string, name: string): number {
  let sum = 0;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Opens a stream to a client's SOCKS port (in the clients namespace). */
export type Dial = () => Socket;

/**
 * SOCKS5 CONNECT through the client to the echo target in the site namespace, then `bytes`
 * random bytes out and back; the socket stays open so the test can look at the servers while
 * it is. Resolves with the hashes of what was sent and what came back.
 */
export async function echoThroughSocks(socks: Dial, bytes: number, stallMs = 60_000): Promise<{ socket: Socket; sent: string; got: string }> {
  const { reply, socket } = await socksOpen(socks, ECHO_PORT);
  if (reply !== 0) throw new Error(`SOCKS reply ${reply}`);
  const payload = randomBytes(bytes);
  return new Promise((resolve, reject) => {
    let received = 0;
    const hash = createHash('sha256');
    socket.setTimeout(stallMs, () => socket.destroy(new Error(`echo stalled after ${received} of ${bytes} bytes`)));
    socket.on('error', reject);
    const onData = (d: Buffer): void => {
      hash.update(d);
      received += d.length;
      if (received < bytes) return;
      socket.setTimeout(0);
      socket.off('data', onData).pause(); // echoAgain may read on; a later error still finds a listener
      resolve({ socket, sent: createHash('sha256').update(payload).digest('hex'), got: hash.digest('hex') });
    };
    socket.on('data', onData);
    socket.resume(); // socksOpen hands it over paused, with any early bytes put back
    socket.write(payload);
  });
}

/** `bytes` more random bytes out on an echo connection and back: the hashes of both. */
export function echoAgain(s: Socket, bytes: number, stallMs = 60_000): Promise<{ sent: string; got: string }> {
  const payload = randomBytes(bytes);
  const hash = createHash('sha256');
  let received = 0;
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      hash.update(d);
      received += d.length;
      if (received < bytes) return;
      s.setTimeout(0);
      s.off('data', onData).off('close', onClose).pause();
      resolve({ sent: createHash('sha256').update(payload).digest('hex'), got: hash.digest('hex') });
    };
    const onClose = (): void => reject(new Error(`echo closed after ${received} of ${bytes} bytes`));
    s.setTimeout(stallMs, () => s.destroy(new Error(`echo stalled after ${received} of ${bytes} bytes`)));
    s.on('data', onData).on('error', reject).on('close', onClose);
    s.resume();
    s.write(payload);
  });
}

/** A server as the tests look at it: its address, its process, its /metrics page and POST actions. */
export interface ScaleOutServer {
  host: string;
  app: AppProcess;
  /** Its /metrics page now. */
  metricsPage(): Promise<string>;
  /** POST to a path of its metrics port (e.g. /drain): the status answered. */
  post(path: string): Promise<number>;
}

/**
 * An mptun-server in the site namespace with `args`, relaying to the echo target, JSON logs,
 * metrics on the namespace's loopback (which the test reaches through the site's bridge).
 */
export async function startSiteServer(net: ScaleOutNetwork, host: string, keys: KeyFiles, args: string[]): Promise<ScaleOutServer> {
  const app = startApp('server', [
    'run', ...args, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', `127.0.0.1:${ECHO_PORT}`,
    '--metrics', '127.0.0.1:0', '--log-format', 'json',
  ], { prefix: net.prefix('site') });
  const metrics = String((await app.waitForLog((l) => l['msg'] === 'metrics'))['url']);
  return {
    host,
    app,
    metricsPage: async () => (await net.http('site', metrics)).body,
    post: async (path) => (await net.http('site', metrics.replace(/\/metrics$/, path), { method: 'POST' })).status,
  };
}

/** The sums of `names` in each server's /metrics page. */
export async function scrape(servers: readonly ScaleOutServer[], names: string[]): Promise<Array<Record<string, number>>> {
  return Promise.all(servers.map(async (s) => {
    const page = await s.metricsPage();
    return Object.fromEntries(names.map((n) => [n, metricSum(page, n)]));
  }));
}

/** One mptun-server behind the balancer: its own address announced, the C bit set. */
export function startScaleOutServer(net: ScaleOutNetwork, host: string, keys: KeyFiles, listen: string[], announce: string, extra: string[] = []): Promise<ScaleOutServer> {
  return startSiteServer(net, host, keys, [...listen, '--behind-balancer', '--announce', announce, ...extra]);
}

export interface ScaleOutClient {
  first: string;
  second: string;
  app: AppProcess;
  /** Opens a stream to its SOCKS port. */
  socks: Dial;
}

/** One mptun-client in the clients namespace with two paths toward the balancer (its addresses put on the links first), SOCKS on that namespace's loopback. */
export async function startScaleOutClient(net: ScaleOutNetwork, c: { first: string; second: string }, keys: KeyFiles, clientArgs: string[]): Promise<ScaleOutClient> {
  await net.addClientAddresses([c.first, c.second]);
  const app = startApp('client', [
    'run', ...clientArgs, '--server-key', keys.serverPublic, '--key', keys.clientKey,
    '--path', c.first, '--path', c.second, '--socks', '127.0.0.1:0', '--log-format', 'json',
  ], { prefix: net.prefix('clients') });
  const address = String((await app.waitForLog((l) => l['msg'] === 'SOCKS5 proxy listening'))['address']);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return { ...c, app, socks: () => net.dial('clients', '127.0.0.1', port) };
}

/** One server's figures from its /metrics page. */
export interface ServerFigures {
  host: string;
  /** Connections open now, their subflows, and connections accepted in all. */
  open: number;
  subflows: number;
  connections: number;
}

/**
 * Each server's figures once every open connection has `perConnection` subflows (a join that
 * went to the wrong server leaves fewer), or as they are after 15 s.
 */
export async function settledFigures(servers: readonly ScaleOutServer[], perConnection: number): Promise<ServerFigures[]> {
  const figures = async (): Promise<ServerFigures[]> =>
    Promise.all(servers.map(async (s) => {
      const page = await s.metricsPage();
      return { host: s.host, open: metricSum(page, 'mptun_connections_open'), subflows: metricSum(page, 'mptun_subflows'), connections: metricSum(page, 'mptun_connections_total') };
    }));
  let seen = await figures();
  const deadline = Date.now() + 15_000;
  while (seen.some((f) => f.subflows !== perConnection * f.open) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    seen = await figures();
  }
  return seen;
}

/**
 * `perClient` echoes through each SOCKS address, all left open and hash-checked by the
 * caller, started `wave` per client at a time (default all at once); after 120 s without all
 * of them done, `explain` prints what the processes said and it fails.
 */
export async function echoAll(socks: readonly Dial[], perClient: number, bytes: number, explain: () => void, wave = perClient): Promise<Array<{ socket: Socket; sent: string; got: string }>> {
  let watchdog: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => (watchdog = setTimeout(() => reject(new Error('the echoes did not finish within 120 s')), 120_000)));
  const echoes = (async () => {
    const done: Array<{ socket: Socket; sent: string; got: string }> = [];
    for (let started = 0; started < perClient; started += wave) {
      const n = Math.min(wave, perClient - started);
      done.push(...(await Promise.all(socks.flatMap((s) => Array.from({ length: n }, () => echoThroughSocks(s, bytes))))));
    }
    return done;
  })();
  return Promise.race([echoes, overdue]).finally(() => clearTimeout(watchdog)).catch((e: unknown) => {
    explain();
    throw e;
  });
}

/** The last lines each process wrote to stderr, to tell a balancer problem from an mptun one. */
export function printLastWords(processes: ReadonlyArray<{ who: string; app: { stderr(): string } }>): void {
  for (const p of processes) console.log(`--- ${p.who}\n${p.app.stderr().split('\n').slice(-12).join('\n')}`);
}

/**
 * startScaleOutClient, resolved once both paths are up, so its connections begin on the first
 * address (the preferred one) rather than on whichever path a still-racing start opened
 * first: the spread a test expects over the servers then does not depend on timing.
 */
export async function startTwoPathClient(net: ScaleOutNetwork, c: { first: string; second: string }, keys: KeyFiles, clientArgs: string[]): Promise<ScaleOutClient> {
  const client = await startScaleOutClient(net, c, keys, clientArgs);
  for (const path of [c.first, c.second]) await client.app.waitForLog((l) => l['msg'] === 'path up' && l['path'] === path);
  return client;
}

/** SIGTERM a balancer the test started, and wait for it to exit. */
export async function stopBalancer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
