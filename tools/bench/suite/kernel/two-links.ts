/**
 * Two network namespaces joined directly by two shaped veth pairs, the client routed by
 * destination only (no `ip rule`):
 *
 *   client ns  c1 <net1>.2 ══ veth ══ s1 <net1>.1   server ns, the server address on lo
 *              c2 <net2>.2 ══ veth ══ s2 <net2>.1
 *   the client's only route off its subnets: default via <net1>.1 dev c1
 *
 * `tbf` on both ends of each link sets its rate (upload: client egress; download: server
 * egress). Used where paths are given as interfaces (device-bound sockets) and where an
 * interface is taken down mid-transfer. Namespaces are named <prefix>c-<pid>, <prefix>s-<pid>.
 */
import { run, succeeds } from './exec.js';
import { listNamespaces, pidAlive, tbfBurstBytes } from './netns.js';

export interface TwoLink {
  client: string;
  server: string;
  /** First three octets of the link's /24. */
  net: string;
  mbit: number;
}

export const TWO_LINKS: readonly [TwoLink, TwoLink] = [
  { client: 'c1', server: 's1', net: '10.1.1', mbit: 40 },
  { client: 'c2', server: 's2', net: '10.1.2', mbit: 20 },
];

export const TWO_LINKS_SERVER = '10.9.9.9';

export class TwoLinkTopology {
  readonly ns: { client: string; server: string };

  constructor(
    private readonly prefix: string,
    readonly links: readonly [TwoLink, TwoLink] = TWO_LINKS,
    readonly serverAddress: string = TWO_LINKS_SERVER,
  ) {
    this.ns = { client: `${prefix}c-${process.pid}`, server: `${prefix}s-${process.pid}` };
  }

  ip(ns: string, ...args: string[]): Promise<string> {
    return run({ file: 'ip', args: ['-n', ns, ...args] });
  }

  /** Namespaces of this prefix: this process's (all) or those of runs that died. */
  async remove(all: boolean): Promise<void> {
    for (const n of await listNamespaces()) {
      const m = new RegExp(`^${this.prefix}[cs]-(\\d+)$`).exec(n);
      if (m && (all ? Number(m[1]) === process.pid : !pidAlive(Number(m[1])))) await succeeds({ file: 'ip', args: ['netns', 'del', n] });
    }
  }

  async create(): Promise<void> {
    await this.remove(false);
    const { client, server } = this.ns;
    for (const n of [client, server]) {
      await run({ file: 'ip', args: ['netns', 'add', n] });
      await this.ip(n, 'link', 'set', 'lo', 'up');
      await run({ file: 'sysctl', args: ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'], netns: n });
    }
    await this.ip(server, 'addr', 'add', `${this.serverAddress}/32`, 'dev', 'lo');
    for (const l of this.links) {
      await this.ip(client, 'link', 'add', l.client, 'type', 'veth', 'peer', 'name', l.server, 'netns', server);
      await this.ip(client, 'addr', 'add', `${l.net}.2/24`, 'dev', l.client);
      await this.ip(server, 'addr', 'add', `${l.net}.1/24`, 'dev', l.server);
      await this.ip(client, 'link', 'set', l.client, 'up');
      await this.ip(server, 'link', 'set', l.server, 'up');
      const shape = ['root', 'tbf', 'rate', `${l.mbit}mbit`, 'burst', String(tbfBurstBytes(l.mbit * 1e6)), 'latency', '50ms'];
      await run({ file: 'tc', args: ['-n', client, 'qdisc', 'replace', 'dev', l.client, ...shape] });
      await run({ file: 'tc', args: ['-n', server, 'qdisc', 'replace', 'dev', l.server, ...shape] });
    }
    await this.restoreDefaultRoute();
  }

  /** The client's default route via link 1 (taking c1 down removes it; bringing it up does not restore it). */
  async restoreDefaultRoute(): Promise<void> {
    const [a] = this.links;
    await this.ip(this.ns.client, 'route', 'replace', 'default', 'via', `${a.net}.1`, 'dev', a.client);
  }

  /** Bytes sent so far on each client interface. */
  async clientTxBytes(): Promise<number[]> {
    return Promise.all(
      this.links.map(async (l) => {
        const [info] = JSON.parse(await this.ip(this.ns.client, '-j', '-s', 'link', 'show', 'dev', l.client)) as Array<{ stats64: { tx: { bytes: number } } }>;
        return info!.stats64.tx.bytes;
      }),
    );
  }
}
