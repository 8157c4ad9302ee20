/**
 * The client's path table: one path per (local address, server address, index), opened on
 * demand for the path managers of its connections (the PathHost they see). Sealed UDP and
 * WebSocket paths are shared by every connection of the client; plain tcp-in-udp paths carry
 * one subflow each, so each connection has its own. Each index is its own path, so siblings
 * over one address pair (ndiffports) leave from their own UDP source port / WS connection.
 *
 * Behind an HTTP reverse proxy whose servers the client cannot reach, one server address
 * (the proxy's) stands for several servers. A WebSocket path reports the server that
 * answered it by its affinity token (PathLink.affinity); a connection's further paths to the
 * proxy then ask for that server (routedEntry), each such path an entry of its own.
 */
import type { PathLink, PathLivenessEvent, TransportAddress } from '@mptun/core';
import { backoffDelay, canonicalHost, type PathHost, type RetryPolicy } from '@mptun/path-manager';
import { osRandom, type Driver } from './driver.js';
import type { PathOpener, TransportKind } from './transports.js';

export interface PathEntry {
  readonly local: string;
  /** The server address as the path manager knows it (the opener may dial another, per path). */
  readonly remote: TransportAddress;
  readonly index: number;
  /** The server this path asks the reverse proxy for (an affinity token), or null: any. */
  readonly affinity: string | null;
  /** The connection that owns this path (plain mode), or null for a shared one. */
  readonly owner: object | null;
  readonly opener: PathOpener;
  pathId: number | null;
  link: PathLink | null;
  /** The server has answered on this path (at open for sealed and WS paths, its first segment for plain ones). */
  answered: boolean;
  opening: Promise<number> | null;
  /** The last open failed: the next ensurePath reports it once (the manager backs off). */
  failed: boolean;
  /** The path managers (connections) holding it. */
  readonly users: Set<object>;
  /** Standing paths: failed reopen attempts in a row, and the timer of the next one. */
  retries: number;
  retryTimer: ReturnType<typeof setTimeout> | null;
  /** Why it is down: the last open failure or close, null while up or never tried. */
  lastError: string | null;
  /**
   * The server went quiet on the open path (PathLink.onSilence): it counts as down, and
   * the link stays and tries to reach the server again, so subflows on it outlive an outage.
   */
  silent: boolean;
  /**
   * The engine found the server not answering on this path under traffic (a retransmission
   * timeout, or a liveness probe, unanswered: Endpoint.pollPathEvent). Shown down; nothing
   * closes, and the path counts as up again the moment the server is heard there.
   */
  stalled: boolean;
  /**
   * Set aside (retire()): new connections get a fresh path in its place; this one serves
   * the connections on it until the last ends.
   */
  retired: boolean;
  /** Its local address went away: when it closes it is reported down for that reason. */
  addressGone: boolean;
}

/** The path is open and its server answers: connections may start on it and join it. */
export function pathUsable(e: PathEntry): boolean {
  return e.pathId !== null && !e.silent && !e.stalled;
}

/**
 * How soon a standing path that went down (or failed to open) is tried again: quickly and
 * never more than 1 s apart, so a restarted server is used again within 1 s; the jitter
 * spreads the retries of many clients that lost the same server. A reopen is one
 * handshake attempt, a few hundred bytes, so retrying this often for ever costs little.
 */
export const STANDING_RETRY: RetryPolicy = { baseMs: 100, factor: 2, maxMs: 1_000, jitter: 0.5, maxAttempts: Infinity };

/**
 * A path as a status display shows it: up once the server answered on it, connecting while
 * it is open but unanswered, down after a failure or close, idle when a plain path's address
 * has no connection on it now (plain paths open per connection).
 */
export type PathState = 'up' | 'connecting' | 'down' | 'idle';

/** The state of one entry (idle is the client's, for addresses without an entry). */
export function pathState(e: PathEntry): Exclude<PathState, 'idle'> {
  if (e.pathId !== null && e.answered && !e.silent && !e.stalled) return 'up';
  if (e.lastError !== null) return 'down';
  return 'connecting';
}

export interface PathEvents {
  /** The server answered on the path. */
  up(e: PathEntry): void;
  down(e: PathEntry): void;
  error(e: PathEntry, err: unknown): void;
  /** A path finished opening (or failed to): managers waiting on it may act. */
  settled(): void;
}

