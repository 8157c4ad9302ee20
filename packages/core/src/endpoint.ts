import { resolveConfig, type EndpointConfig, type ResolvedConfig } from './config.js';
import { Connection, type Address, type ConnectionHost } from './connection/connection.js';
import { BufferBudget } from './buffer-budget.js';
import { DeadlineHeap } from './deadline-heap.js';
import { HalfOpenTable } from './half-open-table.js';
import { Slab } from './slab.js';
import type { Driveable, Transmit } from './driveable.js';
import type { EndpointEvent } from './events.js';
import { PathLiveness, type PathLivenessEvent } from './path-liveness.js';
import type { RandomSource } from './random.js';
import { randomU32 } from './random.js';
import type { CcFactory } from './cc/controller.js';
import type { SchedulerFactory } from './sched/scheduler.js';
import type { Subflow } from './subflow/subflow.js';
import { WireError } from './wire/error.js';
import { capableFlagsUsable } from './wire/mptcp/capable.js';
import { TcpRstReason, type MpCapable, type MpJoinSyn } from './wire/mptcp/option.js';
import { EngineError } from './errors.js';
import { TcpFlag, emitSegment, parseSegmentLenient, type TcpSegment } from './wire/tcp-segment.js';
import { TCP_HEADER_MAX_LENGTH } from './wire/tcp-header.js';

export interface ConnectOptions {
  /** The path of the initial subflow (MP_CAPABLE). */
  path: number;
  /** Paths to join once the connection is up (MP_JOIN), fullmesh style. */
  extraPaths?: readonly number[];
  /** The peer's TCP port; defaults to the path's remote port. */
  port?: number;
  /** Bytes to send first; the first MSS of them rides the SYN. */
  data?: Uint8Array;
  /** This connection's scheduler and congestion control, when not the endpoint's. */
  scheduler?: SchedulerFactory;
  congestionControl?: CcFactory;
}

export interface EndpointStats {
  /** Segments that failed to parse. */
  malformed: number;
  /** Segments for no subflow we know, answered with RST where allowed. */
  unmatched: number;
  resetsSent: number;
  /** MP_JOINs refused (unknown token, bad HMAC, too many subflows). */
  joinsRefused: number;
  /** SYNs dropped because the half-open limit was reached, or no unique token could be drawn. */
  synsDropped: number;
  /** Segments not sent to an unverified source because they exceeded what it had sent us. */
  repliesWithheld: number;
}

/** Per-path settings that differ by transport. */
export interface PathOptions {
  /**
   * Largest segment payload this path can deliver to us (defaults to the endpoint's mss): what
   * our SYN advertises, so the peer may grow to it as its own path MTU search allows.
   */
  mss?: number;
  /**
   * Largest segment payload we send on this path now (defaults to mss); the carrier's path MTU
   * search moves it later with setPathMss.
   */
  sendMss?: number;
  /** The carrier retransmits by itself (WebSocket): subflows run in reliable-link mode. */
  reliable?: boolean;
  /**
   * Subflows on this path use this local TCP port (tcp-in-udp, where the UDP ports are the
   * TCP ports): the path then carries one subflow at a time.
   */
  fixedLocalPort?: number;
  /**
   * The carrier authenticated the peer (default true). On an unauthenticated path the source
   * of a SYN may be spoofed: data riding it waits for the handshake (RFC 9293 §3.10.7.2, no
   * TFO cookie here), and the application hears of the connection only once it is up.
   */
  authenticated?: boolean;
  /**
   * The listener the path came in on: half-open handshakes are budgeted per listener and per
   * source address within it (EndpointConfig.maxHalfOpen, maxHalfOpenPerSource).
   */
  listener?: string;
}

interface PathEntry {
  local: Address;
  remote: Address;
  ports: Set<number>;
  mss: number;
  sendMss: number;
  reliable: boolean;
  fixedLocalPort: number | undefined;
  authenticated: boolean;
  listener: string;
  /** The subflows on this path, of every connection (the liveness watch probes one). */
  subflows: Map<Subflow, Connection>;
}

const MAX_PENDING_RAW = 256;
/** Smallest send MSS a path may be set to (RFC 9293 §3.7.1's 536 would do; 64 is the codec's floor). */
const MIN_PATH_MSS = 64;
/** Keys drawn for one connection before giving up on a unique token (RFC 8684 §3.1). */
const TOKEN_TRIES = 16;

/**
 * An MPTCP endpoint (RFC 8684) that owns connections and demultiplexes segments to them.
 * Sans-IO: the driver registers paths, feeds segments and timeouts, and sends what
 * pollTransmit returns (docs/architecture.md, the sans-IO contract).
 */
