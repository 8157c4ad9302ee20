/**
 * What the scale-out tests (several mptun-servers behind a stock balancer) share: two-path
 * clients, SOCKS5 echoes through them that stay open while the servers are looked at, each
 * server's figures from its /metrics page, and stopping the balancer.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { startApp, type AppProcess } from '../apps/client/test/cli-support.js';
import { socksOpen } from '../apps/server/test/cli-apps.js';

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

/**
 * SOCKS5 CONNECT through the client to the echo target, then `bytes` random bytes out and
 * back; the socket stays open so the test can look at the servers while it is. Resolves with
 * the hashes of what was sent and what came back.
 */
export async function echoThroughSocks(socks: string, targetPort: number, bytes: number): Promise<{ socket: Socket; sent: string; got: string }> {
  const { reply, socket } = await socksOpen(Number(socks.slice(socks.lastIndexOf(':') + 1)), targetPort);
  if (reply !== 0) throw new Error(`SOCKS reply ${reply}`);
  const payload = randomBytes(bytes);
  return new Promise((resolve, reject) => {
    let received = 0;
    const hash = createHash('sha256');
    socket.setTimeout(60_000, () => socket.destroy(new Error(`echo stalled after ${received} bytes`)));
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
      if (received >= bytes) {
        socket.setTimeout(0);
        resolve({ socket, sent: createHash('sha256').update(payload).digest('hex'), got: hash.digest('hex') });
      }
    });
    socket.resume(); // socksOpen hands it over paused, with any early bytes put back
    socket.write(payload);
  });
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
export async function settledFigures(servers: ReadonlyArray<{ host: string; metrics: string }>, perConnection: number): Promise<ServerFigures[]> {
  const figures = async (): Promise<ServerFigures[]> =>
    Promise.all(servers.map(async (s) => {
      const page = await (await fetch(s.metrics)).text();
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
 * `perClient` echoes through each SOCKS address at once, all hash-checked by the caller;
 * after 120 s without all of them done, `explain` prints what the processes said and it fails.
 */
export async function echoAll(socks: readonly string[], targetPort: number, perClient: number, bytes: number, explain: () => void): Promise<Array<{ socket: Socket; sent: string; got: string }>> {
  let watchdog: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => (watchdog = setTimeout(() => reject(new Error('the echoes did not finish within 120 s')), 120_000)));
  const echoes = Promise.all(socks.flatMap((s) => Array.from({ length: perClient }, () => echoThroughSocks(s, targetPort, bytes))));
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
 * An mptun-client with two paths (one per address) and a SOCKS5 proxy on loopback; `args`
 * name the server, the transport and the keys. Resolves once the proxy listens and both
 * paths are up, so its connections begin on the first address (the preferred one) rather
 * than on whichever path a still-racing start opened first: the spread a test expects over
 * the servers then does not depend on timing.
 */
export async function startTwoPathClient(args: readonly string[], addresses: { first: string; second: string }): Promise<{ app: AppProcess; socks: string }> {
  const app = startApp('client', ['run', ...args, '--path', addresses.first, '--path', addresses.second, '--socks', '127.0.0.1:0', '--log-format', 'json']);
  const socks = String((await app.waitForLog((l) => l['msg'] === 'SOCKS5 proxy listening'))['address']);
  for (const path of [addresses.first, addresses.second]) await app.waitForLog((l) => l['msg'] === 'path up' && l['path'] === path);
  return { app, socks };
}

/** SIGTERM a balancer the test started, and wait for it to exit. */
export async function stopBalancer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
