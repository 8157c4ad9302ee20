/**
 * The client-side path manager of one MPTCP connection (RFC 8684 §3.2, §3.4; RFC 6897 §5.3.3).
 *
 * It is told which local addresses exist and which of them the application allows, and it
 * learns the peer's addresses from ADD_ADDR. Each tick(now) compares the subflows the policy
 * wants (policy.ts) with the connection's and acts: MP_JOIN the missing ones, retry failed
 * ones with backoff, keep B flags in step (MP_PRIO), close subflows on addresses that went
 * away (REMOVE_ADDR to the peer) and release the paths nothing uses any more.
 *
 * Replacing a subflow is make-before-break: one on an address that is still up is closed
 * only once a subflow the policy prefers is established. A subflow on an address that went
 * away is closed at once, unless it is the last one (break-before-make: it keeps the
 * connection alive until a new address brings a new subflow).
 *
 * Sans-IO: time arrives as `now`, the retry jitter from an injected RandomSource, and the
 * next retry is reported by nextTimeout().
 */
import { TcpRstReason, type Address, type RandomSource } from '@mptun/core';
import {
  byPreference,
  canonicalHost,
  familiesMatch,
  requireHost,
  type LocalAddress,
  type LocalAddressInit,
  type RemoteAddress,
} from './addresses.js';
import { backoffDelay, resolveRetryPolicy, type RetryPolicy } from './backoff.js';
import { PathManagerError } from './errors.js';
import type { ManagedConnection, ManagedSubflow, PathHost } from './host.js';
import { desiredSlots, fullmesh, slotKey, type PathPolicy, type SlotSpec } from './policy.js';

export interface PathManagerOptions {
  host: PathHost;
  /** The peer address the connection starts on (its address id is 0). */
  server: Address;
  /** Jitter of the retry delays. */
  random: RandomSource;
  /** Default fullmesh. */
  policy?: PathPolicy;
  retry?: Partial<RetryPolicy>;
  /** Open subflows to the addresses the peer announces (ADD_ADDR). Default true. */
  usePeerAddresses?: boolean;
  /**
   * Keep a subflow whose local address went away while no other subflow is established, so
   * the connection lives on until a new address appears (break-before-make). Default true.
   */
  keepLastSubflow?: boolean;
  /**
   * How long a path whose local address is still up stays open after its last subflow
   * closed, ms. The MP_TCPRST that closed it may meet data in flight and be answered with a
   * challenge ACK (RFC 5961 §3.2), which only an open path can answer. Default 3000.
   */
  releaseDelayMs?: number;
}

/** Why the path manager closes a subflow. */
export type CloseCause =
  /** Its local address is gone (interface down). */
  | 'address-gone'
  /** The application withdrew its local address (TCP_MULTIPATH_REMOVE). */
  | 'address-disallowed'
  /** The policy no longer wants it and a preferred subflow is established (make-before-break). */
  | 'replaced';

export type PathAction =
  | { type: 'close'; subflowId: number; cause: CloseCause }
  | { type: 'set-backup'; subflowId: number; backup: boolean }
  | { type: 'join'; slot: string; localId: string; localHost: string; remote: RemoteAddress; backup: boolean }
  | { type: 'withdraw'; addressIds: number[] }
  | { type: 'release-path'; pathId: number };

/** One wanted subflow and its retry state, for status views and tests. */
export interface SlotStatus extends SlotSpec {
  subflowId: number | null;
  /** Failed attempts since the last success. */
  failures: number;
  /** When the next attempt may start (ms); -Infinity when it may start now. */
  retryAt: number;
  /** maxAttempts failures in a row: no more attempts until its addresses change. */
  exhausted: boolean;
  /** The policy wants it now. */
  desired: boolean;
}

interface SlotState {
  spec: SlotSpec;
  subflowId: number | null;
  failures: number;
  retryAt: number;
  exhausted: boolean;
}

/** What a subflow not wanted by the policy is, for the close decision. */
type SurplusKind = 'gone' | 'disallowed' | 'unwanted';

