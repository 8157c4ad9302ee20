/**
 * A client with several network interfaces and a server, on the simulator, with the real
 * engine: the client's path manager is fed by an interface watcher that polls a simulated
 * interface list, and opens paths (simulated links) through a PathHost. Both sides send a
 * seeded byte stream, half-close, and hash what they read. Deterministic in the seed.
 */
import { createHash } from 'node:crypto';
import { ccFactory, schedulerFactory, Endpoint, SeededRandom, type Address, type Connection, type Driveable, type EndpointEvent, type SubflowView, type Transmit } from '@mptun/core';
import { Link, Mesh, type LinkOptions } from '@mptun/sim';
import { AddressAnnouncer, type ServerAddress } from '../../src/announcer.js';
import { applyInterfaceChanges } from '../../src/interface-sync.js';
import { InterfaceWatcher } from '../../src/interface-watcher.js';
import type { PathHost } from '../../src/host.js';
import { PathManager, type PathAction } from '../../src/path-manager.js';
import { StreamApp } from '../../../sim/test/support/transfer.js';
import type { PathPolicy } from '../../src/policy.js';

export interface SimIface {
  name: string;
  host: string;
  /** Both directions of every path from this interface. */
  link: LinkOptions;
  /** Listed by the system now. */
  present: boolean;
  backup?: boolean;
  priority?: number;
}

export interface WorldSpec {
  seed: number;
  ifaces: SimIface[];
  /** Extra server addresses the server announces (ADD_ADDR). */
  announce?: ServerAddress[];
  policy?: PathPolicy;
  upload: number;
  download: number;
  debounceMs?: number;
  pollMs?: number;
  /** Virtual time limit, ms. */
  limitMs?: number;
  /** Things to do at given virtual times. */
  script?: Array<{ at: number; run: (w: World) => void }>;
  /** Called on every pass of the simulator, after events were handled. */
  onPass?: (w: World) => void;
  /**
   * Paths as plain tcp-in-udp has them: the UDP port is the subflow's TCP port, so a path
   * carries one subflow at a time and each ndiffports sibling needs a path of its own.
   */
  fixedPorts?: boolean;
  /** Server engine settings (e.g. the C bit of a server behind a load balancer). */
  serverConfig?: { refuseJoinsToInitialAddress?: boolean };
}

export const SERVER: Address = { host: '10.9.9.9', port: 443 };

interface SimPath {
  iface: SimIface;
  clientPathId: number;
  serverPathId: number;
  links: Link[];
  remote: Address;
  index: number;
}

/** The driver's side of paths: each opened path is a pair of links with its interface's options. */
class SimPathHost implements PathHost {
  readonly byClientPath = new Map<number, SimPath>();
  /** Per mesh path index. */
  readonly meshPaths: SimPath[] = [];
  released = 0;
  private nextPort = 40000;

  constructor(private readonly w: World) {}

  ensurePath(localHost: string, remote: Address, index: number): number | null {
    const iface = this.w.ifaces.find((i) => i.host === localHost);
    if (!iface || !iface.present) return null; // nothing to bind to
    const fixed = this.w.spec.fixedPorts === true;
    if (!fixed || index === 0) {
      // A path carries any number of subflows: one per address pair will do.
      for (const p of this.byClientPath.values()) if (p.iface === iface && p.remote.host === remote.host && p.remote.port === remote.port && (!fixed || p.index === 0)) return p.clientPathId;
    }
    const port = this.nextPort++;
    const clientPathId = this.w.client.openPath({ host: localHost, port }, remote, fixed ? { fixedLocalPort: port } : {});
    const serverPathId = this.w.server.openPath(remote, { host: localHost, port });
    const name = `${iface.name}>${remote.host}`;
    const links = [new Link({ ...iface.link, name: `${name}.up` }), new Link({ ...iface.link, name: `${name}.down` })];
    this.w.mesh.addPath({
      a: { endpoint: this.w.client, pathId: clientPathId },
      b: { endpoint: this.w.server, pathId: serverPathId },
      forward: [links[0]!],
      backward: [links[1]!],
      name,
    });
    const p: SimPath = { iface, clientPathId, serverPathId, links, remote, index };
    this.byClientPath.set(clientPathId, p);
    this.meshPaths.push(p);
    return clientPathId;
  }

  releasePath(pathId: number): void {
    if (!this.byClientPath.delete(pathId)) return;
    this.released++;
    this.w.client.closePath(this.w.mesh.now, pathId);
  }

  pathInfo(pathId: number): { local: Address; remote: Address } | undefined {
    return this.w.client.pathInfo(pathId);
  }
}

