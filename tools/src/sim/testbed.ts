/**
 * A simulated network of MPTCP endpoints for benchmarks: hosts (each an Endpoint with its
 * own scheduler and congestion controller), links (a Link object may sit on several routes:
 * a shared bottleneck), routes from a client host to a server host, connections over
 * chosen routes, and workloads (applications) that act on those connections as virtual
 * time runs. Deterministic in the seed.
 */
import { Endpoint, SeededRandom, ccFactory, schedulerFactory, type Connection, type EndpointConfig, type EndpointEvent } from '@mptun/core';
import { Link, Mesh, type LinkOptions, type PacketEvent } from '@mptun/sim';
import { DataTracer } from './data-trace.js';

/** How a host's MPTCP stack is set up. */
export interface StackOptions {
  /** Congestion controller name (ccFactory). Default cubic. */
  cc?: string;
  /** Scheduler name (schedulerFactory). Default minrtt. */
  scheduler?: string;
  config?: Partial<EndpointConfig>;
}

export interface TestbedOptions extends StackOptions {
  seed: number;
}

/** The port every server host listens on. */
export const SERVER_PORT = 443;

export interface Host {
  readonly name: string;
  readonly index: number;
  readonly endpoint: Endpoint;
}

/** A path from a client host to a server host over given links. */
export interface Route {
  /** The mesh path index (what PacketEvent.path reports). */
  readonly index: number;
  readonly name: string;
  readonly client: Host;
  readonly server: Host;
  readonly clientPathId: number;
  readonly serverPathId: number;
  /** Client → server links, in order. */
  readonly forward: readonly Link[];
  /** Server → client links, in order. */
  readonly backward: readonly Link[];
}

/** An application acting on connections. */
export interface Workload {
  /** Called at every simulator pass (after deliveries and timeouts, before sending). */
  pump(now: number): void;
  /** The next time this workload must run even if the network is quiet; Infinity for none. */
  nextWakeup(): number;
}

export type Side = 'client' | 'server';

export interface ConnectionOptions {
  /** Routes to join with the backup flag once connected. */
  backup?: readonly Route[];
  /** This connection's scheduler and congestion controller on the client side, when not the host's. */
  scheduler?: string;
  cc?: string;
}

/** A connection seen from both ends: the client's Connection and, once accepted, the server's. */
export class Session {
  server: Connection | null = null;
  /** Virtual times of milestones (undefined until they happen). */
  connectedAt: number | undefined;
  /** When each side's application saw the peer's DATA_FIN ('end'). */
  readonly endAt: Partial<Record<Side, number>> = {};
  /** When each side's connection closed, and the error code if it was not graceful. */
  readonly closed: Partial<Record<Side, { at: number; error?: string }>> = {};
  /** Subflow events, for traces and handover timing. */
  readonly subflowEvents: Array<{ time: number; side: Side; type: 'up' | 'down' | 'change'; subflowId: number; reason?: string }> = [];

  constructor(
    readonly client: Connection,
    /** The host that accepts it. */
    readonly serverHost: Host,
    /** Routes to join with the backup flag once connected (MP_JOIN B flag, RFC 8684 §3.2). */
    private readonly backupRoutes: readonly Route[],
  ) {}

  /** The connection on `side` (null while the server has not accepted it). */
  conn(side: Side): Connection | null {
    return side === 'client' ? this.client : this.server;
  }

  /** @internal */
  onEvent(side: Side, now: number, ev: EndpointEvent): void {
    switch (ev.type) {
      case 'connected':
        this.connectedAt = now;
        for (const r of this.backupRoutes) this.client.join(now, r.clientPathId, true);
        break;
      case 'end':
        this.endAt[side] ??= now;
        break;
      case 'closed':
        this.closed[side] = ev.error ? { at: now, error: ev.error.code } : { at: now };
        break;
      case 'subflow-up':
        this.subflowEvents.push({ time: now, side, type: 'up', subflowId: ev.subflowId });
        break;
      case 'subflow-down':
        this.subflowEvents.push({ time: now, side, type: 'down', subflowId: ev.subflowId, reason: ev.reason });
        break;
      case 'subflow-change':
        this.subflowEvents.push({ time: now, side, type: 'change', subflowId: ev.subflowId });
        break;
      default:
        break;
    }
  }
}

