/**
 * The network the scale-out tests run in: two network namespaces the test makes (root only),
 * named by the test process's pid so parallel test files and CI runs never share one.
 *
 *   clients  mptun-so-c-<pid>                              site  mptun-so-s-<pid>
 *   c1 10.47.1.2/24, each client's first address ══ veth ══ s1 10.47.1.1
 *   c2 10.47.2.2/24, each client's second address ══ veth ══ s2 10.47.2.1
 *   10.47.0.0/24 via s1; from 10.47.2.0/24 via s2           on lo: the balancers (10.47.0.100
 *   (ip rule); no route to 10.47.9.0/24                     nginx, 10.47.0.110 HAProxy), the
 *                                                           servers (10.47.0.11-13 behind nginx,
 *                                                           10.47.9.31-33 behind HAProxy), the
 *                                                           echo target (127.0.0.1:7007)
 *
 * A client's two paths leave by different interfaces from different addresses; the balancer
 * sees them arrive on s1 and s2, where tshark watches. The HAProxy backends' subnet has no
 * route from the clients: they really cannot reach them. The deploy files name these
 * addresses and the tests run them as they are.
 *
 * The test process stays in the host namespace. It reaches the clients' SOCKS ports and the
 * servers' /metrics (both loopback-only inside their namespace) through a bridge in each
 * namespace: a small Node program started with `ip netns exec` that listens on a Unix socket
 * (a file, which no network namespace hides) and connects each incoming stream to the
 * address its first line names, inside the namespace. Nothing is added to the host's
 * interfaces or routes.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNamespace, netnsSkipReason } from '../apps/client/test/netns-support.js';
import { TwoLinkTopology, type TwoLink } from '../tools/bench/suite/kernel/two-links.js';

/** The two links, a gigabit each (tbf: far above what two shared cores push through mptun). */
const LINKS: readonly [TwoLink, TwoLink] = [
  { client: 'c1', server: 's1', net: '10.47.1', mbit: 1000 },
  { client: 'c2', server: 's2', net: '10.47.2', mbit: 1000 },
];
/** The subnet of the balancers and of the servers behind nginx: clients route to it. */
const FRONT = '10.47.0.0/24';
/** The site's addresses on its lo (the first is TwoLinkTopology's server address). */
const SITE_ADDRESSES = ['10.47.0.100', '10.47.0.110', '10.47.0.11', '10.47.0.12', '10.47.0.13', '10.47.9.31', '10.47.9.32', '10.47.9.33'];
/** The echo target the servers relay to, inside the site namespace. */
export const ECHO_PORT = 7007;

/** Client `i`'s two addresses: first on link 1, second on link 2. */
export const clientAddresses = (i: number, firstBase: number, secondBase: number): { first: string; second: string } => ({ first: `10.47.1.${firstBase + i}`, second: `10.47.2.${secondBase + i}` });

/** Why namespaces (and the tbf links) cannot be made here, or undefined. */
export const netnsMissing: string | undefined = netnsSkipReason() ?? undefined;

/** For each stream: reads a JSON line {host, port, from?}, connects there and pipes both ways, half-closes kept. */
const BRIDGE = `const net=require('net');net.createServer({allowHalfOpen:true},(u)=>{let head=Buffer.alloc(0);u.on('error',()=>{});const onData=(d)=>{head=Buffer.concat([head,d]);const nl=head.indexOf(10);if(nl<0)return;u.off('data',onData);const t=JSON.parse(head.subarray(0,nl).toString());const s=net.connect({host:t.host,port:t.port,localAddress:t.from,allowHalfOpen:true});s.on('error',()=>u.destroy());u.on('error',()=>s.destroy());s.write(head.subarray(nl+1));u.pipe(s);s.pipe(u)};u.on('data',onData)}).listen(process.argv[1],()=>console.log('listening'))`;
const ECHO = `require('net').createServer({allowHalfOpen:true},(c)=>{c.on('error',()=>{});c.pipe(c)}).listen(${ECHO_PORT},'127.0.0.1',()=>console.log('listening'))`;

