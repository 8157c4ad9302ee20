/**
 * One interop case's world: a network namespace of its own with the kernel's MPTCP in it,
 * a TUN device there fed by bridge.py (mptun's tcp-in-udp datagrams on loopback <-> real
 * TCP packets), and kernel endpoints (peer.py) on IPPROTO_MPTCP sockets.
 *
 *   host namespace (this process)              namespace mpti-<pid>-<n>
 *   mptun on 127.77.L.H  ── UDP ──> bridge.py ── TUN mpt0 ──> kernel on 10.77.0.H
 *
 * Addresses map by their last octet, ports are unchanged. Host 1 (and 5, 6 when a case adds
 * them) are the kernel's; 2 and 3 are mptun's. With `ipv6`, host H is fd77::H inside the
 * namespace instead, and the kernel runs MPTCP over IPv6 (mptun's side stays on loopback). A fresh namespace per case starts its MIB
 * counters at zero, so what nstat reads afterwards belongs to that case alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PythonChild, run } from '../../tools/bench/suite/kernel/exec.js';
import { listNamespaces, pidAlive } from '../../tools/bench/suite/kernel/netns.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const TUN = 'mpt0';
const INNER = '10.77.0';
const INNER6 = 'fd77::';
const EVENT_TIMEOUT_MS = 15_000;
/** The longest tshark may take over a case's capture (under 1 s for 26 MB on this machine). */
const TSHARK_TIMEOUT_MS = 60_000;

let labCounter = 0;

/** Deletes the namespaces of earlier runs that died before cleaning up (mpti-<pid>-<n> whose pid is gone). */
export async function removeStaleLabs(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((n) => {
    const m = /^mpti-(\d+)-\d+$/.exec(n);
    return m !== null && !pidAlive(Number(m[1]));
  });
  for (const n of stale) await run({ file: 'ip', args: ['netns', 'del', n] }).catch(() => {});
  return stale;
}

/** A Python helper whose JSON lines can be awaited. */
export class Scripted {
  readonly events: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  readonly proc: PythonChild;

  constructor(label: string, netns: string | undefined, script: string, args: string[]) {
    this.proc = new PythonChild(label, netns, join(here, script), args, (e) => this.onEvent(e));
  }

  private onEvent(e: Record<string, unknown>): void {
    if (this.events.length < 1000) this.events.push(e);
    for (const w of [...this.waiters]) {
      if (w.match(e)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(e);
      }
    }
  }