export class Testbed {
  readonly seed: number;
  readonly mesh: Mesh;
  readonly tracer: DataTracer;
  private readonly rng: SeededRandom;
  private readonly defaults: StackOptions;
  private readonly hosts: Host[] = [];
  private readonly hostByName = new Map<string, Host>();
  private readonly routes: Route[] = [];
  private readonly routesOf = new Map<Host, number>();
  private readonly sessions: Session[] = [];
  private readonly sessionOf = new Map<Connection, { session: Session; side: Side }>();
  /** Accepted server connections not yet matched to a session, per server host. */
  private readonly unmatched = new Map<Host, Connection[]>();
  private readonly workloads: Workload[] = [];
  /** Extra observers of every packet (besides the tracer). */
  private readonly packetObservers: Array<(ev: PacketEvent) => void> = [];

  constructor(options: TestbedOptions) {
    this.seed = options.seed;
    this.rng = new SeededRandom(options.seed);
    this.defaults = { cc: options.cc, scheduler: options.scheduler, config: options.config };
    this.mesh = new Mesh({ seed: options.seed });
    this.tracer = new DataTracer((name) => this.hostByName.get(name)?.endpoint);
    this.mesh.onPacket = (ev) => {
      this.tracer.onPacket(ev);
      for (const o of this.packetObservers) o(ev);
    };
  }

  get now(): number {
    return this.mesh.now;
  }

  /** A host whose endpoint uses the testbed's stack options, overridden by `stack`. */
  addHost(name: string, stack: StackOptions = {}): Host {
    if (this.hostByName.has(name)) throw new Error(`host ${name} already exists`);
    const cfg: EndpointConfig = {
      random: this.rng.fork(),
      scheduler: schedulerFactory(stack.scheduler ?? this.defaults.scheduler ?? 'minrtt'),
      congestionControl: ccFactory(stack.cc ?? this.defaults.cc ?? 'cubic'),
      ...this.defaults.config,
      ...stack.config,
    };
    const endpoint = new Endpoint(cfg);
    endpoint.listen(SERVER_PORT);
    const host: Host = { name, index: this.hosts.length, endpoint };
    this.hosts.push(host);
    this.hostByName.set(name, host);
    this.mesh.addEndpoint(endpoint, name);
    return host;
  }

  /** Every route added so far, in order. */
  get routeList(): readonly Route[] {
    return this.routes;
  }

  host(name: string): Host {
    const h = this.hostByName.get(name);
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
  }

  /** A link to use in routes; the same Link in several routes makes a shared bottleneck. */
  link(name: string, options: LinkOptions): Link {
    return new Link({ ...options, name });
  }

  /** A route from `client` to `server` over the given links (each direction needs at least one). */
  addRoute(client: Host, server: Host, forward: Link | readonly Link[], backward: Link | readonly Link[], name?: string): Route {
    const n = this.routesOf.get(client) ?? 0;
    this.routesOf.set(client, n + 1);
    if (n > 250) throw new Error(`too many routes from ${client.name}`);
    // Each route is its own client interface; the server has one address.
    const clientAddr = { host: `10.${client.index % 256}.${n}.2`, port: 40000 + n };
    const serverAddr = { host: `10.200.${server.index % 256}.1`, port: SERVER_PORT };
    const clientPathId = client.endpoint.openPath(clientAddr, serverAddr);
    const serverPathId = server.endpoint.openPath(serverAddr, clientAddr);
    const fwd = Array.isArray(forward) ? [...forward] : [forward as Link];
    const bwd = Array.isArray(backward) ? [...backward] : [backward as Link];
    const path = this.mesh.addPath({
      a: { endpoint: client.endpoint, pathId: clientPathId },
      b: { endpoint: server.endpoint, pathId: serverPathId },
      forward: fwd,
      backward: bwd,
      name: name ?? `${client.name}-${server.name}#${n}`,
    });
    const route: Route = { index: path.index, name: path.name, client, server, clientPathId, serverPathId, forward: fwd, backward: bwd };
    this.routes.push(route);
    return route;
  }

  /** A route with a link of its own in each direction (backward defaults to forward's options). */
  addSimpleRoute(client: Host, server: Host, forward: LinkOptions, backward?: LinkOptions, name?: string): Route {
    const label = name ?? `${client.name}-${server.name}#${this.routesOf.get(client) ?? 0}`;
    return this.addRoute(client, server, this.link(`${label}.fwd`, forward), this.link(`${label}.bwd`, backward ?? forward), label);
  }

