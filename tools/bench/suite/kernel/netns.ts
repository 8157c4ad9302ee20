/**
 * The namespaces of one kernel-MPTCP run and how they are wired:
 *
 *   mptb-cli-<pid>  c-wifi ═══ rc-wifi ┐              ┌ rs-wifi ═══ s-wifi  mptb-srv-<pid>
 *                   c-lte  ═══ rc-lte  ┤ mptb-rtr-<pid>├ rs-lte  ═══ s-lte
 *                                      └ t-wifi, t-lte ┘   (TUN: the delay line)
 *
 * The router sends every packet of a path through that path's TUN device, where the delay
 * line (delayline.py) holds it for the path's delay, and then out of the veth on the far
 * side, whose `tbf` sets the path's rate and queue — one per direction. The client has an
 * MPTCP "subflow" endpoint on its lte address, so a connection to the server's wifi
 * address opens a second subflow over lte. This kernel has no netem, hence the TUN stage.
 */
import { run, succeeds, type Command } from './exec.js';
import { addr, ifaceNames, serverAddress, type KernelPath } from './paths.js';

export const NETNS_PREFIX = 'mptb-';
const ROLES = ['cli', 'srv', 'rtr'] as const;

export interface Namespaces {
  client: string;
  server: string;
  router: string;
}

export function namespacesFor(pid: number): Namespaces {
  return { client: `${NETNS_PREFIX}cli-${pid}`, server: `${NETNS_PREFIX}srv-${pid}`, router: `${NETNS_PREFIX}rtr-${pid}` };
}