  /** The first event (already seen, unless onlyNew, or still to come) that `match`es; rejects after timeoutMs. */
  next(match: (e: Record<string, unknown>) => boolean, timeoutMs = EVENT_TIMEOUT_MS, what = 'an event', onlyNew = false): Promise<Record<string, unknown>> {
    const seen = onlyNew ? undefined : this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        reject(new Error(`${this.proc.label}: no ${what} within ${timeoutMs} ms; events ${JSON.stringify(this.events.slice(-5))} ${this.proc.stderr}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  event(name: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<Record<string, unknown>> {
    return this.next((e) => e.event === name, timeoutMs, `"${name}"`);
  }

  send(line: string): void {
    this.proc.send(line);
  }

  /** Sends a command and waits for the answer that `match`es (only answers after the command count). */
  async ask(line: string, match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const answer = this.next(match, EVENT_TIMEOUT_MS, `an answer to "${line}"`, true);
    this.proc.send(line);
    return answer;
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}

/** The kernel's end of a connection (peer.py). */
export interface PeerOptions {
  /** Random bytes to send; then a FIN (a DATA_FIN) unless noFin. */
  send?: number;
  noFin?: boolean;
}

export interface LabOptions {
  /** net.mptcp.checksum_enabled inside the namespace (RFC 8684 §3.3.1). */
  checksums?: boolean;
  /** The kernel's side speaks IPv6 (the bridge writes IPv6 packets to the TUN). */
  ipv6?: boolean;
}

export class Lab {
  readonly ns: string;
  /** First three octets of this lab's loopback addresses. */
  readonly loop: string;
  readonly pcap: string;
  private bridge: Scripted | null = null;
  private readonly peers: Scripted[] = [];
  private nsCreated = false;
  /** Set once judge() has read and printed this lab's counters. */
  judged = false;
  private readonly ipv6: boolean;

  private constructor(
    private readonly dir: string,
    n: number,
    opts: LabOptions,
  ) {
    this.ipv6 = opts.ipv6 === true;
    this.ns = `mpti-${process.pid}-${n}`;
    // A /24 of loopback per lab, so labs of different runs on one machine do not collide.
    this.loop = `127.77.${((process.pid * 7 + n) % 250) + 1}`;
    this.pcap = join(dir, 'tun.pcap');
  }

  static async create(opts: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(await mkdtemp(join(tmpdir(), 'mptun-interop-')), ++labCounter, opts);
    try {
      await lab.setUp(opts);
      return lab;
    } catch (e) {
      await lab.destroy();
      throw e;
    }
  }

  private async setUp(opts: LabOptions): Promise<void> {
    await run({ file: 'ip', args: ['netns', 'add', this.ns] });
    this.nsCreated = true;
    const v6 = this.ipv6 ? 0 : 1;
    const settings = ['net.mptcp.enabled=1', `net.mptcp.checksum_enabled=${opts.checksums ? 1 : 0}`, `net.ipv6.conf.all.disable_ipv6=${v6}`, `net.ipv6.conf.default.disable_ipv6=${v6}`, 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];
    await run({ file: 'sysctl', args: ['-q', '-w', ...settings], netns: this.ns });
    await this.ip('link', 'set', 'lo', 'up');
    const inner = this.ipv6 ? ['--inner6', INNER6] : ['--inner', INNER];
    this.bridge = new Scripted('bridge', undefined, 'bridge.py', ['--netns', this.ns, '--tun', TUN, '--loop', this.loop, ...inner, '--pcap', this.pcap]);
    await this.bridge.event('ready');
    await this.addKernelAddress(1);
    await this.ip('link', 'set', TUN, 'up');
    await this.ip('mptcp', 'limits', 'set', 'subflow', '4', 'add_addr_accepted', '4');
  }

  /** `sysctl -w name=value` inside the namespace. */
  async sysctl(setting: string): Promise<void> {
    await run({ file: 'sysctl', args: ['-q', '-w', setting], netns: this.ns });
  }

  /** `ss ...` inside the namespace (e.g. -K to destroy sockets). */
  ss(...args: string[]): Promise<string> {
    return run({ file: 'ss', args, netns: this.ns });
  }

  /** `ip -n <ns> ...` */
  ip(...args: string[]): Promise<string> {
    return run({ file: 'ip', args: ['-n', this.ns, ...args] });
  }

  /** mptun's view of host `h`: an address on loopback. */
  host(h: number): string {
    return `${this.loop}.${h}`;
  }

  /** The kernel's view of host `h`: an address inside the namespace. */
  inner(h: number): string {
    return this.ipv6 ? `${INNER6}${h.toString(16)}` : `${INNER}.${h}`;
  }

  /** Gives the kernel another address, host `h` on the TUN (IPv6 without duplicate detection, so it is usable at once). */
  async addKernelAddress(h: number): Promise<void> {
    if (this.ipv6) await this.ip('addr', 'add', `${this.inner(h)}/64`, 'dev', TUN, 'nodad');
    else await this.ip('addr', 'add', `${this.inner(h)}/24`, 'dev', TUN);
  }

  /**
   * An MPTCP endpoint of the kernel's path manager on host `h` (address id `h`): 'subflow'
   * opens joins from it, 'signal' announces it (ADD_ADDR). The address must exist already
   * for 'signal'; for 'subflow' it is added here.
   */
  async kernelEndpoint(h: number, kind: 'subflow' | 'signal'): Promise<void> {
    if (kind === 'subflow') await this.addKernelAddress(h);
    await this.ip('mptcp', 'endpoint', 'add', this.inner(h), 'id', String(h), 'dev', TUN, kind);
  }

  /**
   * A kernel listener on inner host 1 (or `h`); the bridge must be bound to its loopback twin
   * before mptun's first datagram, so this binds it too.
   */
  async kernelServer(port: number, opts: PeerOptions = {}, h = 1): Promise<Scripted> {
    await this.bind(h, port);
    const peer = new Scripted('kernel server', this.ns, 'peer.py', ['serve', '--bind', this.inner(h), '--port', String(port), ...peerArgs(opts)]);
    this.peers.push(peer);
    await peer.event('listening');
    return peer;
  }

  /**
   * A kernel client connecting from host 1 to mptun at host `h` (its loopback address) and
   * `port`. The source is bound: on IPv6 the kernel would pick the newest address, a subflow
   * endpoint a case added to join from.
   */
  kernelClient(h: number, port: number, opts: PeerOptions = {}): Scripted {
    const peer = new Scripted('kernel client', this.ns, 'peer.py', ['connect', '--to', `${this.inner(h)}:${port}`, '--from', this.inner(1), ...peerArgs(opts)]);
    this.peers.push(peer);
    return peer;
  }

  /** Has the bridge receive datagrams sent to loopback host `h`, `port`. */
  async bind(h: number, port: number): Promise<void> {
    await this.bridge!.ask(`bind ${h} ${port}`, (e) => e.event === 'bound' && e.host === h && e.port === port);
  }

  /** Drops everything from or to host `h` (a path lost) or lets it through again. */
  async setHost(h: number, state: 'down' | 'up'): Promise<void> {
    await this.bridge!.ask(`${state} ${h}`, (e) => e.event === state && e.host === h);
  }

  /** From now on the MPTCP options of what kernel host `h` sends are blanked (a middlebox stripping them). */
  async stripOptionsFrom(h: number): Promise<void> {
    await this.bridge!.ask(`strip ${h}`, (e) => e.event === 'strip' && e.host === h);
  }

  async bridgeStats(): Promise<Record<string, number>> {
    const e = await this.bridge!.ask('stats', (x) => x.event === 'stats');
    return e.counts as Record<string, number>;
  }

  /** The namespace's MPTCP MIB counters (MPTcpExt*), absolute; nstat's history is left alone. */
  async mib(): Promise<Record<string, number>> {
    return parseNstat(await run({ file: 'nstat', args: ['-asz', 'MPTcpExt*'], netns: this.ns }));
  }

  /** Ends the bridge (stdin closed: it finishes its capture), and reads tshark's expert findings from the capture. */
  async expert(): Promise<TimedExpertReport> {
    if (this.bridge) {
      this.bridge.proc.child.stdin!.end();
      await this.bridge.proc.exit(10_000);
    }
    // tshark's MPTCP analysis (tokens, keys, subflow grouping, DSN and data-ACK tracking);
    // its mapping analysis is left off: slow on 20 MB captures and it only adds warnings.
    // Bounded well inside the case's 120 s, so a slow analysis fails with its own message.
    const t0 = performance.now();
    // -n: no name lookups (nothing here has a name to find, and a lookup may wait on DNS).
    // No TCP reassembly: the payload is random bytes on random ports, and when a heuristic
    // dissector claims it (Thrift did, on 20 MB) and asks for ever longer PDUs, tshark copies
    // the stream again for every segment: 97 s instead of 0.7 s. MPTCP's analysis reads options.
    const out = await run(
      { file: 'tshark', args: ['-n', '-r', this.pcap, '-o', 'tcp.desegment_tcp_streams:FALSE', '-o', 'mptcp.analyze_mptcp:TRUE', '-q', '-z', 'expert'] },
      TSHARK_TIMEOUT_MS,
    );
    return { ...parseExpert(out), seconds: (performance.now() - t0) / 1000 };
  }

  /** Ends every process, deletes the namespace and the capture; safe to call in any state. */
  async destroy(): Promise<void> {
    await Promise.allSettled(this.peers.map((p) => p.stop()));
    await this.bridge?.stop().catch(() => {});
    this.bridge = null;
    if (this.nsCreated) await run({ file: 'ip', args: ['netns', 'del', this.ns] }).catch(() => {});
    this.nsCreated = false;
    // MPTUN_INTEROP_KEEP=1 keeps each case's capture for a look in Wireshark.
    if (process.env.MPTUN_INTEROP_KEEP === '1') console.log(`  capture kept: ${this.pcap}`);
    else await rm(this.dir, { recursive: true, force: true });
  }
}

function peerArgs(o: PeerOptions): string[] {
  return [...(o.send ? ['--send', String(o.send)] : []), ...(o.noFin ? ['--no-fin'] : [])];
}

/** `nstat -az` lines ("Name value rate") into name → value. */
export function parseNstat(out: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const m = /^(MPTcpExt\w+)\s+(\d+)/.exec(line.trim());
    if (m) r[m[1]!] = Number(m[2]);
  }
  return r;
}

export interface ExpertEntry {
  severity: string;
  count: number;
  group: string;
  protocol: string;
  summary: string;
}

export interface ExpertReport {
  entries: ExpertEntry[];
  /** Errors tshark's MPTCP analysis found. */
  mptcpErrors: ExpertEntry[];
}

/** tshark's report on a case's capture, and how long it took. */
export type TimedExpertReport = ExpertReport & { seconds: number };

/**
 * tshark's `-z expert` table: a heading "Errors (n)", "Warns (n)", "Notes (n)" or "Chats (n)",
 * a line of column names, then rows of "Frequency Group Protocol Summary".
 */
export function parseExpert(out: string): ExpertReport {
  const entries: ExpertEntry[] = [];
  let severity = '';
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    const head = /^(Errors|Warns|Notes|Chats|Comments) \(\d+\)$/.exec(line);
    if (head) {
      severity = head[1]!;
      continue;
    }
    const row = /^(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(line);
    if (row && severity) entries.push({ severity, count: Number(row[1]), group: row[2]!, protocol: row[3]!, summary: row[4]! });
  }
  return { entries, mptcpErrors: entries.filter((e) => e.severity === 'Errors' && /mptcp/i.test(e.protocol)) };
}