export class ClientPaths {
  private readonly entries = new Map<string, PathEntry>();
  private readonly byPathId = new Map<number, PathEntry>();
  private readonly owners = new WeakMap<object, number>();
  private nextOwner = 1;
  private nextRetired = 1;
  private closed = false;

  constructor(
    private readonly driver: Driver,
    private readonly openerFor: (local: string, remote: TransportAddress) => PathOpener,
    private readonly events: PathEvents,
    /** A shared path that stays open with no connection on it (a configured address toward the server). */
    private readonly standingPath: (e: PathEntry) => boolean,
  ) {}

  private standing(e: PathEntry): boolean {
    return !e.retired && this.standingPath(e);
  }

  /** The entry for a path, created (not opened) if need be. */
  entry(owner: object | null, local: string, remote: TransportAddress, index: number, affinity: string | null = null): PathEntry {
    const host = canonicalHost(local) ?? local;
    const key = `${owner ? this.ownerId(owner) : 0}|${host}|${remote.host}|${remote.port}|${index}|${affinity ?? ''}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { local: host, remote, index, affinity, owner, opener: this.openerFor(host, remote), pathId: null, link: null, answered: false, opening: null, failed: false, users: new Set(), retries: 0, retryTimer: null, lastError: null, silent: false, stalled: false, retired: false, addressGone: false };
      this.entries.set(key, e);
    }
    return e;
  }

  open(e: PathEntry): Promise<number> {
    if (e.pathId !== null) return Promise.resolve(e.pathId);
    if (e.opening) return e.opening;
    e.opening = e.opener.open(e.local, e.affinity === null ? {} : { affinity: e.affinity }).then(reachedAskedServer(e)).then(
      (link) => {
        e.opening = null;
        if (this.closed || !this.isKept(e)) {
          link.close();
          throw new Error('the path is no longer wanted');
        }
        e.link = link;
        e.failed = false;
        e.retries = 0;
        e.lastError = null;
        e.answered = e.opener.answeredAtOpen;
        e.pathId = this.driver.addLink(link, { fixedLocalPort: !e.opener.shared });
        this.byPathId.set(e.pathId, e);
        link.onSilence = (silent, why) => this.silence(e, link, silent, why);
        // A plain path is up only once the server's first segment arrives (heard()).
        if (e.answered) this.events.up(e);
        this.events.settled();
        this.driver.schedulePump();
        return e.pathId;
      },
      (err: unknown) => {
        e.opening = null;
        e.failed = true;
        e.lastError = err instanceof Error ? err.message : String(err);
        if (!this.closed) {
          this.events.error(e, err);
          this.events.settled();
          this.reopenLater(e);
        }
        throw err;
      },
    );
    return e.opening;
  }

  /**
   * The token of the server that answered on `pathId` (a WebSocket path behind a proxy whose
   * servers have tokens), or null.
   */
  affinityOf(pathId: number): string | null {
    return this.byPathId.get(pathId)?.link?.affinity ?? null;
  }

  /**
   * The path from `local` to `remote` that reaches the server named `affinity`: the path
   * that asks for no server if it happens to be open to that one, else a path of its own
   * that asks the proxy for it.
   */
  private routedEntry(owner: object | null, local: string, remote: TransportAddress, index: number, affinity: string): PathEntry {
    const any = this.entry(owner, local, remote, index);
    if (any.pathId !== null && this.affinityOf(any.pathId) === affinity) return any;
    return this.entry(owner, local, remote, index, affinity);
  }

  /**
   * The PathHost a connection's path manager uses (RFC 8684 §3.2 joins go over these paths).
   * `affinity(remote)`: the server the connection's further paths to `remote` must reach
   * (its first path's token), or null where any will do.
   */
  hostFor(user: object, owner: object | null, affinity: (remote: TransportAddress) => string | null = () => null): PathHost {
    return {
      ensurePath: (localHost, remote, index) => {
        const token = affinity(remote);
        const e = token === null ? this.entry(owner, localHost, remote, index) : this.routedEntry(owner, localHost, remote, index, token);
        e.users.add(user);
        if (e.pathId !== null) return e.silent ? 'pending' : e.pathId;
        if (e.failed && !e.opening) {
          e.failed = false;
          return null;
        }
        this.open(e).catch(() => {});
        return 'pending';
      },
      releasePath: (pathId) => {
        const e = this.byPathId.get(pathId);
        if (!e) return;
        e.users.delete(user);
        if (e.users.size === 0 && !this.standing(e)) this.drop(e);
      },
      pathInfo: (pathId) => {
        const e = this.byPathId.get(pathId);
        if (!e || !e.link) return undefined;
        return { local: { host: e.local, port: e.link.local.port }, remote: e.remote };
      },
    };
  }

  /** A connection is gone: it holds no path any more; its own paths (plain mode) close. */
  release(user: object): void {
    for (const e of [...this.entries.values()]) {
      if (!e.users.delete(user) && e.owner !== user) continue;
      if (e.owner === user || (e.users.size === 0 && !this.standing(e))) this.drop(e);
    }
  }

  /** Close the shared paths nothing holds or stands for (after a local address went away). */
  sweep(): void {
    for (const e of [...this.entries.values()]) if (e.owner === null && e.users.size === 0 && !this.standing(e)) this.drop(e);
  }

  /**
   * A local address went away (its interface went down or lost it): its paths close now and
   * are reported down, whoever holds them; nothing can leave from that address any more.
   */
  dropLocal(local: string, then: () => void): void {
    const host = canonicalHost(local) ?? local;
    const mine = [...this.entries.values()].filter((e) => e.local === host);
    for (const e of mine) e.addressGone = true;
    // The path managers withdraw the address first (REMOVE_ADDR, subflows closed), which may release some.
    then();
    for (const e of mine) if (this.isKept(e)) this.drop(e);
  }

  /** The first segment from the server arrived on `pathId`: a plain path is up now. */
  heard(pathId: number): void {
    const e = this.byPathId.get(pathId);
    if (!e || e.answered) return;
    e.answered = true;
    this.events.up(e);
  }

  /** The driver closed a path's link (the peer or the network ended it), for `why`. */
  linkClosed(pathId: number, why: string): void {
    const e = this.byPathId.get(pathId);
    if (!e) return;
    this.byPathId.delete(pathId);
    e.pathId = null;
    e.link = null;
    e.answered = false;
    e.lastError = why;
    const saidDown = e.silent;
    e.silent = false;
    e.stalled = false;
    if (!saidDown) this.events.down(e);
    this.events.settled();
    this.reopenLater(e);
  }

  /**
   * Every entry is a standing path known to be down (it went down or failed, and is being
   * retried, or its server went quiet): a new connection has nothing to wait for but the
   * retries, so it fails now.
   */
  allKnownDown(entries: PathEntry[]): boolean {
    return entries.length > 0 && entries.every((e) => ((e.pathId === null && e.retries > 0) || e.silent) && this.standing(e));
  }

  /** The server went quiet on `e`'s open path, or was heard there again (which also ends a stall). */
  private silence(e: PathEntry, link: PathLink, silent: boolean, why: string): void {
    if (e.link !== link || e.silent === silent) return;
    e.silent = silent;
    if (!silent) e.stalled = false;
    if (e.pathId !== null) this.driver.setPathQuiet(e.pathId, silent);
    this.report(e, silent, why);
  }

  /**
   * The engine's liveness edge for a path (Endpoint.pollPathEvent): the server stopped
   * answering there under traffic, or was heard again. Only the state changes (down with a
   * reason that says what went unanswered and for how long); the path and its subflows stay.
   */
  liveness(ev: PathLivenessEvent): void {
    const e = this.byPathId.get(ev.pathId);
    const stalled = ev.type === 'path-stalled';
    if (!e || e.stalled === stalled) return;
    e.stalled = stalled;
    // Already down for the carrier's silence, which says more; it reports the way back up.
    if (!e.silent) this.report(e, stalled, stalled ? stallReason(ev) : '');
  }

  private report(e: PathEntry, down: boolean, why: string): void {
    e.lastError = down ? why : null;
    if (down) this.events.down(e);
    else this.events.up(e);
    this.events.settled();
    this.driver.schedulePump();
  }

  /**
   * Set the standing path `pathId` aside so that the next entry() for its address opens a
   * fresh one (a new source port: a balancer that hashes on it may pick another server).
   * The connections on it keep it until the last ends; with none, or with `close`, it closes
   * now (its subflows end; a connection left with none fails). Returns the entry, or null
   * when `pathId` is not a standing path.
   */
  retire(pathId: number, close = false): PathEntry | null {
    const e = this.byPathId.get(pathId);
    if (!e || !this.standing(e)) return null;
    const key = [...this.entries].find(([, x]) => x === e)?.[0];
    if (key === undefined) return null;
    this.entries.delete(key);
    this.entries.set(`${key}|retired ${this.nextRetired++}`, e);
    e.retired = true;
    this.cancelRetry(e);
    if (close || e.users.size === 0) this.drop(e);
    return e;
  }

  /** The connections holding path `pathId` now. */
  usersOf(pathId: number): object[] {
    return [...(this.byPathId.get(pathId)?.users ?? [])];
  }

  /** Every path, shared ones and those of single connections (plain mode). */
  all(): PathEntry[] {
    return [...this.entries.values()];
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) this.cancelRetry(e);
  }

  /** A standing path is down: open it again after a short jittered wait (STANDING_RETRY). */
  private reopenLater(e: PathEntry): void {
    if (this.closed || e.retryTimer !== null || !this.standing(e) || !this.isKept(e)) return;
    e.retries += 1;
    e.retryTimer = setTimeout(() => {
      e.retryTimer = null;
      if (this.closed || e.pathId !== null || !this.standing(e) || !this.isKept(e)) return;
      this.open(e).catch(() => {}); // a failure schedules the next attempt
    }, backoffDelay(e.retries, STANDING_RETRY, osRandom));
    e.retryTimer.unref();
  }

  private cancelRetry(e: PathEntry): void {
    if (e.retryTimer !== null) clearTimeout(e.retryTimer);
    e.retryTimer = null;
  }

  /** Forget a path and close its link. */
  private drop(e: PathEntry): void {
    for (const [key, x] of this.entries) if (x === e) this.entries.delete(key);
    this.cancelRetry(e);
    if (e.pathId !== null) {
      const unanswered = !e.answered;
      const wasUp = pathState(e) === 'up';
      this.byPathId.delete(e.pathId);
      this.driver.removeLink(e.pathId);
      e.pathId = null;
      e.link = null;
      // A plain path dropped with its connection before the server ever answered on it.
      if (unanswered && !this.closed) {
        e.lastError = `no answer from the server at ${e.remote.host}:${e.remote.port} on this path`;
        this.events.down(e);
      } else if (e.addressGone && wasUp && !this.closed) {
        e.lastError = 'its local address went away';
        this.events.down(e);
      }
    }
  }

  private isKept(e: PathEntry): boolean {
    for (const x of this.entries.values()) if (x === e) return true;
    return false;
  }

  private ownerId(owner: object): number {
    let id = this.owners.get(owner);
    if (id === undefined) this.owners.set(owner, (id = this.nextOwner++));
    return id;
  }
}

/** Why a stalled path is shown down, in the words of the status page and the log. */
export function stallReason(ev: Extract<PathLivenessEvent, { type: 'path-stalled' }>): string {
  const ms = Math.round(ev.silentMs);
  return ev.cause === 'rto'
    ? `no acknowledgement for ${ms} ms (retransmission timeout under traffic)`
    : `no answer for ${ms} ms after the server's data stopped (liveness probe unanswered)`;
}

/**
 * A path that asked a reverse proxy for a server (its affinity token) but was answered by
 * another one cannot carry the joins it was opened for: it fails to open, saying so, and is
 * retried like any failed path (the proxy may have found that server down).
 */
function reachedAskedServer(e: PathEntry): (link: PathLink) => PathLink {
  return (link) => {
    if (e.affinity === null || link.affinity === e.affinity) return link;
    link.close();
    const answered = link.affinity === null || link.affinity === undefined ? 'a server without a token' : `server "${link.affinity}"`;
    throw new Error(`the proxy sent the path asking for server "${e.affinity}" to ${answered}`);
  };
}

export type { TransportKind };