export type Side = 'clients' | 'site';

/** Every bridge and echo target still running, killed if the test process exits without destroy(). */
const helpers = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of helpers) c.kill('SIGKILL');
});

export class ScaleOutNetwork {
  private readonly topo = new TwoLinkTopology('mptun-so-', LINKS, SITE_ADDRESSES[0]);
  private readonly children: ChildProcess[] = [];
  private dir = '';
  readonly ns: Record<Side, string> = { clients: this.topo.ns.client, site: this.topo.ns.server };

  /** Builds both namespaces, starts a bridge in each and the echo target in the site. */
  async create(): Promise<void> {
    await this.topo.create();
    const { clients, site } = this.ns;
    for (const a of SITE_ADDRESSES.slice(1)) await this.topo.ip(site, 'addr', 'add', `${a}/32`, 'dev', 'lo');
    const [one, two] = LINKS;
    await this.topo.ip(clients, 'route', 'del', 'default');
    await this.topo.ip(clients, 'route', 'add', FRONT, 'via', `${one.net}.1`, 'dev', one.client);
    await this.topo.ip(clients, 'route', 'add', FRONT, 'via', `${two.net}.1`, 'dev', two.client, 'table', '102');
    await this.topo.ip(clients, 'rule', 'add', 'from', `${two.net}.0/24`, 'lookup', '102', 'pref', '100');
    this.dir = mkdtempSync(join(tmpdir(), 'mptun-so-'));
    await Promise.all([
      this.started('site', [process.execPath, '-e', ECHO]),
      ...(['clients', 'site'] as const).map((side) => this.started(side, [process.execPath, '-e', BRIDGE, this.bridgePath(side)])),
    ]);
  }

  /** Puts each address (10.47.1.x or 10.47.2.x) on its client link (again is no error: a client restarted). */
  async addClientAddresses(addresses: readonly string[]): Promise<void> {
    for (const a of addresses) {
      const link = LINKS.find((l) => a.startsWith(`${l.net}.`));
      if (!link) throw new Error(`${a} is on neither client link`);
      await this.topo.ip(this.ns.clients, 'addr', 'replace', `${a}/24`, 'dev', link.client);
    }
  }

  /** `ip netns exec <ns>`, to put in front of a command. */
  prefix(side: Side): string[] {
    return ['ip', 'netns', 'exec', this.ns[side]];
  }

  /** `argv` run in the namespace, as spawn's program and arguments. */
  command(side: Side, argv: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.ns[side], ...argv]];
  }

  /** A TCP connection to host:port inside the namespace (from `from` there, if given). */
  dial(side: Side, host: string, port: number, from?: string): Socket {
    const s = connect(this.bridgePath(side));
    s.write(`${JSON.stringify({ host, port, from })}\n`);
    return s;
  }

  /** An HTTP request to `url` inside the namespace: its status and body. */
  http(side: Side, url: string, opts: { method?: string; headers?: Record<string, string>; from?: string } = {}): Promise<{ status: number; body: string }> {
    const u = new URL(url);
    const port = Number(u.port || 80);
    return new Promise((resolve, reject) => {
      const req = request(
        { host: u.hostname, port, path: `${u.pathname}${u.search}`, method: opts.method ?? 'GET', headers: opts.headers, createConnection: () => this.dial(side, u.hostname, port, opts.from) },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Kills what it started and deletes both namespaces; safe to call in any state. */
  async destroy(): Promise<void> {
    for (const c of this.children.splice(0)) c.kill('SIGKILL');
    await this.topo.remove(true);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private bridgePath(side: Side): string {
    return join(this.dir, `${side}.sock`);
  }

  /** A helper program in the namespace, resolved once it printed "listening". */
  private async started(side: Side, argv: string[]): Promise<void> {
    const { child, done } = inNamespace(this.children, this.ns[side], argv);
    helpers.add(child);
    child.once('exit', () => helpers.delete(child));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: string) => d.includes('listening') && resolve());
      done.then(() => reject(new Error(`${argv.join(' ')} exited early`)), reject);
    });
  }
}