/** A deterministic byte stream. */
export function streamBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  new SeededRandom(seed).fill(out);
  return out;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Wakes the simulator for the watcher's polls, the path manager's retries and the script. */
class AppTimers implements Driveable {
  constructor(private readonly w: World) {}
  handleSegment(): void {}
  pollTransmit(): Transmit | null {
    return null;
  }
  handleTimeout(now: number): void {
    this.w.service(now);
  }
  pollTimeout(): number | null {
    return this.w.nextWake();
  }
}

export interface WorldResult {
  ok: boolean;
  uploadOk: boolean;
  downloadOk: boolean;
  clientError?: string;
  serverError?: string;
  timeMs: number;
}

export class World {
  readonly mesh: Mesh;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly pm: PathManager;
  readonly watcher: InterfaceWatcher;
  readonly announcer: AddressAnnouncer;
  readonly host: SimPathHost;
  readonly ifaces: SimIface[];
  conn: Connection | null = null;
  serverConn: Connection | null = null;
  /** Everything the path manager did, with the time. */
  readonly actions: Array<{ time: number; action: PathAction }> = [];
  readonly clientEvents: Array<{ time: number; ev: EndpointEvent }> = [];
  /** TCP payload bytes delivered, per interface name, both directions. */
  readonly payload = new Map<string, number>();
  /** TCP payload bytes delivered, per server address, both directions. */
  readonly payloadByRemote = new Map<string, number>();
  /** Called for every delivered segment that carries payload. */
  onPayload: ((iface: string, bytes: number, time: number, remoteHost: string) => void) | null = null;
  private readonly clientApp: StreamApp;
  private readonly serverApp: StreamApp;
  private readonly up: Uint8Array;
  private readonly down: Uint8Array;
  private readonly script: Array<{ at: number; run: (w: World) => void }>;
  private dirty = true;

  constructor(readonly spec: WorldSpec) {
    const rng = new SeededRandom(spec.seed);
    const base = { scheduler: schedulerFactory('minrtt'), congestionControl: ccFactory('cubic') };
    this.client = new Endpoint({ ...base, random: rng.fork() });
    this.server = new Endpoint({ ...base, ...spec.serverConfig, random: rng.fork() });
    this.server.listen(SERVER.port);
    this.mesh = new Mesh({ seed: spec.seed });
    this.mesh.addEndpoint(this.client, 'client');
    this.mesh.addEndpoint(this.server, 'server');
    this.mesh.addEndpoint(new AppTimers(this), 'timers');
    this.ifaces = spec.ifaces.map((i) => ({ ...i }));
    this.host = new SimPathHost(this);
    this.pm = new PathManager({ host: this.host, server: SERVER, random: rng.fork(), policy: spec.policy });
    this.watcher = new InterfaceWatcher({
      source: () => this.ifaces.filter((i) => i.present).map((i) => ({ name: i.name, address: i.host, internal: false })),
      debounceMs: spec.debounceMs ?? 200,
      pollIntervalMs: spec.pollMs ?? 50,
    });
    this.announcer = new AddressAnnouncer(spec.announce ?? []);
    this.script = [...(spec.script ?? [])].sort((a, b) => a.at - b.at);
    this.up = streamBytes(spec.seed * 2 + 1, spec.upload);
    this.down = streamBytes(spec.seed * 2 + 2, spec.download);
    this.clientApp = new StreamApp(this.up, spec.download);
    this.serverApp = new StreamApp(this.down, spec.upload);
    this.mesh.onPacket = (ev) => {
      if (ev.type !== 'deliver' || ev.bytes.length < 20) return;
      const len = ev.bytes.length - (ev.bytes[12]! >> 4) * 4;
      if (len <= 0) return;
      const path = this.host.meshPaths[ev.path]!;
      const iface = path.iface.name;
      this.payload.set(iface, (this.payload.get(iface) ?? 0) + len);
      this.payloadByRemote.set(path.remote.host, (this.payloadByRemote.get(path.remote.host) ?? 0) + len);
      this.onPayload?.(iface, len, ev.time, path.remote.host);
    };
  }

  /** TCP payload bytes delivered on every interface. */
  payloadTotal(): number {
    let n = 0;
    for (const v of this.payload.values()) n += v;
    return n;
  }

  iface(name: string): SimIface {
    const i = this.ifaces.find((x) => x.name === name);
    if (!i) throw new Error(`no interface ${name}`);
    return i;
  }

  /** The interface disappears: its links die now, the system stops listing it. */
  ifaceDown(name: string): void {
    const i = this.iface(name);
    i.present = false;
    for (const p of this.host.meshPaths) if (p.iface === i) for (const l of p.links) l.setUp(false);
  }