export class Endpoint implements Driveable {
  readonly config: ResolvedConfig;
  readonly random: RandomSource;
  readonly stats: EndpointStats = { malformed: 0, unmatched: 0, resetsSent: 0, joinsRefused: 0, synsDropped: 0, repliesWithheld: 0 };
  private readonly paths = new Map<number, PathEntry>();
  private nextPathId = 1;
  private nextConnId = 1;
  private readonly listening = new Set<number>();
  private listenAll = false;
  private readonly demux = new Map<number, { conn: Connection; sf: Subflow }>();
  private readonly byToken = new Map<number, Connection>();
  private readonly conns = new Set<Connection>();
  private readonly halfOpen = new HalfOpenTable<Connection>();
  /**
   * Half-open connections from unauthenticated paths, with the bytes their source has sent
   * and we have not yet spent on replies. Until the third ACK proves the source real, we send
   * it no more than it sent us (anti-amplification, as RFC 9000 §8.1 bounds QUIC servers).
   */
  private readonly replyCredit = new Map<Connection, number>();
  private active: Connection[] = [];
  private readonly activeSet = new Set<Connection>();
  private readonly rawOut: Transmit[] = [];
  /** Connections with RSTs queued, which leave before rawOut (see pollTransmit). */
  private readonly resetting = new Set<Connection>();
  private readonly events: EndpointEvent[] = [];
  private eventHead = 0;
  private readonly host: ConnectionHost;
  /** Bytes all connections hold in their buffers, against config.bufferBudget. */
  readonly budget: BufferBudget;
  /** Each connection's next deadline, so a step does not visit every idle connection. */
  private readonly deadlines = new DeadlineHeap<Connection>();
  /** Connections whose deadline may have moved since it was last read into `deadlines`. */
  private readonly touched = new Set<Connection>();
  /** Where outgoing segments are written: one 64 KiB block per fifty-odd segments, not one allocation each. */
  private readonly slab = new Slab();
  /** Whether the peer still answers on each datagram path under traffic; null when config.pathLiveness is off. */
  private readonly liveness: PathLiveness | null;

  constructor(config: EndpointConfig) {
    this.config = resolveConfig(config);
    this.random = config.random;
    const self = this;
    this.budget = new BufferBudget(this.config.bufferBudget);
    this.host = {
      config: this.config,
      random: this.random,
      budget: this.budget,
      emit: (ev) => self.emit(ev),
      registerSubflow: (conn, sf) => {
        self.demux.set(self.key(sf.pathId, sf.localPort, sf.remotePort), { conn, sf });
        self.paths.get(sf.pathId)?.subflows.set(sf, conn);
      },
      unregisterSubflow: (_conn, sf) => {
        self.demux.delete(self.key(sf.pathId, sf.localPort, sf.remotePort));
        const path = self.paths.get(sf.pathId);
        path?.ports.delete(sf.localPort);
        path?.subflows.delete(sf as Subflow);
      },
      allocatePort: (pathId) => self.allocatePort(pathId),
      pathAddresses: (pathId) => self.paths.get(pathId),
      connectionClosed: (conn) => {
        self.halfOpen.delete(conn);
        self.wake(conn); // let its last RSTs out, then it is dropped
      },
      wake: (conn) => self.wake(conn),
      touch: (conn) => self.touched.add(conn),
      replyCredit: (conn) => self.replyCredit.get(conn),
      subflowTimedOut: (sf, now) => {
        if (self.paths.get(sf.pathId)?.reliable === false) self.liveness?.timedOut(sf.pathId, now, sf.rtt.rto);
      },
    };
    this.liveness = this.config.pathLiveness ? new PathLiveness({ rto: (pathId) => self.pathRto(pathId), probe: (pathId, unlessOutstanding) => self.probePath(pathId, unlessOutstanding) }) : null;
  }

  // --- Paths and listeners -------------------------------------------------------------------

  /** Register a path (a local address and the remote one it reaches); returns its id. */
  openPath(local: Address, remote: Address, opts: PathOptions = {}): number {
    const id = this.nextPathId++;
    const mss = opts.mss ?? this.config.mss;
    this.paths.set(id, {
      local,
      remote,
      ports: new Set(),
      mss,
      sendMss: opts.sendMss ?? mss,
      reliable: opts.reliable ?? this.config.reliableLink,
      fixedLocalPort: opts.fixedLocalPort,
      authenticated: opts.authenticated ?? true,
      listener: opts.listener ?? '',
      subflows: new Map(),
    });
    return id;
  }