const RST_REASON: Record<CloseCause, number> = {
  'address-gone': TcpRstReason.UNSPECIFIED,
  'address-disallowed': TcpRstReason.ADMIN_PROHIBITED,
  replaced: TcpRstReason.UNSPECIFIED,
};

export class PathManager {
  readonly policy: PathPolicy;
  readonly retry: RetryPolicy;
  private readonly host: PathHost;
  private readonly random: RandomSource;
  private readonly server: RemoteAddress;
  private readonly usePeerAddresses: boolean;
  private readonly keepLastSubflow: boolean;
  private readonly releaseDelayMs: number;
  private conn: ManagedConnection | null = null;
  /** Local addresses that exist now, by id. */
  private readonly localList = new Map<string, LocalAddress>();
  private nextOrder = 0;
  /** Every local host ever added: a subflow from one no longer present has lost its address. */
  private readonly knownHosts = new Set<string>();
  /** The peer announced the removal of its initial address (REMOVE_ADDR with id 0). */
  private serverWithdrawn = false;
  private remoteList: RemoteAddress[] = [];
  private readonly slots = new Map<string, SlotState>();
  private desired: SlotState[] = [];
  /** Paths this manager obtained or found in use, by local host and remote address. */
  private readonly paths = new Map<string, { pathId: number; localHost: string }>();
  /** Since when a path has been neither used nor wanted, by path id. */
  private readonly idleSince = new Map<number, number>();
  /** Engine address ids (RFC 8684 §3.4) our subflows used, by local host. */
  private readonly addressIds = new Map<string, Set<number>>();
  /** Address ids we sent REMOVE_ADDR for and no subflow has used since. */
  private readonly withdrawn = new Set<number>();