/** Names in `ip netns list` output (each line "name" or "name (id: n)"). */
export function parseNetnsList(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** Our namespaces (mptb-cli|srv|rtr-<pid>) whose pid no longer runs. */
export function staleNamespaces(names: readonly string[], isAlive: (pid: number) => boolean): string[] {
  const re = new RegExp(`^${NETNS_PREFIX}(${ROLES.join('|')})-(\\d+)$`);
  return names.filter((n) => {
    const m = re.exec(n);
    if (!m) return false;
    const pid = Number(m[2]);
    return Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid);
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function listNamespaces(): Promise<string[]> {
  return parseNetnsList(await run({ file: 'ip', args: ['netns', 'list'] }));
}

/** Deletes namespaces left behind by runs that died; returns their names. */
export async function removeStaleNamespaces(): Promise<string[]> {
  const stale = staleNamespaces(await listNamespaces(), pidAlive);
  for (const n of stale) await run({ file: 'ip', args: ['netns', 'del', n] }).catch(() => {});
  return stale;
}

const ip = (netns: string, ...args: string[]): Command => ({ file: 'ip', args: ['-n', netns, ...args] });
const tc = (netns: string, ...args: string[]): Command => ({ file: 'tc', args: ['-n', netns, ...args] });
const sysctl = (netns: string, ...settings: string[]): Command => ({ file: 'sysctl', args: ['-q', '-w', ...settings], netns });

/** tbf burst: two full frames, or 2 ms at the rate if more, so shaping stays smooth. */
export function tbfBurstBytes(rateBps: number): number {
  return Math.max(2 * 1514, Math.ceil((rateBps / 8) * 0.002));
}

/** tbf on one egress: the path's rate, and a queue of queueMs at that rate. */
export function tbfCommand(netns: string, dev: string, p: KernelPath): Command {
  return tc(netns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(p.rateBps)}bit`, 'burst', String(tbfBurstBytes(p.rateBps)), 'latency', `${Math.round(p.queueMs)}ms`);
}

/** Every command that builds the topology after the three namespaces exist, in order. */
export function topologyCommands(ns: Namespaces, paths: readonly KernelPath[]): Command[] {
  const cmds: Command[] = [];
  const quiet = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];
  cmds.push(sysctl(ns.client, ...quiet, 'net.mptcp.enabled=1'));
  cmds.push(sysctl(ns.server, ...quiet, 'net.mptcp.enabled=1'));
  cmds.push(sysctl(ns.router, ...quiet, 'net.ipv4.ip_forward=1'));
  for (const n of [ns.client, ns.server, ns.router]) cmds.push(ip(n, 'link', 'set', 'lo', 'up'));
  const server = serverAddress(paths);
  for (const p of paths) {
    const i = ifaceNames(p);
    const cNet = p.clientNet;
    const sNet = p.serverNet;
    cmds.push(ip(ns.router, 'link', 'add', i.routerClient, 'type', 'veth', 'peer', 'name', i.client, 'netns', ns.client));
    cmds.push(ip(ns.router, 'link', 'add', i.routerServer, 'type', 'veth', 'peer', 'name', i.server, 'netns', ns.server));
    cmds.push(ip(ns.router, 'tuntap', 'add', 'dev', i.tun, 'mode', 'tun'));
    // Deep enough for a scheduling hiccup of the delay line at the path's full rate.
    cmds.push(ip(ns.router, 'link', 'set', i.tun, 'txqueuelen', '5000', 'up'));
    cmds.push(ip(ns.client, 'addr', 'add', `${addr(cNet, 1)}/24`, 'dev', i.client));
    cmds.push(ip(ns.client, 'link', 'set', i.client, 'up'));
    cmds.push(ip(ns.server, 'addr', 'add', `${addr(sNet, 1)}/24`, 'dev', i.server));
    cmds.push(ip(ns.server, 'link', 'set', i.server, 'up'));
    cmds.push(ip(ns.router, 'addr', 'add', `${addr(cNet, 2)}/24`, 'dev', i.routerClient));
    cmds.push(ip(ns.router, 'link', 'set', i.routerClient, 'up'));
    cmds.push(ip(ns.router, 'addr', 'add', `${addr(sNet, 2)}/24`, 'dev', i.routerServer));
    cmds.push(ip(ns.router, 'link', 'set', i.routerServer, 'up'));
    // Rate and queue per direction: toward the client (download) and toward the server (upload).
    cmds.push(tbfCommand(ns.router, i.routerClient, p));
    cmds.push(tbfCommand(ns.router, i.routerServer, p));
    // Router: whatever enters from this path's veths goes into its TUN; what the delay line
    // writes back comes in on the TUN and leaves by this path's veth on the other side.
    const inTable = String(p.table);
    const outTable = String(p.table + 100);
    cmds.push(ip(ns.router, 'route', 'add', 'default', 'dev', i.tun, 'table', inTable));
    cmds.push(ip(ns.router, 'rule', 'add', 'iif', i.routerClient, 'lookup', inTable, 'pref', '100'));
    cmds.push(ip(ns.router, 'rule', 'add', 'iif', i.routerServer, 'lookup', inTable, 'pref', '100'));
    cmds.push(ip(ns.router, 'route', 'add', `${addr(cNet, 0)}/24`, 'dev', i.routerClient, 'table', outTable));
    cmds.push(ip(ns.router, 'route', 'add', 'default', 'via', addr(sNet, 1), 'dev', i.routerServer, 'table', outTable));
    cmds.push(ip(ns.router, 'rule', 'add', 'iif', i.tun, 'lookup', outTable, 'pref', '100'));
    // Server: replies to each client subnet leave by that path.
    cmds.push(ip(ns.server, 'route', 'add', `${addr(cNet, 0)}/24`, 'via', addr(sNet, 2), 'dev', i.server));
    // Client: traffic from this path's address leaves by this path.
    cmds.push(ip(ns.client, 'route', 'add', 'default', 'via', addr(cNet, 2), 'dev', i.client, 'table', inTable));
    cmds.push(ip(ns.client, 'rule', 'add', 'from', addr(cNet, 1), 'lookup', inTable, 'pref', '100'));
  }
  const [a, ...others] = paths;
  if (a) cmds.push(ip(ns.client, 'route', 'add', `${server}/32`, 'via', addr(a.clientNet, 2), 'dev', ifaceNames(a).client));
  // RFC 8684 §3.2: the extra path is a subflow the client opens (MP_JOIN) from its lte address.
  for (const n of [ns.client, ns.server]) cmds.push(ip(n, 'mptcp', 'limits', 'set', 'subflow', '2', 'add_addr_accepted', '2'));
  for (const p of others) cmds.push(ip(ns.client, 'mptcp', 'endpoint', 'add', addr(p.clientNet, 1), 'dev', ifaceNames(p).client, 'subflow'));
  return cmds;
}

/** The three namespaces of this process's run; `destroy` is safe to call whatever state it is in. */
export class KernelTopology {
  readonly ns: Namespaces;
  private created: string[] = [];

  constructor(
    pid: number,
    readonly paths: readonly KernelPath[],
  ) {
    this.ns = namespacesFor(pid);
  }

  /** Creates and wires everything; throws with the failing command on the first error. */
  async create(): Promise<void> {
    for (const n of [this.ns.client, this.ns.server, this.ns.router]) {
      await run({ file: 'ip', args: ['netns', 'add', n] });
      this.created.push(n);
    }
    for (const c of topologyCommands(this.ns, this.paths)) await run(c);
  }

  /** Whether MPTCP is on inside the client namespace (a namespace may differ from the host). */
  mptcpEnabledInside(): Promise<boolean> {
    return run({ file: 'sysctl', args: ['-n', 'net.mptcp.enabled'], netns: this.ns.client }).then(
      (v) => v.trim() === '1',
      () => false,
    );
  }

  async destroy(): Promise<void> {
    for (const n of this.created.reverse()) await succeeds({ file: 'ip', args: ['netns', 'del', n] });
    this.created = [];
  }
}
