/**
 * MptcpClient: the connecting side. Paths (one authenticated session each) live in a table
 * shared by the client's connections (client-paths.ts); which subflows each connection has is
 * decided by its own path manager (@mptun/path-manager): fullmesh or ndiffports over the
 * client's local addresses and the server's addresses (its own plus those it announces with
 * ADD_ADDR), retries with backoff, REMOVE_ADDR and MP_PRIO. Local addresses come from the
 * options, addLocal()/removeLocal(), or the interface watcher.
 */
import type { Connection, EndpointConfig, EndpointEvent, PathLink, TransportAddress } from '@mptun/core';
import { canonicalHost, familiesMatch, fullmesh, parsePathPolicy, PathManager, type InterfaceChange, type ManagedConnection, type PathPolicy, type RetryPolicy } from '@mptun/path-manager';
import { deviceBindingUnavailable } from './bind-device.js';
import { ClientPaths, pathState, pathUsable, type PathEntry, type PathState } from './client-paths.js';
import { Driver, osRandom } from './driver.js';
import { MptunError } from './errors.js';
import { TypedEventEmitter } from './events.js';
import { chooseFirstPath } from './first-path.js';
import { watchLocalAddresses, type InterfaceWatch, type WatchOptions } from './interfaces.js';
import { resolveStrategy, type ProfileName } from './profiles.js';
import { MptcpSocket, type PathOwner } from './socket.js';
import type { SegmentTap } from './segment-tap.js';
import { TimestampClock, type Keypair } from '@mptun/session';
import { pathOpener, type ClientTransportOptions, type PathOpener, type SealedTransportKind, type TransportKind } from './transports.js';

/**
 * Upload bytes a connection takes beyond what its subflows have in flight (EndpointConfig.
 * sendUnsentLimit): the rest waits in the application's socket, where TCP's own flow control
 * holds it. With the 4 MiB send buffer alone, an upload into a 20 Mbit/s, 50 ms path kept
 * 4 MiB unacknowledged (17 BDP); with this, about the congestion window plus this much.
 */
const CLIENT_UNSENT_LIMIT = 256 * 1024;

/** One path: a local address, and optionally its own transport and server address. */
export interface PathSpec {
  local: string;
  transport?: TransportKind;
  server?: string | TransportAddress;
  backup?: boolean;
}

/** What every client takes, whatever the transport. */
export interface ClientCommonOptions extends Omit<ClientTransportOptions, 'server' | 'transport' | 'keypair' | 'serverPublicKey'> {
  /** The server: "host:port", or host and port. */
  server: string | TransportAddress;
  /** Paths with their own transport or server address (e.g. one over UDP, one over WebSocket). */
  paths?: PathSpec[];
  /** Local addresses to open paths from. Default: 0.0.0.0 and :: (the OS picks the source). */
  localAddresses?: string[];
  /** Local addresses whose paths are backups (RFC 8684 §3.3.8): used only when the others fail. */
  backupAddresses?: string[];
  /**
   * Local address → network interface: the sockets of paths from that address are bound to
   * the interface (Linux SO_BINDTODEVICE), so they leave through it whatever the routing
   * table says. Throws ERR_MPTUN_BIND_DEVICE where the platform cannot do it.
   */
  devices?: Record<string, string>;
  /** Follow the machine's interfaces: their addresses come and go as local addresses. */
  watchInterfaces?: WatchOptions;
  /**
   * With `watchInterfaces`: the paths of each address found are bound to the interface that
   * has it (as `devices` does for given ones), so each leaves through its own interface.
   * Throws ERR_MPTUN_BIND_DEVICE where the platform cannot do it.
   */
  bindWatchedInterfaces?: boolean;
  /** Which subflows a connection gets: a policy or its name ("fullmesh", "ndiffports:4"). Default fullmesh. */
  pathManager?: PathPolicy | string;
  /** Retry schedule of subflows that failed (backoff with jitter). */
  retry?: Partial<RetryPolicy>;
  profile?: ProfileName;
  scheduler?: string;
  congestionControl?: string;
  /** Engine tuning (buffers, timers). */
  engine?: Partial<Omit<EndpointConfig, 'random' | 'scheduler' | 'congestionControl'>>;
  /** Give up a connect when no path came up within this long. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Sealed UDP: a new path's first MP_JOIN SYN rides its handshake and the SYN/ACK its
   * response, so the joining subflow is up two round trips after the path's handshake
   * starts (three without; the last is RFC 8684 §3.2's acknowledgement of the third ACK).
   * Default true.
   */
  earlyJoin?: boolean;
  /** Sees every segment sent and received on every path (e.g. to write a pcap). */
  onSegment?: SegmentTap;
}