  /** The interface appears (again); paths opened from now on work. */
  ifaceUp(name: string): void {
    this.iface(name).present = true;
  }

  /** Client subflows whose path runs from this interface. */
  subflowsOn(name: string): SubflowView[] {
    if (!this.conn) return [];
    return this.conn.subflows().filter((sf) => sf.state !== 'closed' && this.host.meshPaths.some((p) => p.clientPathId === sf.pathId && p.iface.name === name));
  }

  nextWake(): number | null {
    let t = this.watcher.nextTimeout();
    const pmT = this.pm.nextTimeout();
    if (pmT !== null && pmT < t) t = pmT;
    const s = this.script[0];
    if (s && s.at < t) t = s.at;
    return t;
  }

  /** Timers: script steps, the watcher's poll, the path manager's retries. */
  service(now: number): void {
    while (this.script.length > 0 && this.script[0]!.at <= now) {
      this.script.shift()!.run(this);
      this.dirty = true;
    }
    if (this.watcher.nextTimeout() <= now) {
      const changes = this.watcher.poll(now);
      if (changes.length > 0) {
        applyInterfaceChanges(this.pm, changes, {
          settings: (c) => {
            const i = this.ifaces.find((x) => x.name === c.name)!;
            return { backup: i.backup ?? false, priority: i.priority ?? 0 };
          },
        });
        this.dirty = true;
      }
    }
    const t = this.pm.nextTimeout();
    if (t !== null && t <= now) this.dirty = true;
    this.tick(now);
  }

  private tick(now: number): void {
    if (!this.dirty) return;
    this.dirty = false;
    for (const action of this.pm.tick(now)) this.actions.push({ time: now, action });
  }

  private drain(now: number): void {
    for (let ev = this.client.pollEvent(); ev; ev = this.client.pollEvent()) {
      if (ev.connection !== this.conn) continue;
      this.clientEvents.push({ time: now, ev });
      if (this.pm.handleEvent(now, ev)) this.dirty = true;
      if (ev.type === 'closed') {
        this.clientApp.closed = true;
        if (ev.error) this.clientApp.error = ev.error.code;
      }
    }
    for (let ev = this.server.pollEvent(); ev; ev = this.server.pollEvent()) {
      if (ev.type === 'incoming' && !this.serverConn) this.serverConn = ev.connection;
      if (ev.connection !== this.serverConn) continue;
      this.announcer.handleEvent(ev);
      if (ev.type === 'closed') {
        this.serverApp.closed = true;
        if (ev.error) this.serverApp.error = ev.error.code;
      }
    }
    if (this.conn) this.clientApp.pump(this.conn, now);
    if (this.serverConn) this.serverApp.pump(this.serverConn, now);
    this.tick(now);
  }

  run(): WorldResult {
    // The addresses present at the start, then the connection on the preferred one.
    this.service(0);
    const first = this.pm.initialPath();
    if (first === null) throw new Error('no usable local address at start');
    this.conn = this.client.connect(0, { path: first });
    this.pm.attach(this.conn);
    let finishedAt = -1;
    this.mesh.run({
      until: this.spec.limitMs ?? 120_000,
      stopWhen: () => {
        const now = this.mesh.now;
        this.drain(now);
        this.spec.onPass?.(this);
        if (this.clientApp.closed && this.serverApp.closed && finishedAt < 0) finishedAt = now;
        return finishedAt >= 0;
      },
    });
    const uploadOk = this.serverApp.received === this.spec.upload && this.serverApp.digest() === sha256(this.up);
    const downloadOk = this.clientApp.received === this.spec.download && this.clientApp.digest() === sha256(this.down);
    const r: WorldResult = {
      ok: uploadOk && downloadOk && !this.clientApp.error && !this.serverApp.error && finishedAt >= 0,
      uploadOk,
      downloadOk,
      timeMs: finishedAt >= 0 ? finishedAt : this.mesh.now,
    };
    if (this.clientApp.error) r.clientError = this.clientApp.error;
    if (this.serverApp.error) r.serverError = this.serverApp.error;
    return r;
  }

  /** A one-line summary for the test log. */
  describe(r: WorldResult): string {
    const bytes = [...this.payload].map(([k, v]) => `${k}=${v}`).join(' ');
    return `seed=${this.spec.seed} ok=${r.ok} up=${r.uploadOk} down=${r.downloadOk} t=${r.timeMs}ms ${bytes}` +
      (r.clientError ? ` clientError=${r.clientError}` : '') + (r.serverError ? ` serverError=${r.serverError}` : '');
  }
}