  /**
   * Open a connection from the routes' client host: MP_CAPABLE on routes[0], MP_JOIN on the
   * others once established, and MP_JOIN with the backup flag on `backup` routes.
   */
  connect(routes: readonly Route[], options: ConnectionOptions = {}): Session {
    const first = routes[0];
    if (first === undefined) throw new Error('connect needs at least one route');
    const all = [...routes, ...(options.backup ?? [])];
    if (all.some((r) => r.client !== first.client || r.server !== first.server)) {
      throw new Error('all routes of a connection must join the same client and server hosts');
    }
    const conn = first.client.endpoint.connect(this.now, {
      path: first.clientPathId,
      extraPaths: routes.slice(1).map((r) => r.clientPathId),
      ...(options.scheduler !== undefined ? { scheduler: schedulerFactory(options.scheduler) } : {}),
      ...(options.cc !== undefined ? { congestionControl: ccFactory(options.cc) } : {}),
    });
    const session = new Session(conn, first.server, options.backup ?? []);
    this.sessions.push(session);
    this.sessionOf.set(conn, { session, side: 'client' });
    return session;
  }

  /** Run this workload at every pass from now on. */
  add<W extends Workload>(workload: W): W {
    this.workloads.push(workload);
    return workload;
  }

  /** See every packet event (sends, deliveries, drops). */
  observe(fn: (ev: PacketEvent) => void): void {
    this.packetObservers.push(fn);
  }

  /**
   * Run until virtual time `untilMs`, or until `stop` returns true (checked at every pass,
   * after the workloads ran). Returns true when `stop` ended the run.
   */
  run(untilMs: number, stop?: () => boolean): boolean {
    let stopped = false;
    let target = untilMs;
    let retarget = false;
    const pass = (): boolean => {
      this.dispatchEvents();
      const now = this.now;
      for (const w of this.workloads) w.pump(now);
      if (stop !== undefined && stop()) stopped = true;
      // A workload that now wants to run before the current target (a connection came up,
      // say) must not be jumped over: end this run and aim again.
      retarget = Math.max(this.nextWakeup(untilMs), now) < target;
      return stopped || retarget;
    };
    while (!stopped) {
      // A wakeup due now is served by the first pass of the next mesh run.
      target = Math.max(this.nextWakeup(untilMs), this.now);
      const before = this.now;
      this.mesh.run({ until: target, stopWhen: pass, maxSteps: Number.MAX_SAFE_INTEGER });
      if (stopped || this.now >= untilMs) break;
      if (!retarget && this.now === before && target === before) {
        // Serve the wakeup, then make sure a workload does not ask for the same instant forever.
        pass();
        if (this.nextWakeup(untilMs) <= this.now && !stopped) {
          throw new Error(`a workload keeps asking to run at t=${this.now} ms (seed ${this.seed})`);
        }
      }
    }
    return stopped;
  }

  /** The earliest workload wakeup, or `limit` if none is earlier. */
  private nextWakeup(limit: number): number {
    let t = limit;
    for (const w of this.workloads) t = Math.min(t, w.nextWakeup());
    return t;
  }

  private dispatchEvents(): void {
    for (const host of this.hosts) {
      const ep = host.endpoint;
      for (let ev = ep.pollEvent(); ev !== null; ev = ep.pollEvent()) {
        if (ev.type === 'incoming') {
          const list = this.unmatched.get(host) ?? [];
          list.push(ev.connection);
          this.unmatched.set(host, list);
          continue;
        }
        const owner = this.sessionOf.get(ev.connection) ?? this.match(host, ev.connection);
        if (owner !== undefined) owner.session.onEvent(owner.side, this.now, ev);
      }
    }
    for (const host of this.unmatched.keys()) this.match(host, null);
  }

  /**
   * Pair accepted server connections with their client sessions: a server connection's
   * token is the one its client learnt from MP_CAPABLE (RFC 8684 §3.1). With `conn`, only
   * that connection is considered. Returns the owner of `conn` when it was matched.
   */
  private match(host: Host, conn: Connection | null): { session: Session; side: Side } | undefined {
    const list = this.unmatched.get(host);
    if (list === undefined || list.length === 0) return undefined;
    for (const s of this.sessions) {
      if (s.server !== null || s.client.remoteToken === 0 || s.serverHost !== host) continue;
      const i = list.findIndex((c) => c.localToken === s.client.remoteToken && (conn === null || c === conn));
      if (i < 0) continue;
      const server = list[i]!;
      list.splice(i, 1);
      s.server = server;
      const owner = { session: s, side: 'server' as const };
      this.sessionOf.set(server, owner);
      if (conn !== null) return owner;
    }
    return undefined;
  }
}
