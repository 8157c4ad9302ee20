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
 *
 * Early joins (sealed UDP): once a new path's socket is bound, the path is reserved in the
 * engine and the path managers are asked at once; the first MP_JOIN SYN they start on it
 * rides the path's handshake, and the server's SYN/ACK comes back in the response, so the
 * subflow is up two round trips after the path's handshake starts instead of three.
 */
import type { EarlySegmentSource, PathLink, PathLivenessEvent, PathShape, TransportAddress } from '@mptun/core';
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
  /** While its handshake runs: the engine's id of the path reserved for an early join, and its local port. */
  reserved: { pathId: number; localPort: number } | null;
  /** The server has answered on this path (at open for sealed and WS paths, its first segment for plain ones). */
  answered: boolean;
  opening: Promise<number> | null;
  /** Ends `opening` for those waiting on it when the attempt is given up (abandonPending). */
  giveUp: ((why: Error) => void) | null;
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
   * The server does not answer on this path under traffic: the engine's retransmission
   * timeout or liveness probe (Endpoint.pollPathEvent), or a WebSocket's ping (PathLink.onStall),
   * unanswered. Shown down; nothing closes, and the path counts as up again the moment the
   * server is heard there.
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
  /** A path was reserved for early joins: managers that want a subflow on it should ask now. */
  reserved(): void;
}

export class ClientPaths {
  /** Entries given up while opening (abandonPending). */
  private readonly abandoned = new WeakSet<PathEntry>();
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
    /** Sealed UDP paths carry their first MP_JOIN SYN in the handshake. */
    private readonly earlyJoins = true,
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
      e = { local: host, remote, index, affinity, owner, opener: this.openerFor(host, remote), pathId: null, link: null, reserved: null, answered: false, opening: null, giveUp: null, failed: false, users: new Set(), retries: 0, retryTimer: null, lastError: null, silent: false, stalled: false, retired: false, addressGone: false };
      this.entries.set(key, e);
    }
    return e;
  }

  open(e: PathEntry): Promise<number> {
    if (e.pathId !== null) return Promise.resolve(e.pathId);
    if (e.opening) return e.opening;
    const early: EarlySegmentSource | undefined = this.earlyJoins && e.opener.kind === 'udp' ? (shape) => this.reserve(e, shape) : undefined;
    const attempt = e.opener.open(e.local, { ...(e.affinity === null ? {} : { affinity: e.affinity }), ...(early ? { early } : {}) }).then(reachedAskedServer(e)).then(
      (link) => {
        e.opening = null;
        e.giveUp = null;
        if (this.closed || !this.isKept(e)) {
          this.unreserve(e);
          link.close();
          throw new Error('the path is no longer wanted');
        }
        e.link = link;
        e.failed = false;
        e.retries = 0;
        e.lastError = null;
        e.answered = e.opener.answeredAtOpen;
        const reserved = e.reserved;
        e.reserved = null;
        if (reserved !== null) {
          e.pathId = reserved.pathId;
          this.byPathId.set(e.pathId, e);
          this.driver.attachLink(e.pathId, link);
        } else {
          e.pathId = this.driver.addLink(link, { fixedLocalPort: !e.opener.shared });
          this.byPathId.set(e.pathId, e);
        }
        link.onSilence = (silent, why) => this.silence(e, link, silent, why);
        link.onStall = (stalled, silentMs) => {
          if (e.link === link) this.setStalled(e, stalled, `no answer for ${Math.round(silentMs)} ms under traffic (ping unanswered)`);
        };
        // A plain path is up only once the server's first segment arrives (heard()).
        if (e.answered) this.events.up(e);
        this.events.settled();
        this.driver.schedulePump();
        return e.pathId;
      },
      (err: unknown) => {
        e.opening = null;
        e.giveUp = null;
        this.unreserve(e);
        e.failed = true;
        e.lastError = err instanceof Error ? err.message : String(err);
        if (!this.closed && this.isKept(e)) {
          this.events.error(e, err);
          this.events.settled();
          this.reopenLater(e);
        }
        throw err;
      },
    );
    // Those waiting on the path may stop waiting before the attempt ends (abandonPending).
    const givenUp = new Promise<never>((_, reject) => (e.giveUp = reject));
    givenUp.catch(() => {});
    e.opening = Promise.race([attempt, givenUp]);
    return e.opening;
  }

  /**
   * The path's socket is bound (its shape known) and its handshake about to start: reserve
   * it in the engine, let the path managers start their joins on it, and hand the first
   * segment out to ride the handshake (null: no join wanted one, it goes as today).
   */
  private reserve(e: PathEntry, shape: PathShape): Uint8Array | null {
    if (this.closed || !this.isKept(e) || e.pathId !== null || e.reserved !== null) return null;
    const pathId = this.driver.reserveLink(shape, { fixedLocalPort: !e.opener.shared });
    e.reserved = { pathId, localPort: shape.local.port };
    this.byPathId.set(pathId, e);
    this.events.reserved();
    return this.driver.takeEarlySegment(pathId);
  }

  /** The reserved path will not come up: its joins end (the path managers retry them). */
  private unreserve(e: PathEntry): void {
    if (e.reserved === null) return;
    this.byPathId.delete(e.reserved.pathId);
    this.driver.dropReserved(e.reserved.pathId);
    e.reserved = null;
  }

  /**
   * Give up waiting on `e` if it is still being opened (nothing answered yet): it leaves the
   * table, so the next entry() for its address makes a fresh one, and the attempt closes
   * itself when it ends. True when it was given up.
   */
  abandonPending(e: PathEntry): boolean {
    if (e.pathId !== null || e.opening === null || !this.isKept(e)) return false;
    for (const [key, x] of this.entries) if (x === e) this.entries.delete(key);
    this.cancelRetry(e);
    this.abandoned.add(e);
    e.giveUp?.(new Error('given up for a fresh source port'));
    e.giveUp = null;
    return true;
  }

  /** `e` was given up for a fresh one (abandonPending). */
  wasAbandoned(e: PathEntry): boolean {
    return this.abandoned.has(e);
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
        // Being opened with an early join: a join started now rides its handshake.
        if (e.reserved !== null) return e.reserved.pathId;
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
        const port = e?.link?.local.port ?? (e?.reserved?.pathId === pathId ? e.reserved.localPort : undefined);
        if (!e || port === undefined) return undefined;
        return { local: { host: e.local, port }, remote: e.remote };
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
    const shownDown = e.stalled;
    e.silent = silent;
    if (!silent) e.stalled = false;
    if (e.pathId !== null) this.driver.setPathQuiet(e.pathId, silent);
    // A stall showed it down already, with its reason: one line for one outage.
    if (!(silent && shownDown)) this.report(e, silent, why);
  }

  /**
   * The engine's liveness edge for a path (Endpoint.pollPathEvent): the server stopped
   * answering there under traffic, or was heard again. Only the state changes (down with a
   * reason that says what went unanswered and for how long); the path and its subflows stay.
   */
  liveness(ev: PathLivenessEvent): void {
    const e = this.byPathId.get(ev.pathId);
    if (e) this.setStalled(e, ev.type === 'path-stalled', ev.type === 'path-stalled' ? stallReason(ev) : '');
  }

  /** Shown down (with why) or up again for a stall: the engine's (liveness) or the carrier's (PathLink.onStall). */
  private setStalled(e: PathEntry, stalled: boolean, why: string): void {
    if (e.stalled === stalled) return;
    e.stalled = stalled;
    // Already down for the carrier's silence, which says more; it reports the way back up.
    if (!e.silent) this.report(e, stalled, why);
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
    this.unreserve(e);
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