/** udp, ws, wss: every path is an authenticated session (Noise IK), so both keys are needed. */
export interface SealedClientOptions extends ClientCommonOptions {
  transport: SealedTransportKind;
  /** This client's static key pair; the server must list its public key. */
  keypair: Keypair;
  /** The server's static public key, pinned. */
  serverPublicKey: Uint8Array;
}

/** udp-plain: tcp-in-udp, neither encrypted nor authenticated, so no keys. */
export interface PlainClientOptions extends ClientCommonOptions {
  transport: 'udp-plain';
  keypair?: Keypair;
  serverPublicKey?: Uint8Array;
}

export type ClientOptions = SealedClientOptions | PlainClientOptions;

/** Options assembled at run time (a transport named in a configuration), not yet checked. */
export type UncheckedClientOptions = ClientCommonOptions & { transport: TransportKind; keypair?: Keypair; serverPublicKey?: Uint8Array };

/**
 * Check options assembled at run time: a sealed transport must come with both keys.
 * Throws MptunError ERR_MPTUN_BAD_OPTION naming the missing one.
 */
export function checkClientOptions(o: UncheckedClientOptions): ClientOptions {
  if (o.transport === 'udp-plain') return { ...o, transport: o.transport };
  if (!o.keypair) throw new MptunError('ERR_MPTUN_BAD_OPTION', `the ${o.transport} transport needs keypair (this client's key pair)`);
  if (!o.serverPublicKey) throw new MptunError('ERR_MPTUN_BAD_OPTION', `the ${o.transport} transport needs serverPublicKey (the server's public key)`);
  return { ...o, transport: o.transport, keypair: o.keypair, serverPublicKey: o.serverPublicKey };
}

export interface ConnectOptions {
  /** First bytes to send; they ride the SYN (one round trip to the first byte). */
  data?: Uint8Array;
  profile?: ProfileName;
  scheduler?: string;
  congestionControl?: string;
  /** RFC 6897 TCP_MULTIPATH_ENABLE: false keeps the connection on one path. Default true. */
  multipath?: boolean;
  highWaterMark?: number;
}