  /** The path is gone (interface down): its subflows end and their data moves to others. */
  closePath(now: number, pathId: number): void {
    for (const { conn, sf } of [...this.demux.values()]) {
      if (sf.pathId !== pathId) continue;
      this.touched.add(conn);
      sf.terminate('path-gone', now);
    }
    this.paths.delete(pathId);
    this.liveness?.forget(pathId);
  }

  /** The carrier of a path reports its peer quiet, or heard again: its subflows step aside meanwhile. */
  setPathQuiet(pathId: number, quiet: boolean): void {
    for (const { conn, sf } of this.demux.values()) {
      if (sf.pathId !== pathId) continue;
      this.touched.add(conn);
      conn.setSubflowQuiet(sf, quiet);
    }
  }

  /**
   * The path's carrier now delivers segments of up to `mss` payload bytes (its path MTU search
   * confirmed a larger size, or found a black hole): every subflow on it sends at most
   * min(that, the peer's MSS option) from now on, and splits what it must resend (RFC 8899 §4.3).
   */
  setPathMss(pathId: number, mss: number): void {
    const path = this.paths.get(pathId);
    if (!path || !(mss >= MIN_PATH_MSS)) return;
    // Not bounded by path.mss: that is what we can receive; the peer's MSS option bounds what we send.
    path.sendMss = Math.floor(mss);
    for (const { conn, sf } of this.demux.values()) {
      if (sf.pathId !== pathId) continue;
      this.touched.add(conn);
      sf.setPathMss(path.sendMss);
    }
  }

  pathInfo(pathId: number): { local: Address; remote: Address; mss: number; sendMss: number; reliable: boolean } | undefined {
    return this.paths.get(pathId);
  }

  /** Accept connections to a TCP port, or to every port when none is given. */
  listen(port?: number): void {
    if (port === undefined) this.listenAll = true;
    else this.listening.add(port);
  }

  // --- Connections --------------------------------------------------------------------------

  connect(now: number, opts: ConnectOptions): Connection {
    const path = this.paths.get(opts.path);
    if (!path) throw new RangeError(`unknown path ${opts.path}`);
    const conn = this.newConnection(true, now, opts.scheduler, opts.congestionControl);
    if (!conn) throw new EngineError('ERR_MPTUN_PROTOCOL', `no unique token after ${TOKEN_TRIES} keys: is the random source broken?`);
    if (opts.data && opts.data.length > 0) conn.write(opts.data);
    conn.open(now, opts.path, opts.port ?? path.remote.port, opts.extraPaths ?? []);
    return conn;
  }

  connections(): IterableIterator<Connection> {
    return this.conns.values();
  }

  /**
   * RFC 8684 §3.1: a token must be unique at this endpoint; draw keys until it is. Null after
   * TOKEN_TRIES collisions in a row (only a broken random source gets there): a token that
   * names another connection must never be taken over.
   */
  private newConnection(isClient: boolean, now: number, scheduler?: SchedulerFactory, cc?: CcFactory): Connection | null {
    for (let tries = 0; tries < TOKEN_TRIES; tries++) {
      const conn = new Connection(this.nextConnId++, this.host, isClient, now, scheduler, cc);
      if (this.byToken.has(conn.localToken)) continue;
      this.byToken.set(conn.localToken, conn);
      this.conns.add(conn);
      this.touched.add(conn);
      return conn;
    }
    return null;
  }

  private allocatePort(pathId: number): number {
    const p = this.paths.get(pathId);
    if (p?.fixedLocalPort !== undefined) {
      if (p.ports.has(p.fixedLocalPort)) throw new RangeError(`path ${pathId} carries one subflow and has it already`);
      p.ports.add(p.fixedLocalPort);
      return p.fixedLocalPort;
    }
    for (let i = 0; i < 64; i++) {
      const port = 49152 + (randomU32(this.random) % 16384);
      if (!p || !p.ports.has(port)) {
        p?.ports.add(port);
        return port;
      }
    }
    throw new RangeError(`no free local port on path ${pathId}`);
  }

  private key(pathId: number, localPort: number, remotePort: number): number {
    return pathId * 4294967296 + (((localPort << 16) | remotePort) >>> 0);
  }

  // --- Driveable ----------------------------------------------------------------------------