  constructor(options: PathManagerOptions) {
    this.host = options.host;
    this.random = options.random;
    this.policy = options.policy ?? fullmesh();
    this.retry = resolveRetryPolicy(options.retry);
    this.usePeerAddresses = options.usePeerAddresses ?? true;
    this.keepLastSubflow = options.keepLastSubflow ?? true;
    this.releaseDelayMs = options.releaseDelayMs ?? 3000;
    if (!Number.isFinite(this.releaseDelayMs) || this.releaseDelayMs < 0) {
      throw new PathManagerError('ERR_PM_BAD_OPTION', `releaseDelayMs must be a finite number >= 0, got ${this.releaseDelayMs}`);
    }
    const port = options.server.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new PathManagerError('ERR_PM_BAD_ADDRESS', `server port must be 0..65535, got ${port}`);
    }
    this.server = { addressId: 0, host: canonicalHost(options.server.host) ?? options.server.host, port };
    this.remoteList = [this.server];
  }

  // --- Local addresses (RFC 6897 §5.3.3) -----------------------------------------------------

  /** A local address exists (again), or its settings change. */
  addLocal(init: LocalAddressInit): LocalAddress {
    if (typeof init.id !== 'string' || init.id.length === 0) throw new PathManagerError('ERR_PM_BAD_ADDRESS', 'a local address needs a non-empty id');
    const host = requireHost(init.host, `local address ${init.id}`);
    const priority = init.priority ?? 0;
    if (!Number.isFinite(priority)) throw new PathManagerError('ERR_PM_BAD_OPTION', `priority must be finite, got ${priority}`);
    for (const other of this.localList.values()) {
      if (other.id !== init.id && other.host === host) {
        throw new PathManagerError('ERR_PM_BAD_ADDRESS', `local address ${host} is already known as ${other.id}`);
      }
    }
    const known = this.localList.get(init.id);
    const local: LocalAddress = {
      id: init.id,
      host,
      backup: init.backup ?? known?.backup ?? false,
      allowed: init.allowed ?? known?.allowed ?? true,
      priority: init.priority ?? known?.priority ?? 0,
      // Same host: the same address with new settings; a new host is a new address.
      order: known && known.host === host ? known.order : this.nextOrder++,
    };
    this.localList.set(init.id, local);
    this.knownHosts.add(host);
    return { ...local };
  }

  /** The address is gone (interface down): its subflows close (at the next tick). */
  removeLocal(id: string): boolean {
    return this.localList.delete(id);
  }

  /** TCP_MULTIPATH_ADD (true) or TCP_MULTIPATH_REMOVE (false) for an address that exists. */
  setAllowed(id: string, allowed: boolean): boolean {
    return this.update(id, (l) => (l.allowed = allowed));
  }

  /** Mark an address backup or regular; its subflows follow with MP_PRIO. */
  setBackup(id: string, backup: boolean): boolean {
    return this.update(id, (l) => (l.backup = backup));
  }

  setPriority(id: string, priority: number): boolean {
    if (!Number.isFinite(priority)) throw new PathManagerError('ERR_PM_BAD_OPTION', `priority must be finite, got ${priority}`);
    return this.update(id, (l) => (l.priority = priority));
  }

  locals(): LocalAddress[] {
    return [...this.localList.values()].map((l) => ({ ...l }));
  }

  /** The peer addresses subflows go to: the initial one (id 0, unless withdrawn or refused by the C bit) and those announced. */
  remotes(): RemoteAddress[] {
    return [...this.remoteList];
  }

  private update(id: string, change: (l: LocalAddress) => void): boolean {
    const l = this.localList.get(id);
    if (!l) return false;
    change(l);
    return true;
  }

  // --- The connection ------------------------------------------------------------------------

  /**
   * The path the connection should start on: the most preferred allowed address (a regular
   * one before a backup one) toward the server; null when there is none.
   */
  initialPath(): number | null {
    const usable = this.usableLocals().sort(byPreference);
    const pick = [...usable.filter((l) => !l.backup), ...usable.filter((l) => l.backup)].find((l) => familiesMatch(l.host, this.server.host));
    const pathId = pick ? this.pathFor(pick.host, this.server, 0) : null;
    return pathId === 'pending' ? null : pathId;
  }

  /** Manage this connection from now on. */
  attach(conn: ManagedConnection): void {
    if (this.conn !== null) throw new PathManagerError('ERR_PM_ATTACHED', 'this path manager already manages a connection');
    this.conn = conn;
  }

  get connection(): ManagedConnection | null {
    return this.conn;
  }

  /**
   * Take note of an engine event (Endpoint.pollEvent()); events of other connections are
   * ignored. Returns true when a tick is worth running. Optional: tick() also reads the
   * connection's state, but an event tells a subflow that came up and went down between
   * two ticks from one that never came up.
   */
  handleEvent(now: number, ev: { type: string; connection: unknown; subflowId?: number; addressIds?: readonly number[]; peerReset?: { reason: number; transient: boolean } }): boolean {
    if (this.conn === null || ev.connection !== this.conn) return false;
    if (ev.type === 'subflow-up' || ev.type === 'subflow-down') {
      const slot = this.slotOfSubflow(ev.subflowId);
      if (slot) {
        if (ev.type === 'subflow-up') this.succeeded(slot);
        // RFC 8684 §3.6: the peer's MP_TCPRST without the T flag calls the cause lasting.
        else if (ev.peerReset && !ev.peerReset.transient) this.giveUp(slot);
        else this.attemptEnded(slot, now);
      }
      return true;
    }
    // RFC 8684 §3.4.2: the peer may withdraw the address the connection started on.
    if (ev.type === 'address-removed' && ev.addressIds?.includes(0)) this.serverWithdrawn = true;
    return ev.type === 'address-added' || ev.type === 'address-removed' || ev.type === 'subflow-change' || ev.type === 'connected' || ev.type === 'closed';
  }

  /** Act on the connection: what plan(now) returns, done. */
  tick(now: number): PathAction[] {
    const actions = this.plan(now);
    for (const a of actions) this.apply(now, a);
    const conn = this.conn;
    if (conn !== null && conn.state === 'established') this.markIdlePaths(now, liveSubflows(conn));
    return actions;
  }

  /**
   * What tick(now) would do now, without doing it. It brings the manager's own view of the
   * connection up to date (which subflows came up or failed), which is idempotent.
   */
  plan(now: number): PathAction[] {
    const conn = this.conn;
    if (conn === null) return [];
    if (conn.state === 'closed') return [...this.paths.values()].map(({ pathId }) => ({ type: 'release-path', pathId }));
    if (conn.state !== 'established' || conn.fallback) return [];
    const live = liveSubflows(conn);
    this.reconcile(now, live);

    const claimed = new Set<number>();
    for (const s of this.desired) if (s.subflowId !== null) claimed.add(s.subflowId);
    const isUp = (sf: ManagedSubflow | undefined): boolean => sf?.state === 'established';
    const desiredUp = this.desired.some((s) => s.subflowId !== null && isUp(live.get(s.subflowId)));
    // Every wanted subflow is up or has had its chance: what they replace may go.
    const settled = this.desired.every((s) => (s.subflowId !== null && isUp(live.get(s.subflowId))) || s.failures > 0 || s.exhausted);
    const kindOf = (sf: ManagedSubflow): SurplusKind | null => {
      if (claimed.has(sf.id)) return null;
      const kind = this.surplusKind(sf);
      // RFC 8684 §3.1 C bit: no slot names the first address, yet its subflow stays while its local address is usable.
      return kind === 'unwanted' && this.initialJoinsRefused() && this.reachesServer(sf) ? null : kind;
    };

    const closes: PathAction[] = [];
    const closing = new Set<number>();
    const healthyUp = [...live.values()].filter((sf) => isUp(sf) && kindOf(sf) !== 'gone');
    for (const sf of live.values()) {
      const kind = kindOf(sf);
      if (kind === null) continue;
      let close = false;
      if (kind === 'gone') close = !this.keepLastSubflow || healthyUp.length > 0;
      else close = desiredUp && settled; // RFC 6897 §5.3.3: alternatives first, then the removal
      if (!close) continue;
      closing.add(sf.id);
      closes.push({ type: 'close', subflowId: sf.id, cause: kind === 'gone' ? 'address-gone' : kind === 'disallowed' ? 'address-disallowed' : 'replaced' });
    }

    const flags: PathAction[] = [];
    for (const sf of live.values()) {
      if (closing.has(sf.id)) continue;
      const want = this.wantedBackup(sf, claimed);
      if (want !== null && want !== sf.backup) flags.push({ type: 'set-backup', subflowId: sf.id, backup: want });
    }

    const joins: PathAction[] = [];
    for (const s of this.desired) {
      if (s.subflowId !== null || s.exhausted || s.retryAt > now) continue;
      const local = this.localList.get(s.spec.localId)!;
      const remote = this.remoteList.find((r) => r.addressId === s.spec.remoteId)!;
      joins.push({ type: 'join', slot: s.spec.key, localId: local.id, localHost: local.host, remote, backup: s.spec.backup });
    }

    const remaining = [...live.values()].filter((sf) => !closing.has(sf.id));
    const out = [...closes, ...flags, ...joins];
    const withdraw = this.addressIdsToWithdraw(remaining);
    if (withdraw.length > 0) out.push({ type: 'withdraw', addressIds: withdraw });
    const keep = this.wantedPathIds();
    for (const sf of remaining) keep.add(sf.pathId);
    const released = new Set<number>();
    for (const { pathId, localHost } of this.paths.values()) {
      if (keep.has(pathId) || released.has(pathId)) continue;
      // A path from an address that is gone has nothing left to carry; others wait a while.
      const idle = this.idleSince.get(pathId);
      const due = this.localByHost(localHost) === undefined || (idle !== undefined && now - idle >= this.releaseDelayMs);
      if (!due) continue;
      released.add(pathId);
      out.push({ type: 'release-path', pathId });
    }
    return out;
  }

  /** The earliest time a retry or a path release is due, or null when none is waiting. */
  nextTimeout(): number | null {
    if (this.conn === null || this.conn.state !== 'established') return null;
    let t = Infinity;
    for (const s of this.desired) if (s.subflowId === null && !s.exhausted && s.retryAt > -Infinity && s.retryAt < t) t = s.retryAt;
    for (const idle of this.idleSince.values()) t = Math.min(t, idle + this.releaseDelayMs);
    return t === Infinity ? null : t;
  }

  /** The wanted subflows and their retry state. */
  status(): SlotStatus[] {
    const desired = new Set(this.desired);
    return [...this.slots.values()].map((s) => ({
      ...s.spec,
      subflowId: s.subflowId,
      failures: s.failures,
      retryAt: s.retryAt,
      exhausted: s.exhausted,
      desired: desired.has(s),
    }));
  }

  // --- Bookkeeping -----------------------------------------------------------------------------

  private usableLocals(): LocalAddress[] {
    return [...this.localList.values()].filter((l) => l.allowed);
  }

  private localByHost(host: string): LocalAddress | undefined {
    for (const l of this.localList.values()) if (l.host === host) return l;
    return undefined;
  }

  /** The local and remote address of a subflow's path, canonical. */
  private endsOf(sf: ManagedSubflow): { localHost: string; remote: { host: string; port: number } } | undefined {
    const info = this.host.pathInfo(sf.pathId);
    if (!info) return undefined;
    return {
      localHost: canonicalHost(info.local.host) ?? info.local.host,
      remote: { host: canonicalHost(info.remote.host) ?? info.remote.host, port: info.remote.port },
    };
  }

  /** Bring the slots up to date with the connection and the addresses. */
  private reconcile(now: number, live: Map<number, ManagedSubflow>): void {
    this.syncRemotes();
    for (const sf of live.values()) {
      const ends = this.endsOf(sf);
      if (!ends) continue;
      let ids = this.addressIds.get(ends.localHost);
      if (!ids) this.addressIds.set(ends.localHost, (ids = new Set()));
      ids.add(sf.localAddressId);
      this.withdrawn.delete(sf.localAddressId);
      this.notePath(sf.pathId, ends.localHost, ends.remote);
    }
    // Attempts that came up, or ended since the last look.
    for (const s of this.slots.values()) {
      if (s.subflowId === null) continue;
      const sf = live.get(s.subflowId);
      if (!sf) this.attemptEnded(s, now);
      else if (sf.state === 'established') this.succeeded(s);
    }
    // Slots of addresses that are gone or withdrawn are forgotten, retry state included.
    const usable = new Map(this.usableLocals().map((l) => [l.id, l]));
    const remoteIds = new Set(this.remoteList.map((r) => r.addressId));
    for (const [key, s] of this.slots) if (!usable.has(s.spec.localId) || !remoteIds.has(s.spec.remoteId)) this.slots.delete(key);

    const specs = desiredSlots(this.policy, [...usable.values()], this.remoteList, (localId, remoteId) => this.pairExhausted(localId, remoteId));
    const wanted = new Set<SlotState>();
    this.desired = specs.map((spec) => {
      let s = this.slots.get(spec.key);
      if (!s) this.slots.set(spec.key, (s = { spec, subflowId: null, failures: 0, retryAt: -Infinity, exhausted: false }));
      else s.spec = spec;
      wanted.add(s);
      return s;
    });
    // A subflow of a slot the policy dropped becomes surplus (closed make-before-break).
    for (const s of this.slots.values()) if (!wanted.has(s)) s.subflowId = null;

    // Subflows the manager did not open (the initial one, joins the application asked for)
    // fill wanted slots of their address pair.
    const claimed = new Set<number>();
    for (const s of this.desired) if (s.subflowId !== null) claimed.add(s.subflowId);
    for (const sf of live.values()) {
      if (claimed.has(sf.id)) continue;
      const ends = this.endsOf(sf);
      const local = ends ? this.localByHost(ends.localHost) : undefined;
      if (!ends || !local) continue;
      const remote = this.remoteList.find((r) => r.host === ends.remote.host && r.port === ends.remote.port);
      if (!remote) continue;
      const free = this.desired.find((s) => s.subflowId === null && s.spec.localId === local.id && s.spec.remoteId === remote.addressId);
      if (!free) continue;
      free.subflowId = sf.id;
      free.retryAt = -Infinity;
      claimed.add(sf.id);
      if (sf.state === 'established') this.succeeded(free);
    }
    this.markIdlePaths(now, live);
  }

  /** A path found in use by a subflow the manager did not open: filed under the first free index. */
  private notePath(pathId: number, localHost: string, remote: { host: string; port: number }): void {
    for (const p of this.paths.values()) if (p.pathId === pathId) return;
    for (let index = 0; ; index++) {
      const key = pathKey(localHost, remote, index);
      if (this.paths.has(key)) continue;
      this.paths.set(key, { pathId, localHost });
      return;
    }
  }

  /** Paths that wanted slots (still to be tried) have or will ask for. */
  private wantedPathIds(): Set<number> {
    const out = new Set<number>();
    for (const s of this.desired) {
      if (s.exhausted) continue;
      const local = this.localList.get(s.spec.localId)!;
      const remote = this.remoteList.find((r) => r.addressId === s.spec.remoteId)!;
      const p = this.paths.get(pathKey(local.host, remote, s.spec.index));
      if (p) out.add(p.pathId);
    }
    return out;
  }

  /** Start (or stop) the release delay of each path by whether anything uses or wants it. */
  private markIdlePaths(now: number, live: Map<number, ManagedSubflow>): void {
    const keep = this.wantedPathIds();
    for (const sf of live.values()) keep.add(sf.pathId);
    for (const { pathId } of this.paths.values()) {
      if (keep.has(pathId)) this.idleSince.delete(pathId);
      else if (!this.idleSince.has(pathId)) this.idleSince.set(pathId, now);
    }
  }

  /** The peer set the C bit: its initial address takes no joins (RFC 8684 §3.1). */
  private initialJoinsRefused(): boolean {
    return this.conn?.joinsToInitialAddressRefused === true;
  }

  /** The subflow's path leads to the address the connection started on. */
  private reachesServer(sf: ManagedSubflow): boolean {
    const ends = this.endsOf(sf);
    return ends !== undefined && ends.remote.host === this.server.host && ends.remote.port === this.server.port;
  }

  /**
   * The peer's addresses subflows may be opened to: its initial one (unless withdrawn, or
   * refused by the C bit) and what ADD_ADDR announced.
   */
  private syncRemotes(): void {
    const list: RemoteAddress[] = this.serverWithdrawn || this.initialJoinsRefused() ? [] : [this.server];
    if (this.usePeerAddresses && this.conn) {
      for (const a of this.conn.peerAddressList()) {
        const host = canonicalHost(a.host);
        if (host === null || a.addressId === 0) continue;
        const port = a.port ?? this.server.port;
        if (!this.serverWithdrawn && host === this.server.host && port === this.server.port) continue; // the same address again
        list.push({ addressId: a.addressId, host, port });
      }
    }
    this.remoteList = list;
  }

  private pairExhausted(localId: string, remoteId: number): boolean {
    const n = this.policy.kind === 'ndiffports' ? this.policy.subflows : 1;
    for (let i = 0; i < n; i++) {
      const s = this.slots.get(slotKey(localId, remoteId, i));
      if (!s || !s.exhausted) return false;
    }
    return true;
  }

  private slotOfSubflow(id: number | undefined): SlotState | undefined {
    if (id === undefined) return undefined;
    for (const s of this.slots.values()) if (s.subflowId === id) return s;
    return undefined;
  }

  /** The attempt is established: the failure count starts over. */
  private succeeded(s: SlotState): void {
    s.failures = 0;
    s.exhausted = false;
    s.retryAt = -Infinity;
  }

  /** The attempt ended (before or after it came up): schedule the next, or give up. */
  private attemptEnded(s: SlotState, now: number): void {
    s.subflowId = null;
    this.failed(s, now);
  }

  /** No more attempts for this slot (until it is made again or an attempt succeeds). */
  private giveUp(s: SlotState): void {
    s.subflowId = null;
    s.exhausted = true;
    s.retryAt = Infinity;
  }

  private failed(s: SlotState, now: number): void {
    s.failures++;
    if (s.failures >= this.retry.maxAttempts) {
      this.giveUp(s);
    } else {
      s.retryAt = now + backoffDelay(s.failures, this.retry, this.random);
    }
  }

  /**
   * Why a subflow no wanted slot holds is there: its address went away (or its path did),
   * was withdrawn, or is simply not preferred (an address never added counts as that).
   */
  private surplusKind(sf: ManagedSubflow): SurplusKind {
    const ends = this.endsOf(sf);
    if (!ends) return 'gone';
    const local = this.localByHost(ends.localHost);
    if (!local) return this.knownHosts.has(ends.localHost) ? 'gone' : 'unwanted';
    return local.allowed ? 'unwanted' : 'disallowed';
  }

  /** The B flag a subflow should carry, or null when the manager has no say (its address is unknown). */
  private wantedBackup(sf: ManagedSubflow, claimed: ReadonlySet<number>): boolean | null {
    if (claimed.has(sf.id)) {
      for (const s of this.desired) if (s.subflowId === sf.id) return s.spec.backup;
    }
    const ends = this.endsOf(sf);
    const local = ends ? this.localByHost(ends.localHost) : undefined;
    return local ? local.backup : null;
  }

  /** RFC 8684 §3.4.2: ids of addresses we no longer use, once no subflow carries them. */
  private addressIdsToWithdraw(remaining: readonly ManagedSubflow[]): number[] {
    const used = new Set(remaining.map((sf) => sf.localAddressId));
    const out: number[] = [];
    for (const [host, ids] of this.addressIds) {
      const local = this.localByHost(host);
      if (local && local.allowed) continue;
      for (const id of ids) if (!used.has(id) && !this.withdrawn.has(id) && !out.includes(id)) out.push(id);
    }
    return out.sort((a, b) => a - b);
  }

  private pathFor(localHost: string, remote: { host: string; port: number }, index: number): number | null | 'pending' {
    const key = pathKey(localHost, remote, index);
    const known = this.paths.get(key);
    if (known !== undefined && this.host.pathInfo(known.pathId) !== undefined) return known.pathId;
    // A path the host lost (its link closed) is opened again.
    if (known !== undefined) {
      this.paths.delete(key);
      this.idleSince.delete(known.pathId);
    }
    const pathId = this.host.ensurePath(localHost, { host: remote.host, port: remote.port }, index);
    if (typeof pathId === 'number') this.paths.set(key, { pathId, localHost });
    return pathId;
  }

  private apply(now: number, a: PathAction): void {
    const conn = this.conn!;
    switch (a.type) {
      case 'close':
        conn.closeSubflow(now, a.subflowId, RST_REASON[a.cause]);
        break;
      case 'set-backup':
        conn.setBackup(a.subflowId, a.backup);
        break;
      case 'join': {
        const s = this.slots.get(a.slot);
        if (!s) break;
        const pathId = this.pathFor(a.localHost, a.remote, s.spec.index);
        if (pathId === 'pending') break; // asked again at the next tick; the host ticks when the path is ready
        const sf = pathId === null ? null : joinOrNull(conn, now, pathId, a.backup);
        if (sf) {
          s.subflowId = sf.id;
          if (sf.state === 'established') this.succeeded(s);
        } else {
          this.failed(s, now);
        }
        break;
      }
      case 'withdraw':
        conn.withdrawAddresses(a.addressIds);
        for (const id of a.addressIds) this.withdrawn.add(id);
        break;
      case 'release-path':
        for (const [key, p] of this.paths) if (p.pathId === a.pathId) this.paths.delete(key);
        this.idleSince.delete(a.pathId);
        this.host.releasePath(a.pathId);
        break;
    }
  }
}

function liveSubflows(conn: ManagedConnection): Map<number, ManagedSubflow> {
  const out = new Map<number, ManagedSubflow>();
  for (const sf of conn.subflows()) if (sf.state !== 'closed') out.set(sf.id, sf);
  return out;
}

function pathKey(localHost: string, remote: { host: string; port: number }, index: number): string {
  return `${localHost}|${remote.host}|${remote.port}|${index}`;
}

/**
 * Connection.join, with the engine's RangeError for a path that has no local port left (a
 * fixed-port path already carrying its one subflow) taken as "cannot start now".
 */
function joinOrNull(conn: ManagedConnection, now: number, pathId: number, backup: boolean): ManagedSubflow | null {
  try {
    return conn.join(now, pathId, backup);
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}