export function parseHostPort(s: string | TransportAddress): TransportAddress {
  if (typeof s !== 'string') return s;
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) throw new MptunError('ERR_MPTUN_BAD_OPTION', `expected host:port, got "${s}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new MptunError('ERR_MPTUN_BAD_OPTION', `port out of range in "${s}"`);
  return { host: m[1]!, port };
}

/** A path as the client's events report it: local address, server address ("host:port"), and its index among the paths of that pair. */
export interface PathEventInfo {
  localAddress: string;
  remoteAddress: string;
  index: number;
}

/** MptcpClient's events: its paths to the server coming and going. */
export interface MptcpClientEvents {
  'path-up': [path: PathEventInfo];
  /** `reason`: why the path ended (e.g. the idle timeout, ICMP port unreachable). */
  'path-down': [path: PathEventInfo & { reason: string }];
  /** A path could not be opened (it is retried with backoff). */
  'path-error': [path: PathEventInfo & { error: unknown }];
  /** A local address came or went (with `watchInterfaces`). */
  interface: [change: InterfaceChange];
}

/** One connection under path management. */
interface Managed {
  socket: MptcpSocket;
  pm: PathManager;
  /** The connection as the path manager sees it. */
  view: ManagedConnection;
  /** When its path manager next wants a tick (a retry, a release), ms; Infinity: only on news. */
  due: number;
}

export class MptcpClient extends TypedEventEmitter<MptcpClientEvents> implements PathOwner {
  readonly driver: Driver;
  readonly policy: PathPolicy;
  private readonly opener: PathOpener;
  private readonly server: TransportAddress;
  /** Client-wide local addresses, by canonical host. */
  private readonly locals = new Map<string, { backup: boolean }>();
  /** Per-path transport or server, by local host. */
  private readonly specs = new Map<string, PathOpener>();
  private readonly openers = new Map<string, PathOpener>();
  /** Interfaces the sockets of a local address are bound to, by canonical host. */
  private readonly devices = new Map<string, string>();
  /** Addresses configured as backups: one that comes back after going away is a backup again. */
  private readonly configuredBackups = new Set<string>();
  /** Server addresses paths of their own dial ("host|port"): announcing one adds nothing new. */
  private readonly dialled = new Set<string>();
  private readonly table: ClientPaths;
  private readonly sockets = new Set<MptcpSocket>();
  private readonly managed = new Map<MptcpSocket, Managed>();
  /** The same, by connection: an engine event finds its manager without a scan. */
  private readonly managedByConnection = new Map<Connection, Managed>();
  /**
   * The managers the next tick runs besides those due: ones whose connection had news, or
   * all of them after a client-wide change (a path, a local address).
   */
  private dirty = new Set<Managed>();
  private allDirty = false;
  private tickQueued = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private watch: InterfaceWatch | null = null;
  /** The wildcard addresses used until the interface watcher finds an address. */
  private fallback: string[] = [];
  private closed = false;
  /**
   * A connection's server set the C bit (RFC 8684 §3.1): the server address is a balancer's,
   * shared by several servers, and a path from a fresh source port may reach another one.
   */
  private behindBalancer = false;
  /** start() was called: standing paths open as their addresses appear. */
  private started = false;
  /**
   * One handshake timestamp clock for every path of the client key, whatever server address
   * it dials: initiations of paths opened at once never carry the same stamp.
   */
  private readonly timestamps: TimestampClock;

  constructor(private readonly options: ClientOptions) {
    super();
    this.timestamps = options.timestampClock ?? TimestampClock.random();
    const server = parseHostPort(options.server);
    // Canonical, so it compares equal to the address the path managers hand back.
    this.server = { host: canonicalHost(server.host) ?? server.host, port: server.port };
    this.opener = pathOpener({ ...options, timestampClock: this.timestamps, server: this.server });
    for (const [host, device] of Object.entries(options.devices ?? {})) this.devices.set(localHost(host), device);
    const binds = this.devices.size > 0 || (options.bindWatchedInterfaces === true && options.watchInterfaces !== undefined);
    const unavailable = binds ? deviceBindingUnavailable() : null;
    if (unavailable !== null) throw new MptunError('ERR_MPTUN_BIND_DEVICE', unavailable);
    this.policy = typeof options.pathManager === 'string' ? parsePathPolicy(options.pathManager) : (options.pathManager ?? fullmesh());
    const strategy = resolveStrategy(options);
    this.driver = new Driver({ scheduler: strategy.schedulerFactory, congestionControl: strategy.ccFactory, sendUnsentLimit: CLIENT_UNSENT_LIMIT, ...options.engine });
    this.table = new ClientPaths(
      this.driver,
      (local, remote) => this.openerFor(local, remote),
      {
        up: (e) => this.emit('path-up', pathEvent(e)),
        down: (e) => {
          this.emit('path-down', { ...pathEvent(e), reason: e.lastError ?? 'closed' });
          // Behind a balancer a server gone quiet through it is likely gone (killed): the same
          // source port would keep reaching it, a fresh one may reach another server. The
          // quiet path closes: connections with subflows straight to their server go on,
          // those with none left fail rather than hang on a server that lost their state.
          if (e.silent && this.behindBalancer && e.pathId !== null) {
            const pathId = e.pathId;
            queueMicrotask(() => this.redial([pathId], true));
          }
        },
        error: (e, error) => this.emit('path-error', { ...pathEvent(e), error }),
        settled: () => this.scheduleTick(),
        // Joins wanted on a path whose handshake is starting go now: the first rides it.
        reserved: () => this.tickAll(),
      },
      // Only shared paths stand: a plain path belongs to its connection and ends with it, and
      // one asking a proxy for a given server lasts as long as a connection on that server.
      (e) => e.owner === null && e.index === 0 && e.affinity === null && this.locals.has(e.local) && this.isServer(e.remote),
      options.earlyJoin ?? true,
    );
    this.driver.onPathClosed = (pathId, link, info) => {
      // Behind a balancer, nothing listening at an address the server announced (ICMP port
      // unreachable) says that server is gone, with the state of its connections: paths
      // through the balancer that may reach it are closed and dialled afresh at once rather
      // than when they go quiet.
      const gone = this.behindBalancer && info.code === 'ERR_MPTUN_SERVER_UNREACHABLE' ? this.pathsMaybeTo(pathId, link.remote.host) : [];
      this.table.linkClosed(pathId, info.message);
      if (gone.length > 0) queueMicrotask(() => this.redial(gone, true));
    };
    this.driver.onFirstHeard = (pathId) => this.table.heard(pathId);
    this.driver.onPathLiveness = (ev) => this.table.liveness(ev);
    this.driver.onEvent = (ev) => this.onEngineEvent(ev);
    this.driver.onSegment = options.onSegment ?? null;
    for (const p of options.paths ?? []) {
      const opener = p.transport || p.server
        ? pathOpener({ ...options, timestampClock: this.timestamps, transport: p.transport ?? options.transport, server: parseHostPort(p.server ?? options.server) })
        : this.opener;
      if (!opener.shared) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'per-path transports must be shared ones (udp, ws, wss)');
      this.specs.set(localHost(p.local), opener);
      if (p.server) {
        const a = parseHostPort(p.server);
        this.dialled.add(`${canonicalHost(a.host) ?? a.host}|${a.port}`);
      }
      this.locals.set(localHost(p.local), { backup: p.backup ?? false });
      if (p.backup) this.configuredBackups.add(localHost(p.local));
    }
    for (const host of options.localAddresses ?? []) this.locals.set(localHost(host), { backup: false });
    for (const host of options.backupAddresses ?? []) {
      this.locals.set(localHost(host), { backup: true });
      this.configuredBackups.add(localHost(host));
    }
    if (options.watchInterfaces) {
      this.watch = watchLocalAddresses(options.watchInterfaces, (change) => {
        // The device is known before the address's first path opens (addLocal opens it).
        if (options.bindWatchedInterfaces) this.followDevice(change);
        if (change.type === 'added') this.addLocal(change.address);
        else this.removeLocal(change.address);
        // The wildcards stood in while no interface was known: real addresses replace them.
        if (change.type === 'added') {
          for (const w of this.fallback.splice(0)) this.withdrawLocal(w);
          this.table.sweep();
        }
        this.emit('interface', change);
      });
    }
    if (this.locals.size === 0) {
      // No address given (or no interface up yet): the OS picks the source address, in
      // either family, so the server's addresses of the other family (ADD_ADDR) are joined too.
      this.fallback = this.watch ? [...WILDCARDS] : [];
      for (const w of WILDCARDS) this.locals.set(w, { backup: false });
    }
  }

  /** How interface changes are learned ("ip-monitor" or "poll"), when interfaces are watched. */
  get interfaceSource(): string | null {
    return this.watch?.source ?? null;
  }

  /** Open a connection; its first bytes may be passed now (0-RTT). */
  connect(opts: ConnectOptions = {}): MptcpSocket {
    if (this.closed) throw new MptunError('ERR_MPTUN_CLOSED', 'the client is closed');
    const strategy = resolveStrategy({ ...this.options, ...definedOnly(opts) });
    const multipath = opts.multipath ?? true;
    const socket = new MptcpSocket(this.driver, null, this, {
      scheduler: strategy.scheduler,
      congestionControl: strategy.congestionControl,
      profile: opts.profile ?? this.options.profile,
      multipath,
    }, opts.highWaterMark === undefined ? {} : { highWaterMark: opts.highWaterMark });
    this.sockets.add(socket);
    const owner = this.opener.shared ? null : socket;
    // Behind a reverse proxy whose servers have affinity tokens, further paths to the proxy
    // ask for the server the connection began on (see affinityOfConnection).
    const affinity = (remote: TransportAddress): string | null =>
      socket.isBound && this.isServer(remote) ? affinityOfConnection(socket.connection, (pathId) => this.table.affinityOf(pathId)) : null;
    const pm = new PathManager({ host: this.table.hostFor(socket, owner, affinity), server: this.server, random: osRandom, policy: this.policy, ...(this.options.retry ? { retry: this.options.retry } : {}) });
    for (const [host, l] of this.locals) pm.addLocal({ id: host, host, backup: l.backup });
    // The first subflow leaves from a regular address of the server's family, toward the server.
    const usable = [...this.locals].filter(([host]) => familiesMatch(host, this.server.host));
    const primaries = usable.filter(([, l]) => !l.backup);
    const hosts = (primaries.length > 0 ? primaries : usable).map(([host]) => host);
    const entries = hosts.map((host) => this.table.entry(owner, host, this.server, 0));
    const start = (first: number): void => {
      if (socket.destroyed || this.closed) return;
      // The freshest path first: if the first SYN goes unanswered, the engine races the next
      // MP_CAPABLE SYN on others[0] (raceHandshake).
      // Behind a proxy whose servers have affinity tokens, a path that reached another server
      // than the first cannot join it: the path manager opens one that asks for that server.
      const server = this.table.affinityOf(first);
      const others = entries
        .filter((e) => pathUsable(e) && e.pathId !== first && this.table.affinityOf(e.pathId!) === server)
        .map((e) => e.pathId!)
        .sort((a, b) => this.driver.lastHeard(b) - this.driver.lastHeard(a) || 0); // NaN when neither was heard
      const conn = this.driver.endpoint.connect(this.driver.now(), {
        path: first,
        extraPaths: multipath ? others : [],
        scheduler: strategy.schedulerFactory,
        congestionControl: strategy.ccFactory,
        ...(opts.data ? { data: opts.data } : {}),
      });
      for (const e of entries) e.users.add(socket);
      socket.bind(conn);
      // RFC 6897 TCP_MULTIPATH_ENABLE off: one subflow, nothing to manage.
      if (multipath) {
        const view = managedConnection(conn, (a) => this.dialled.has(`${canonicalHost(a.host) ?? a.host}|${a.port ?? this.server.port}`));
        pm.attach(view);
        const m: Managed = { socket, pm, view, due: Infinity };
        this.managed.set(socket, m);
        this.managedByConnection.set(conn, m);
        this.scheduleTick(m);
      }
      this.driver.schedulePump();
    };
    const upIds = entries.filter(pathUsable).map((e) => e.pathId!);
    const first = chooseFirstPath(upIds, (id) => this.driver.lastHeard(id));
    if (first !== undefined) {
      start(first);
      return socket;
    }
    // Every path is down and being retried (the server stopped answering): fail now with the
    // reason rather than wait out connectTimeoutMs; the retries bring the paths back.
    if (this.table.allKnownDown(entries)) {
      const why = entries.find((e) => e.lastError !== null)?.lastError ?? 'the server stopped answering';
      queueMicrotask(() => socket.destroy(new MptunError('ERR_MPTUN_NO_PATH', `no path to ${this.server.host}:${this.server.port} is up (retrying): ${why}`)));
      return socket;
    }
    // No path yet: the socket exists at once, the connection starts with the first path up.
    const timer = setTimeout(() => {
      if (!socket.isBound) socket.destroy(new MptunError('ERR_MPTUN_NO_PATH', `no path to ${this.server.host}:${this.server.port} came up in time`));
    }, this.options.connectTimeoutMs ?? 10_000);
    // A plain connection that may not use several paths opens just one of its own.
    const candidates = this.opener.shared || multipath ? hosts : hosts.slice(0, 1);
    if (candidates.length === 0) {
      clearTimeout(timer);
      queueMicrotask(() => socket.destroy(new MptunError('ERR_MPTUN_NO_PATH', `no local address of ${this.server.host}'s address family to reach it from`)));
      return socket;
    }
    this.firstOpen(owner, candidates, REDIAL_HEDGES + 1).then(
      (pathId) => {
        clearTimeout(timer);
        if (!socket.isBound) start(pathId);
      },
      (err: unknown) => {
        clearTimeout(timer);
        // Say why (e.g. "server unreachable: ..."): the reason of the first path that failed.
        const first = err instanceof AggregateError ? (err.errors[0] as unknown) : err;
        const why = first instanceof Error ? `: ${first.message}` : '';
        if (!socket.isBound) socket.destroy(new MptunError('ERR_MPTUN_NO_PATH', `no path to ${this.server.host}:${this.server.port} could be opened${why}`));
      },
    );
    return socket;
  }

  /** Open the path of every configured address toward the server now rather than at the first connect. */
  async start(): Promise<void> {
    this.started = true;
    await Promise.allSettled([...this.locals.keys()].map((h) => this.openStanding(h)));
  }

  /** The shared path from `h` to the server, opened now (it then stands: reopened when it drops). */
  private openStanding(h: string): Promise<number | void> {
    if (!this.opener.shared || !familiesMatch(h, this.server.host)) return Promise.resolve();
    return this.table.open(this.table.entry(null, h, this.server, 0));
  }

  /**
   * The server `socket` reached turned it away for now (it is draining): the standing paths
   * it used are set aside for the connections on them, and fresh ones from new source ports
   * are opened in their place, so the next connection may reach another server behind the
   * balancer (one that hashes on the source port). Call it before destroying `socket`.
   */
  leaveServerOf(socket: MptcpSocket): void {
    if (socket.isBound) this.redial(socket.connection.subflows().map((f) => f.pathId));
  }

  /**
   * The first of the paths from `hosts` to the server to open. A path given up for a fresh
   * source port (dialFresh) has another in its place: that one is waited on instead, up to
   * `rounds` times.
   */
  private firstOpen(owner: object | null, hosts: string[], rounds: number): Promise<number> {
    const entries = hosts.map((host) => this.table.entry(owner, host, this.server, 0));
    return Promise.any(entries.map((e) => this.table.open(e))).catch((err: unknown) => {
      if (rounds > 1 && entries.some((e) => this.table.wasAbandoned(e)) && !this.closed) return this.firstOpen(owner, hosts, rounds - 1);
      throw err;
    });
  }

  /** Retire these standing paths (ClientPaths.retire; `close`: close them now) and open fresh ones in their place. */
  private redial(pathIds: Iterable<number>, close = false): void {
    if (this.closed) return;
    for (const id of new Set(pathIds)) {
      const old = this.table.retire(id, close);
      if (old) this.dialFresh(old.local, REDIAL_HEDGES);
    }
  }

  /**
   * A standing path from `local` to the server address from a fresh source port. Behind a
   * balancer that hashes the port it may still lead to the server that is gone, and its
   * handshake retries keep the port: unanswered after REDIAL_HEDGE_MS, it is given up for
   * another port, at most `hedges` more times. A failure is retried (reopenLater).
   */
  private dialFresh(local: string, hedges: number): void {
    const e = this.table.entry(null, local, this.server, 0);
    this.table.open(e).catch(() => {});
    if (hedges <= 0) return;
    setTimeout(() => {
      if (!this.closed && this.table.abandonPending(e)) this.dialFresh(local, hedges - 1);
    }, REDIAL_HEDGE_MS).unref();
  }

  /**
   * The paths that may reach the dead server `dead`, at the far end of `pathId`: those of its
   * connections, and every standing path through the balancer not known to reach another
   * server. The balancer hashes each source port on its own, so a path that carries no
   * connection announced by another server may lead to the dead one, and would stay quiet
   * for the whole silence limit before a new connection on it gave up.
   */
  private pathsMaybeTo(pathId: number, dead: string): number[] {
    const paths = this.pathsOfBalanced(this.table.usersOf(pathId));
    for (const e of this.table.all()) {
      if (e.pathId === null || e.owner !== null || !this.isServer(e.remote)) continue;
      const elsewhere = this.table.usersOf(e.pathId).some((u) => {
        if (!(u instanceof MptcpSocket) || !u.isBound) return false;
        const announced = u.connection.peerAddressList();
        return announced.length > 0 && !announced.some((a) => a.host === dead);
      });
      if (!elsewhere) paths.push(e.pathId);
    }
    return paths;
  }

  /** The paths of the subflows of those of `users` whose server set the C bit (RFC 8684 §3.1). */
  private pathsOfBalanced(users: object[]): number[] {
    return users.flatMap((u) => (u instanceof MptcpSocket && u.isBound && u.connection.joinsToInitialAddressRefused ? u.connection.subflows().map((f) => f.pathId) : []));
  }

  /** A local address exists now (an interface came up): every connection may use it. */
  addLocal(host: string, opts: { backup?: boolean } = {}): void {
    const h = localHost(host);
    this.locals.set(h, { backup: opts.backup ?? this.locals.get(h)?.backup ?? this.configuredBackups.has(h) });
    for (const m of this.managed.values()) m.pm.addLocal({ id: h, host: h, backup: this.locals.get(h)!.backup, allowed: true });
    // Once started, a new address's path to the server opens at once, connection or not:
    // its handshake is under way before any join asks for it.
    if (this.started) this.openStanding(h).catch(() => {}); // a failure is reported and retried
    this.tickAll();
  }

  /** A local address is gone: its subflows close and the peer is told (REMOVE_ADDR, RFC 8684 §3.4.2). */
  removeLocal(host: string): void {
    const h = localHost(host);
    this.table.dropLocal(h, () => this.withdrawLocal(h));
  }

  /** The path managers stop using `h` (REMOVE_ADDR); its paths stay until nothing holds them. */
  private withdrawLocal(h: string): void {
    this.locals.delete(h);
    for (const m of this.managed.values()) m.pm.removeLocal(h);
    this.tickAll();
  }

  /**
   * A watched address's interface, for binding its paths' sockets. An alias label such as
   * "eth0:1" names the device before the colon: that is what SO_BINDTODEVICE takes.
   */
  private followDevice(change: InterfaceChange): void {
    const h = localHost(change.address);
    if (change.type === 'added') this.devices.set(h, change.name.split(':')[0]!);
    else this.devices.delete(h);
  }

  // --- Path management ------------------------------------------------------------------------

  private openerFor(local: string, remote: TransportAddress): PathOpener {
    const opener = this.transportFor(local, remote);
    const device = this.devices.get(local);
    return device === undefined ? opener : { ...opener, open: (host, opts) => opener.open(host, { ...opts, device }) };
  }

  private transportFor(local: string, remote: TransportAddress): PathOpener {
    const own = this.specs.get(local);
    if (this.isServer(remote)) return own ?? this.opener;
    // An address the server announced: the path's transport, dialled at that address.
    const kind = own?.kind ?? this.opener.kind;
    const key = `${kind}|${remote.host}|${remote.port}`;
    let o = this.openers.get(key);
    if (!o) this.openers.set(key, (o = pathOpener({ ...this.options, timestampClock: this.timestamps, transport: kind, server: remote })));
    return o;
  }

  private isServer(a: TransportAddress): boolean {
    return a.host === this.server.host && a.port === this.server.port;
  }

  private onEngineEvent(ev: EndpointEvent): void {
    if (!this.behindBalancer && ev.connection.joinsToInitialAddressRefused) this.behindBalancer = true;
    const m = this.managedByConnection.get(ev.connection);
    if (m?.pm.handleEvent(this.driver.now(), { ...ev, connection: m.view })) this.scheduleTick(m);
  }

  /** A tick at the end of this turn, for `m` (and those due), or for every manager. */
  private scheduleTick(m?: Managed): void {
    if (m) this.dirty.add(m);
    else this.allDirty = true;
    if (this.tickQueued || this.closed) return;
    this.tickQueued = true;
    setImmediate(() => this.tickNow());
  }

  /** Every path manager acts now. */
  private tickAll(): void {
    this.allDirty = true;
    this.tickNow();
  }

  /**
   * Let the path managers with news act, and those whose retry or release is due, then wake
   * at the earliest of those. Ticking every manager for each connection's event made opening
   * n connections cost O(n²): 1,000 idle tunnels took 12 s to open (pnpm bench, scale).
   */
  private tickNow(): void {
    this.tickQueued = false;
    if (this.closed) return;
    const now = this.driver.now();
    const all = this.allDirty;
    const dirty = this.dirty;
    this.allDirty = false;
    this.dirty = new Set();
    let next = Infinity;
    for (const m of [...this.managed.values()]) {
      if (all || dirty.has(m) || m.due <= now) {
        m.pm.tick(now);
        if (m.pm.connection?.state === 'closed') {
          this.forget(m);
          continue;
        }
        m.due = m.pm.nextTimeout() ?? Infinity;
      }
      if (m.due < next) next = m.due;
    }
    this.driver.schedulePump();
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    if (next === Infinity) return;
    this.tickTimer = setTimeout(() => this.tickNow(), Math.max(1, Math.ceil(next - now)));
    this.tickTimer.unref();
  }

  // --- PathOwner (RFC 6897 §5.3.3, per connection) -----------------------------------------

  async addLocalAddress(socket: MptcpSocket, host: string, backup: boolean): Promise<void> {
    const m = this.managed.get(socket);
    if (!m) throw new MptunError('ERR_MPTUN_NOT_CONNECTED', 'the connection is not multipath or not started yet');
    const h = localHost(host);
    m.pm.addLocal({ id: h, host: h, backup, allowed: true });
    this.dirty.add(m);
    this.tickNow();
  }

  removeLocalAddress(socket: MptcpSocket, host: string): void {
    const m = this.managed.get(socket);
    if (!m) return;
    m.pm.setAllowed(localHost(host), false);
    this.dirty.add(m);
    this.tickNow();
  }

  released(socket: MptcpSocket): void {
    this.sockets.delete(socket);
    const m = this.managed.get(socket);
    if (m) this.forget(m);
    this.table.release(socket);
  }

  private forget(m: Managed): void {
    this.managed.delete(m.socket);
    this.managedByConnection.delete(m.socket.connection); // bound: managed only once it has a connection
    this.dirty.delete(m);
  }

  /**
   * The paths and their state, for status displays: one row per local address, server
   * address and transport (siblings of ndiffports and the per-connection paths of plain
   * mode are one row, in the best state any of them is in). In plain mode a configured
   * address with no connection on it now is listed as idle.
   */
  pathList(): PathListEntry[] {
    const rows = new Map<string, PathListEntry>();
    for (const e of this.table.all()) {
      const remoteAddress = `${e.remote.host}:${e.remote.port}`;
      const state = pathState(e);
      const row: PathListEntry = { localAddress: e.local, remoteAddress, transport: e.opener.kind, backup: this.locals.get(e.local)?.backup ?? false, state, up: state === 'up', reason: state === 'down' ? e.lastError : null, link: e.link };
      const key = `${e.local}|${remoteAddress}|${e.opener.kind}`;
      const seen = rows.get(key);
      if (!seen || STATE_RANK[state] > STATE_RANK[seen.state]) rows.set(key, row);
    }
    if (!this.opener.shared) {
      const remoteAddress = `${this.server.host}:${this.server.port}`;
      for (const [host, l] of this.locals) {
        if (!familiesMatch(host, this.server.host) || rows.has(`${host}|${remoteAddress}|${this.opener.kind}`)) continue;
        rows.set(host, { localAddress: host, remoteAddress, transport: this.opener.kind, backup: l.backup, state: 'idle', up: false, reason: null, link: null });
      }
    }
    return [...rows.values()];
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** The connections this client has open. */
  openSockets(): MptcpSocket[] {
    return [...this.sockets];
  }

  /** Abort every connection and close every path; resolves once the paths are closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.watch?.stop();
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.table.close();
    for (const s of [...this.sockets]) s.destroy();
    return this.driver.close();
  }
}

/** One row of MptcpClient.pathList(). */
export interface PathListEntry {
  localAddress: string;
  remoteAddress: string;
  transport: TransportKind;
  backup: boolean;
  state: PathState;
  /** state === 'up'. */
  up: boolean;
  /** Why it is down (the last open failure or close); null unless down. */
  reason: string | null;
  link: PathLink | null;
}

/** Which state wins when several paths make one row. */
const STATE_RANK: Record<PathState, number> = { idle: 0, down: 1, connecting: 2, up: 3 };

function pathEvent(e: PathEntry): PathEventInfo {
  return { localAddress: e.local, remoteAddress: `${e.remote.host}:${e.remote.port}`, index: e.index };
}

function localHost(host: string): string {
  return canonicalHost(host) ?? host;
}

/**
 * The token of the server a connection lives on: the one that answered the path of its
 * established MP_CAPABLE subflow, or (still in its handshake) of the path its first SYN took.
 */
function affinityOfConnection(conn: Connection, affinityOf: (pathId: number) => string | null): string | null {
  const subflows = conn.subflows();
  const initial = subflows.find((sf) => sf.isInitial && sf.isEstablished) ?? subflows[0];
  return initial === undefined ? null : affinityOf(initial.pathId);
}

/** A path dialled afresh behind a balancer and not answered after this long is dialled again from another port (dialFresh). */
const REDIAL_HEDGE_MS = 600;
/** How many times over (dialFresh). */
const REDIAL_HEDGES = 3;
/** The any-addresses: the OS picks the source address. */
const WILDCARDS = ['0.0.0.0', '::'] as const;

/**
 * The engine's Connection as the path manager drives it. An MP_JOIN asked for before the
 * server has shown it holds our key is queued by the engine (RFC 8684 §3.2) and returns null;
 * asking again for the same path before that queued join starts would queue a second one.
 * Announced addresses that paths of their own already dial are left out (the same server).
 */
function managedConnection(conn: Connection, dialled: (a: { host: string; port: number | undefined }) => boolean): ManagedConnection {
  const queued = new Map<number, number>();
  const onPath = (pathId: number): number => conn.subflows().filter((sf) => sf.pathId === pathId).length;
  return {
    get state() {
      return conn.state;
    },
    get fallback() {
      return conn.fallback;
    },
    subflows: () => conn.subflows(),
    join(now, pathId, backup) {
      const count = onPath(pathId);
      if (queued.get(pathId) === count) return null;
      const sf = conn.join(now, pathId, backup);
      if (sf) queued.delete(pathId);
      else queued.set(pathId, count);
      return sf;
    },
    closeSubflow: (now, id, reason) => conn.closeSubflow(now, id, reason),
    setBackup: (id, backup) => conn.setBackup(id, backup),
    withdrawAddresses: (ids) => conn.withdrawAddresses(ids),
    peerAddressList: () => conn.peerAddressList().filter((a) => !dialled(a)),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