  handleSegment(now: number, pathId: number, bytes: Uint8Array): void {
    const path = this.paths.get(pathId);
    if (!path) return;
    let seg: TcpSegment;
    try {
      seg = parseSegmentLenient(bytes);
    } catch (e) {
      if (e instanceof WireError) {
        this.stats.malformed++;
        return;
      }
      throw e;
    }
    if (this.liveness && !path.reliable) this.liveness.heard(pathId, now, seg.payload.length > 0 || (seg.flags & TcpFlag.FIN) !== 0);
    const entry = this.demux.get(this.key(pathId, seg.dstPort, seg.srcPort));
    if (entry) {
      const credit = this.replyCredit.get(entry.conn);
      if (credit !== undefined) this.replyCredit.set(entry.conn, credit + bytes.length);
      entry.conn.onSegment(now, entry.sf, seg);
      return;
    }
    this.unmatched(now, pathId, seg, bytes.length);
  }

  /** A segment for no known subflow: a new SYN, an MP_JOIN, or something to reset. */
  private unmatched(now: number, pathId: number, seg: TcpSegment, length: number): void {
    const f = seg.flags;
    if (f & TcpFlag.RST) return;
    if ((f & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) {
      let join: MpJoinSyn | null = null;
      let capable: MpCapable | null = null;
      for (const o of seg.options) {
        if (o.kind !== 'mptcp') continue;
        if (o.option.type === 'mp-join-syn') join = o.option;
        else if (o.option.type === 'mp-capable' && o.option.senderKey === undefined && capableFlagsUsable(o.option.flags)) capable = o.option; // RFC 8684 §3.1: H clear or B set is plain TCP
      }
      if (join) {
        const conn = this.byToken.get(join.token);
        const sf = conn ? conn.acceptJoin(now, pathId, seg, join) : null;
        if (!sf) {
          // RFC 8684 §3.2: unknown token or no room: refuse with a reset.
          this.stats.joinsRefused++;
          this.reset(pathId, seg, TcpRstReason.ADMIN_PROHIBITED);
        }
        return;
      }
      if (this.listenAll || this.listening.has(seg.dstPort)) {
        // RFC 8684 §3.1: a SYN offering a later version is answered with ours (1); one the
        // codec could not read (RFC 6824's version 0) arrives without MP_CAPABLE: plain TCP.
        if (capable && capable.version < 1) capable = null;
        if (!capable && !this.config.allowFallback) {
          this.reset(pathId, seg);
          return;
        }
        const path = this.paths.get(pathId)!;
        const budget = { listener: path.listener, source: path.remote.host };
        if (!this.halfOpen.hasRoom(budget, this.config) || this.conns.size >= this.config.maxConnections) {
          this.stats.synsDropped++;
          return;
        }
        const conn = this.newConnection(false, now);
        if (!conn) {
          this.stats.synsDropped++; // no token to give it; the client's retransmission may fare better
          return;
        }
        this.halfOpen.add(conn, budget);
        if (!path.authenticated) this.replyCredit.set(conn, length);
        conn.acceptSyn(now, pathId, seg, capable);
        return;
      }
    }
    this.stats.unmatched++;
    this.reset(pathId, seg);
  }

  /** RST in answer to a segment (RFC 9293 §3.10.7.1), optionally with MP_TCPRST. */
  private reset(pathId: number, seg: TcpSegment, reason?: number): void {
    if (this.rawOut.length >= MAX_PENDING_RAW) return;
    const hasAck = (seg.flags & TcpFlag.ACK) !== 0;
    const len = seg.payload.length + (seg.flags & TcpFlag.SYN ? 1 : 0) + (seg.flags & TcpFlag.FIN ? 1 : 0);
    const rst: TcpSegment = {
      srcPort: seg.dstPort,
      dstPort: seg.srcPort,
      seq: hasAck ? seg.ack : 0,
      ack: hasAck ? 0 : (seg.seq + len) >>> 0,
      flags: hasAck ? TcpFlag.RST : TcpFlag.RST | TcpFlag.ACK,
      window: 0,
      checksum: 0,
      urgent: 0,
      options: reason === undefined ? [] : [{ kind: 'mptcp', option: { type: 'mp-tcprst', flags: 0, reason } }],
      payload: new Uint8Array(0),
    };
    this.stats.resetsSent++;
    this.rawOut.push({ pathId, bytes: emitSegment(rst) });
  }

  handleTimeout(now: number): void {
    this.refreshDeadlines();
    for (const conn of this.deadlines.takeDue(now)) {
      this.touched.add(conn);
      conn.handleTimeout(now);
    }
    this.liveness?.handleTimeout(now);
  }

  pollTransmit(now: number): Transmit | null {
    // A connection's own RSTs go before our bare answers to segments of subflows it just
    // ended: a bare RST that arrived first would end the peer's subflow without the reason
    // its MP_TCPRST gives (RFC 8684 §3.6).
    for (const conn of this.resetting) {
      const reset = conn.takeReset();
      if (!reset) {
        this.resetting.delete(conn);
        continue;
      }
      this.touched.add(conn);
      return { pathId: reset.sf.pathId, bytes: emitSegment(reset.seg) };
    }
    const raw = this.rawOut.shift();
    if (raw) return raw;
    // Connections take turns, one segment each, so none starves another.
    while (this.active.length > 0) {
      const conn = this.active.shift()!;
      this.touched.add(conn);
      const out = conn.poll(now);
      if (!out) {
        this.activeSet.delete(conn);
        if (conn.state === 'closed') this.forget(conn);
        continue;
      }
      this.active.push(conn);
      const room = this.slab.take(TCP_HEADER_MAX_LENGTH + out.seg.payload.length);
      const bytes = emitSegment(out.seg, room);
      this.slab.trimLast(bytes.length);
      const credit = this.replyCredit.get(conn);
      if (credit !== undefined) {
        if (bytes.length > credit) {
          this.stats.repliesWithheld++; // as if lost: the source's next SYN earns the retransmission
          continue;
        }
        this.replyCredit.set(conn, credit - bytes.length);
      }
      return { pathId: out.sf.pathId, bytes };
    }
    return null;
  }

  pollTimeout(): number | null {
    this.refreshDeadlines();
    const t = Math.min(this.deadlines.peek(), this.liveness?.nextDeadline() ?? Infinity);
    return t === Infinity ? null : t;
  }

  /**
   * The next liveness edge of a datagram path (PathLivenessEvent: stalled under traffic, or
   * resumed), or null. A driver that shows path state reads these after each step.
   */
  pollPathEvent(): PathLivenessEvent | null {
    return this.liveness?.poll() ?? null;
  }

  /** The peer stopped answering on this path under traffic and has not been heard since. */
  pathStalled(pathId: number): boolean {
    return this.liveness?.stalled(pathId) ?? false;
  }

  /** The largest RTO among the path's established subflows, or null without one. */
  private pathRto(pathId: number): number | null {
    let rto: number | null = null;
    for (const sf of this.paths.get(pathId)?.subflows.keys() ?? []) if (sf.isEstablished) rto = Math.max(rto ?? 0, sf.rtt.rto);
    return rto;
  }

  /** A keepalive probe on one established subflow of the path (RFC 9293 §3.8.4): its answer says the peer is there. */
  private probePath(pathId: number, unlessOutstanding: boolean): boolean {
    const subflows = this.paths.get(pathId)?.subflows;
    if (!subflows) return false;
    if (unlessOutstanding) for (const sf of subflows.keys()) if (sf.isEstablished && !sf.outstanding().next().done) return true;
    for (const [sf, conn] of subflows) {
      if (!sf.isEstablished) continue;
      sf.probe();
      this.wake(conn);
      return true;
    }
    return false;
  }

  /** Reads the deadline of every connection touched since the last read. */
  private refreshDeadlines(): void {
    for (const conn of this.touched) {
      if (this.conns.has(conn)) this.deadlines.set(conn, conn.nextDeadline());
      else this.deadlines.delete(conn);
    }
    this.touched.clear();
  }

  /** The next event for the application, or null. */
  pollEvent(): EndpointEvent | null {
    if (this.eventHead >= this.events.length) {
      if (this.events.length > 0) {
        this.events.length = 0;
        this.eventHead = 0;
      }
      return null;
    }
    return this.events[this.eventHead++]!;
  }

  private emit(ev: EndpointEvent): void {
    if (ev.type === 'subflow-up') this.replyCredit.delete(ev.connection);
    if (ev.type === 'subflow-up' || ev.type === 'closed') this.halfOpen.delete(ev.connection);
    this.events.push(ev);
  }

  private wake(conn: Connection): void {
    this.touched.add(conn);
    if (conn.hasPendingReset) this.resetting.add(conn);
    if (this.activeSet.has(conn)) return;
    this.activeSet.add(conn);
    this.active.push(conn);
  }

  private forget(conn: Connection): void {
    this.conns.delete(conn);
    this.resetting.delete(conn);
    this.replyCredit.delete(conn);
    this.deadlines.delete(conn);
    this.touched.delete(conn);
    if (this.byToken.get(conn.localToken) === conn) this.byToken.delete(conn.localToken);
    for (const sf of conn.subflows()) this.host.unregisterSubflow(conn, sf);
  }
}
