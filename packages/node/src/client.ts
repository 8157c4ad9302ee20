/**
 * MptcpClient: the connecting side. It keeps one path per local address to the server
 * (one authenticated session each), shared by every connection it opens, reopens paths
 * that fail (with backoff), and joins each connection over every path (fullmesh).
 */
import { EventEmitter } from 'node:events';
import type { EndpointConfig, PathLink, TransportAddress } from '@mptun/core';
import { Driver } from './driver.js';
import { MptunError } from './errors.js';
import { chooseFirstPath } from './first-path.js';
import { resolveStrategy, type ProfileName } from './profiles.js';
import { MptcpSocket, type PathOwner } from './socket.js';
import { pathOpener, type ClientTransportOptions, type PathOpener, type TransportKind } from './transports.js';

/** One path: a local address, and optionally its own transport and server address. */
export interface PathSpec {
  local: string;
  transport?: TransportKind;
  server?: string | TransportAddress;
  backup?: boolean;
}

export interface ClientOptions extends Omit<ClientTransportOptions, 'server'> {
  /** The server: "host:port", or host and port. */
  server: string | TransportAddress;
  /** Paths with their own transport or server address (e.g. one over UDP, one over WebSocket). */
  paths?: PathSpec[];
  /** Local addresses to open paths from (one path each). Default: one path from 0.0.0.0. */
  localAddresses?: string[];
  /** Local addresses whose paths are backups (RFC 8684 §3.3.8): used only when the others fail. */
  backupAddresses?: string[];
  profile?: ProfileName;
  scheduler?: string;
  congestionControl?: string;
  /** Engine tuning (buffers, timers). */
  engine?: Partial<Omit<EndpointConfig, 'random' | 'scheduler' | 'congestionControl'>>;
  /** Give up a connect when no path came up within this long. Default 10 s. */
  connectTimeoutMs?: number;
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

interface PathEntry {
  host: string;
  opener: PathOpener;
  backup: boolean;
  /** Plain mode: the one connection this path carries a subflow of; null for shared paths. */
  owner: MptcpSocket | null;
  pathId: number | null;
  link: PathLink | null;
  opening: Promise<number> | null;
  retryMs: number;
  retryTimer: NodeJS.Timeout | null;
}

export function parseHostPort(s: string | TransportAddress): TransportAddress {
  if (typeof s !== 'string') return s;
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) throw new MptunError('ERR_MPTUN_BAD_OPTION', `expected host:port, got "${s}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new MptunError('ERR_MPTUN_BAD_OPTION', `port out of range in "${s}"`);
  return { host: m[1]!, port };
}

export class MptcpClient extends EventEmitter implements PathOwner {
  readonly driver: Driver;
  /** The default transport's opener; paths may have their own. */
  private readonly opener: PathOpener;
  private readonly server: TransportAddress;
  private readonly paths = new Map<string, PathEntry>();
  private readonly sockets = new Set<MptcpSocket>();
  /**
   * Plain mode: each connection's own paths, one per local address. tcp-in-udp has no room
   * for ports, so a plain path (a UDP socket) carries one subflow; a connection joins over
   * every one of its own paths, as it does over shared ones.
   */
  private readonly ownPaths = new Map<MptcpSocket, PathEntry[]>();
  private closed = false;

  constructor(private readonly options: ClientOptions) {
    super();
    this.server = parseHostPort(options.server);
    this.opener = pathOpener({ ...options, server: this.server });
    const strategy = resolveStrategy(options);
    this.driver = new Driver({ scheduler: strategy.schedulerFactory, congestionControl: strategy.ccFactory, ...options.engine });
    this.driver.onPathClosed = (pathId) => this.pathClosed(pathId);
    const locals = options.localAddresses?.length || options.paths?.length ? options.localAddresses ?? [] : ['0.0.0.0'];
    for (const host of locals) this.paths.set(host, newEntry(host, false, this.opener, null));
    for (const host of options.backupAddresses ?? []) this.paths.set(host, newEntry(host, true, this.opener, null));
    for (const p of options.paths ?? []) {
      const opener = p.transport || p.server
        ? pathOpener({ ...options, transport: p.transport ?? options.transport, server: parseHostPort(p.server ?? options.server) })
        : this.opener;
      if (!opener.shared) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'per-path transports must be shared ones (udp, ws, wss)');
      this.paths.set(`${p.local}|${opener.kind}`, newEntry(p.local, p.backup ?? false, opener, null));
    }
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
    const entries = this.opener.shared ? [...this.paths.values()] : [...this.paths.values()].map((e) => newEntry(e.host, e.backup, e.opener, socket));
    if (!this.opener.shared) this.ownPaths.set(socket, entries);
    const start = (first: number): void => {
      if (socket.destroyed || this.closed) return;
      // The freshest path first: if the first SYN goes unanswered, the engine races the next
      // MP_CAPABLE SYN on others[0] (raceHandshake).
      const others = entries
        .filter((e) => e.pathId !== null && e.pathId !== first && !e.backup)
        .map((e) => e.pathId!)
        .sort((a, b) => this.driver.lastHeard(b) - this.driver.lastHeard(a) || 0); // NaN when neither was heard
      const conn = this.driver.endpoint.connect(this.driver.now(), {
        path: first,
        extraPaths: multipath ? others : [],
        scheduler: strategy.schedulerFactory,
        congestionControl: strategy.ccFactory,
        ...(opts.data ? { data: opts.data } : {}),
      });
      socket.bind(conn);
      this.driver.schedulePump();
    };
    const upIds = entries.filter((e) => e.pathId !== null && !e.backup).map((e) => e.pathId!);
    const first = chooseFirstPath(upIds, (id) => this.driver.lastHeard(id));
    if (first !== undefined) {
      start(first);
      return socket;
    }
    // No path yet: the socket exists at once, the connection starts with the first path up.
    const timer = setTimeout(() => {
      if (!socket.isBound) socket.destroy(new MptunError('ERR_MPTUN_NO_PATH', `no path to ${this.server.host}:${this.server.port} came up in time`));
    }, this.options.connectTimeoutMs ?? 10_000);
    const primaries = entries.filter((e) => !e.backup);
    // Shared paths serve other connections too; a plain connection that may not use several
    // paths opens just one of its own.
    const openAll = this.opener.shared || multipath;
    const candidates = openAll ? (primaries.length > 0 ? primaries : entries) : entries.slice(0, 1);
    Promise.any(candidates.map((e) => this.openPath(e))).then(
      (pathId) => {
        clearTimeout(timer);
        if (!socket.isBound) start(pathId);
      },
      () => {
        clearTimeout(timer);
        if (!socket.isBound) socket.destroy(new MptunError('ERR_MPTUN_NO_PATH', `no path to ${this.server.host}:${this.server.port} could be opened`));
      },
    );
    // Paths beyond the first join as they come up.
    if (openAll) for (const e of entries) this.openPath(e).catch(() => {});
    return socket;
  }

  /** Open every configured path now rather than at the first connect. */
  async start(): Promise<void> {
    await Promise.allSettled([...this.paths.values()].map((e) => this.openPath(e)));
  }

  private openPath(e: PathEntry): Promise<number> {
    if (e.pathId !== null) return Promise.resolve(e.pathId);
    if (e.opening) return e.opening;
    e.opening = e.opener.open(e.host).then(
      (link) => {
        e.opening = null;
        if (this.closed) {
          link.close();
          throw new MptunError('ERR_MPTUN_CLOSED', 'the client is closed');
        }
        if (e.owner && !this.ownPaths.has(e.owner)) {
          link.close(); // its connection ended while the path was opening
          throw new MptunError('ERR_MPTUN_CLOSED', 'the connection is closed');
        }
        e.link = link;
        e.pathId = this.driver.addLink(link, { fixedLocalPort: !this.opener.shared });
        e.retryMs = 500;
        this.emit('path-up', { localAddress: e.host, backup: e.backup });
        if (e.owner) this.joinOne(e.owner, e);
        else this.joinEverywhere(e);
        this.driver.schedulePump();
        return e.pathId;
      },
      (err: unknown) => {
        e.opening = null;
        this.emit('path-error', { localAddress: e.host, error: err });
        this.scheduleRetry(e);
        throw err;
      },
    );
    return e.opening;
  }

  private joinEverywhere(e: PathEntry): void {
    for (const s of this.sockets) this.joinOne(s, e);
  }

  /** RFC 8684 §3.2: a subflow of `s` over the path of `e` (MP_JOIN), unless it has one there. */
  private joinOne(s: MptcpSocket, e: PathEntry): void {
    if (e.pathId === null || !s.info.multipath || !s.isBound || s.connection.state === 'closed') return;
    if (s.connection.subflows().some((sf) => sf.pathId === e.pathId && sf.state !== 'closed')) return;
    s.connection.join(this.driver.now(), e.pathId, e.backup);
  }

  private pathClosed(pathId: number): void {
    for (const e of this.allEntries()) {
      if (e.pathId !== pathId) continue;
      e.pathId = null;
      e.link = null;
      this.emit('path-down', { localAddress: e.host });
      if (this.opener.shared) this.scheduleRetry(e);
    }
  }

  /** Reopen a failed shared path later, doubling the wait up to 30 s. */
  private scheduleRetry(e: PathEntry): void {
    if (this.closed || !this.opener.shared || e.retryTimer || !this.paths.has(e.host)) return;
    e.retryTimer = setTimeout(() => {
      e.retryTimer = null;
      this.openPath(e).catch(() => {});
    }, e.retryMs);
    e.retryTimer.unref();
    e.retryMs = Math.min(e.retryMs * 2, 30_000);
  }

  private *allEntries(): IterableIterator<PathEntry> {
    yield* this.paths.values();
    for (const list of this.ownPaths.values()) yield* list;
  }

  // --- PathOwner ----------------------------------------------------------------------------

  async addLocalAddress(socket: MptcpSocket, host: string, backup: boolean): Promise<void> {
    const e = this.opener.shared ? this.sharedEntry(host, backup) : this.ownEntry(socket, host, backup);
    await this.openPath(e);
    this.joinOne(socket, e);
    this.driver.schedulePump();
  }

  private sharedEntry(host: string, backup: boolean): PathEntry {
    let e = this.paths.get(host);
    if (!e) {
      e = newEntry(host, backup, this.opener, null);
      this.paths.set(host, e);
    }
    return e;
  }

  /** Plain mode: the socket's own path from `host`, opened anew if it has none (or lost it). */
  private ownEntry(socket: MptcpSocket, host: string, backup: boolean): PathEntry {
    const own = this.ownPaths.get(socket) ?? [];
    this.ownPaths.set(socket, own);
    let e = own.find((x) => x.host === host && (x.pathId !== null || x.opening !== null));
    if (!e) {
      e = newEntry(host, backup, this.opener, socket);
      own.push(e);
    }
    return e;
  }

  removeLocalAddress(socket: MptcpSocket, host: string): void {
    const now = this.driver.now();
    for (const sf of socket.connection.subflows()) {
      if (this.driver.endpoint.pathInfo(sf.pathId)?.local.host === host) socket.connection.closeSubflow(now, sf.id);
    }
    this.driver.schedulePump();
  }

  released(socket: MptcpSocket): void {
    this.sockets.delete(socket);
    const own = this.ownPaths.get(socket);
    if (own) {
      this.ownPaths.delete(socket);
      for (const e of own) if (e.pathId !== null) this.driver.removeLink(e.pathId);
    }
  }

  /** Paths and their state, for status displays. */
  pathList(): Array<{ localAddress: string; transport: TransportKind; backup: boolean; up: boolean; link: PathLink | null }> {
    return [...this.paths.values()].map((e) => ({ localAddress: e.host, transport: e.opener.kind, backup: e.backup, up: e.pathId !== null, link: e.link }));
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
    for (const e of this.allEntries()) if (e.retryTimer) clearTimeout(e.retryTimer);
    for (const s of [...this.sockets]) s.destroy();
    return this.driver.close();
  }
}

function newEntry(host: string, backup: boolean, opener: PathOpener, owner: MptcpSocket | null): PathEntry {
  return { host, opener, backup, owner, pathId: null, link: null, opening: null, retryMs: 500, retryTimer: null };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
