import type { BufferBudget } from '../buffer-budget.js';
import type { CcFactory, CcGroup, CcMember } from '../cc/controller.js';
import type { ResolvedConfig } from '../config.js';
import { dssChecksum } from '../crypto/checksum.js';
import { EngineError, type EngineErrorCode } from '../errors.js';
import type { EndpointEvent } from '../events.js';
import { randomU32 } from '../random.js';
import type { RandomSource } from '../random.js';
import type { SchedulerFactory } from '../sched/scheduler.js';
import type { SentSegment } from '../subflow/sent-segment.js';
import { dsnOf, offsetOfDsn } from '../subflow/seq.js';
import { subflowConfig } from '../subflow/subflow-config.js';
import { Subflow, type DssMapping, type OutgoingContext, type SubflowCloseReason, type SubflowOwner, type SubflowView } from '../subflow/subflow.js';
import { TimerTable } from '../timer.js';
import { capableFlagsUsable } from '../wire/mptcp/capable.js';
import { CapableFlag, TCPRST_TRANSIENT, TcpRstReason, type AddAddr, type Dss, type MpCapable } from '../wire/mptcp/option.js';
import type { TcpOption } from '../wire/tcp-option.js';
import { TcpFlag, type TcpSegment } from '../wire/tcp-segment.js';
import { Addresses, type PeerAddress } from './addresses.js';
import { CONNECTION_TIMER_KINDS, ConnectionTimer } from './connection-timer.js';
import { Fallback } from './fallback.js';
import { Handshake } from './handshake.js';
import { OptionBuilder, mptcp } from './options.js';
import { ReceivePath } from './receive-path.js';
import { SendPath } from './send-path.js';

/** An address as the driver knows it: host text and transport port. */
export interface Address {
  host: string;
  port: number;
}

/** What a connection needs of the endpoint that owns it. */
export interface ConnectionHost {
  readonly config: ResolvedConfig;
  readonly random: RandomSource;
  /** The endpoint-wide budget of buffered bytes every connection reports to. */
  readonly budget: BufferBudget;
  emit(ev: EndpointEvent): void;
  /** A subflow came into being or went away: keep the demultiplexing table in step. */
  registerSubflow(conn: Connection, sf: Subflow): void;
  unregisterSubflow(conn: Connection, sf: SubflowView): void;
  /** A fresh local port for a new subflow on a path. */
  allocatePort(pathId: number): number;
  pathAddresses(pathId: number): { local: Address; remote: Address; mss: number; sendMss: number; reliable: boolean; authenticated: boolean } | undefined;
  connectionClosed(conn: Connection): void;
  /** The connection has segments to send. */
  wake(conn: Connection): void;
  /** The connection's state may change now: read its next deadline again afterwards. */
  touch(conn: Connection): void;
  /** Bytes it may still send to a source not yet proven real (anti-amplification); undefined: no limit. */
  replyCredit(conn: Connection): number | undefined;
  /** A subflow's retransmission timer fired and it is potentially failed (RFC 8684 §3.3.6): its path may be stalled. */
  subflowTimedOut(sf: Subflow, now: number): void;
}

export type ConnectionState = 'connecting' | 'established' | 'closed';

const MAX_SUBFLOWS = 32;
/**
 * Joins answered but not yet proven by the third ACK's HMAC (RFC 8684 §3.2). A token is all
 * it takes to make one, and tokens travel in clear on unsealed paths, so only a few may wait
 * at once; a new one pushes out the oldest, and an honest join still gets through a flood.
 */
const MAX_PENDING_JOINS = 4;
/**
 * Bytes each connection may hold each way whatever the endpoint's buffer budget says, so a
 * new connection (a tunnel's request and reply) is never locked out by stalled ones.
 */
const BUDGET_FLOOR = 64 * 1024;
/** How long closed-at-data-level connections wait for the subflow FIN exchange. */
const CLOSE_LINGER_MS = 3000;
/**
 * How long a connection whose last subflow went with its address (REMOVE_ADDR) waits for a
 * new subflow: the peer moving to another address (break-before-make) joins within this.
 */
const NO_SUBFLOW_WAIT_MS = 30_000;
/**
 * How long a connection that fell back on unmapped data waits, with neither side moving
 * data, for the peer to follow (RFC 8684 §3.7). Linux answers MP_FAIL with an infinite
 * mapping only on its next new data: a peer that had sent everything already never does,
 * its DATA_FIN stays stripped, and the connection could never end. So it is reset.
 */
const FALLBACK_ANSWER_WAIT_MS = 3000;
/** How often that wait looks whether data moved. */
const FALLBACK_ANSWER_CHECK_MS = 250;

/**
 * One MPTCP connection (RFC 8684): the coordinator of its subflows and of the parts that
 * own the connection's state: Handshake (§3.1, §3.2), Addresses (§3.4, MP_PRIO §3.3.8),
 * Fallback (§3.7), SendPath (§3.3 send side, §3.3.6 reinjection), ReceivePath (§3.3 receive
 * side) and OptionBuilder (the options on each segment). It dispatches input to them, runs
 * the connection's life cycle (establishment, DATA_FIN close §3.3.3, MP_FASTCLOSE §3.5,
 * MP_TCPRST §3.6) and its timers. The parts never call back into it.
 */
export class Connection implements SubflowOwner, CcGroup {
  private current: ConnectionState = 'connecting';
  /** Server, unauthenticated path: the application hears of this connection once it is up. */
  private incomingDeferred = false;
  /** The peer withdrew the address of our last subflow: wait for a new one (RFC 8684 §3.4.2). */
  private awaitingSubflow = false;
  /** The peer's port of the first subflow: joins use it when no subflow is left to copy it from. */
  private peerPort = 0;
  /** While we wait for the peer to follow our fallback: RCV.NXT and our unacknowledged bytes when data last moved, and when. */
  private fallbackMark = { rcvNxt: 0, buffered: 0, at: 0 };
  private readonly handshake: Handshake;
  private readonly addresses = new Addresses();
  private readonly fallbackPart: Fallback;
  private readonly send: SendPath;
  private readonly receive: ReceivePath;
  private readonly options: OptionBuilder;
  private readonly timers = new TimerTable<ConnectionTimer>(CONNECTION_TIMER_KINDS);
  private readonly subflowList: Subflow[] = [];
  private nextSubflowId = 1;
  private readonly ccFactory: CcFactory;
  private ccMembers: CcMember[] = [];
  private closeError: EngineError | undefined;
  /** Bytes reported to the endpoint's buffer budget as held: send buffer plus receive buffer. */
  private budgeted = 0;
  /** Bytes reported as offered: what receive windows already given still let the peer send. */
  private budgetOffered = 0;
  /** Highest connection offset a receive window we offered reached (RFC 8684 §3.3.4). */
  private offeredRight = 0;
  /** The longest round trip of the live subflows as their data arrives (receive-buffer auto-tuning), 0 when none is known. */
  private readonly longestReceiveRtt = (): number => {
    let rtt = 0;
    for (const sf of this.subflowList) if (sf.state === 'established' && !sf.potentiallyFailed) rtt = Math.max(rtt, sf.receiveRtt);
    return rtt;
  };
  /** Counted among the budget's members (from establishment until closed). */
  private budgetMember = false;
  /** A budget this connection shares with others besides the endpoint's (one client's connections). */
  private group: BufferBudget | null = null;
  /** Wakes a writer that the budget held back. */
  private readonly budgetWake = (): void => {
    if (this.current !== 'closed') this.host.emit({ type: 'writable', connection: this });
  };
  /** Latest time seen from the driver. */
  private clock: number;
  private pendingResets: Array<{ sf: Subflow; options: TcpOption[] }> = [];

  constructor(
    readonly id: number,
    private readonly host: ConnectionHost,
    readonly isClient: boolean,
    now: number,
    scheduler?: SchedulerFactory,
    congestionControl?: CcFactory,
  ) {
    const cfg = host.config;
    this.ccFactory = congestionControl ?? cfg.congestionControl;
    this.fallbackPart = new Fallback(cfg.checksums);
    this.receive = new ReceivePath(cfg.receiveBufferStart, cfg.receiveBuffer);
    // RFC 8684 §3.1: the token identifies the connection at the listener; the endpoint draws again if it is taken.
    this.handshake = new Handshake(host.random ? randomKey(host.random) : 0n);
    this.send = new SendPath(this.subflowList, cfg, this.fallbackPart, this.timers, (scheduler ?? cfg.scheduler)());
    this.options = new OptionBuilder(isClient, cfg, this.handshake, this.addresses, this.fallbackPart, this.send, this.receive);
    this.timers.derive(ConnectionTimer.Subflows, () => {
      let t = Infinity;
      for (const sf of this.subflowList) {
        const d = sf.nextDeadline();
        if (d < t) t = d;
      }
      return t;
    });
    this.timers.derive(ConnectionTimer.AddAddr, () => this.addresses.nextDeadline());
    this.clock = now;
    this.armIdle(now);
  }

  // --- Read-only views ----------------------------------------------------------------------

  get state(): ConnectionState {
    return this.current;
  }

  /** Plain TCP after the peer never echoed MP_CAPABLE, or after MP_FAIL (RFC 8684 §3.7). */
  get fallback(): boolean {
    return this.fallbackPart.active;
  }

  /** DSS checksums in use (RFC 8684 §3.3.1). */
  get checksums(): boolean {
    return this.fallbackPart.checksums;
  }

  /** Client: the server set the C bit (RFC 8684 §3.1): joins go only to addresses it announced. */
  get joinsToInitialAddressRefused(): boolean {
    return this.handshake.peerRefusesJoinsToInitialAddress;
  }

  get localKey(): bigint {
    return this.handshake.localKey;
  }

  get localToken(): number {
    return this.handshake.localToken;
  }

  get remoteKey(): bigint | null {
    return this.handshake.remoteKey;
  }

  get remoteToken(): number {
    return this.handshake.remoteToken;
  }

  /** Data acknowledged by the peer's DATA_ACK, as a connection offset. */
  get sndUna(): number {
    return this.send.sndUna;
  }

  /** Mapped data that fell outside the receive window and was dropped. */
  get outOfWindowDrops(): number {
    return this.receive.outOfWindowDrops;
  }

  /** Segments sent again on a faster subflow to unblock the receive window. */
  get opportunisticRetransmissions(): number {
    return this.send.opportunisticRetransmissions;
  }

  /** Copies of data the peer acknowledged on a subflow but dropped before its DATA_ACK. */
  get dataLevelRetransmissions(): number {
    return this.send.dataLevelRetransmissions;
  }

  get readableBytes(): number {
    return this.receive.readableBytes;
  }

  /** Bytes written and not yet acknowledged by the peer. */
  get bufferedBytes(): number {
    return this.send.bufferedBytes;
  }

  /** What bufferedBytes may reach: the send buffer (EndpointConfig.sendBuffer). */
  get sendBufferLimit(): number {
    return this.send.sendLimit;
  }

  get peakReceiveBuffered(): number {
    return this.receive.peakBuffered;
  }

  /** Connection id for the application (RFC 6897 TCP_MULTIPATH_CONNID): our token. */
  get token(): number {
    return this.handshake.localToken;
  }

  /** The live subflows, read-only: change them through the connection's commands. */
  subflows(): readonly SubflowView[] {
    return this.subflowList;
  }

  /** Addresses the peer has announced and not withdrawn. */
  peerAddressList(): PeerAddress[] {
    return this.addresses.peerList();
  }

  /** Why the connection ended, if it did with an error. */
  get error(): EngineErrorCode | undefined {
    return this.closeError?.code;
  }

  // --- The application's side ----------------------------------------------------------

  /** Queue bytes for sending; returns how many were taken (the rest: wait for 'writable'). */
  write(data: Uint8Array): number {
    this.host.touch(this);
    if (this.current === 'closed') return 0;
    // A full endpoint budget takes no more than the connection's floor; 'writable' follows
    // once bytes are given back.
    const room = Math.max(this.budgetRoom(), BUDGET_FLOOR - this.send.bufferedBytes);
    const n = this.send.write(room < data.length ? data.subarray(0, room) : data);
    if (n < data.length && room < data.length) {
      this.host.budget.waitForRoom(this.budgetWake);
      this.group?.waitForRoom(this.budgetWake);
    }
    this.reportBuffered();
    if (n > 0) this.host.wake(this);
    return n;
  }

  /** Up to `max` bytes in order, or null when nothing is buffered. */
  read(max?: number): Uint8Array | null {
    this.host.touch(this);
    const { data, windowOpened } = this.receive.read(max, this.clock, this.longestReceiveRtt);
    this.reportBuffered();
    // RFC 8684 §3.3.4: announce a window that opened by a good share.
    if (windowOpened) this.requestAck();
    return data;
  }

  /** Half-close: send DATA_FIN after the buffered data (RFC 8684 §3.3.3). */
  shutdown(): void {
    this.host.touch(this);
    if (this.current === 'closed') return;
    if (this.send.shutdown()) this.host.wake(this);
  }

  /** Abort at once: MP_FASTCLOSE on every subflow (RFC 8684 §3.5). */
  abort(now: number, error = new EngineError('ERR_MPTUN_ABORTED', 'connection aborted by the application')): void {
    this.host.touch(this);
    if (this.current === 'closed') return;
    const remoteKey = this.handshake.remoteKey;
    for (const sf of this.subflowList) {
      if (sf.state === 'closed') continue;
      const opts: TcpOption[] = [];
      if (remoteKey !== null && !this.fallbackPart.active) opts.push(mptcp({ type: 'mp-fastclose', receiverKey: remoteKey }));
      this.pendingResets.push({ sf, options: opts });
    }
    this.finish(now, error);
    this.host.wake(this);
  }

  /** Mark one of our subflows backup or not and tell the peer (MP_PRIO, RFC 8684 §3.3.8). */
  setBackup(subflowId: number, backup: boolean): void {
    this.host.touch(this);
    const sf = this.subflowList.find((s) => s.id === subflowId);
    if (!sf || sf.backup === backup) return;
    sf.setBackup(backup);
    this.addresses.prioChanged(sf);
    sf.requestAck();
    this.host.wake(this);
  }

  /**
   * Announce one of our addresses to the peer (ADD_ADDR with HMAC, RFC 8684 §3.4.1), sent
   * again until the peer echoes it. `port` is the transport port when it differs.
   */
  announceAddress(addressId: number, host: string, port?: number): boolean {
    this.host.touch(this);
    const remoteKey = this.handshake.remoteKey;
    if (remoteKey === null || this.fallbackPart.active) return false;
    if (!this.addresses.announce(addressId, host, port, this.handshake.localKey, remoteKey)) return false;
    this.requestAck();
    return true;
  }

  /** Withdraw addresses (REMOVE_ADDR, RFC 8684 §3.4.2). */
  withdrawAddresses(addressIds: readonly number[]): void {
    this.host.touch(this);
    if (this.fallbackPart.active || addressIds.length === 0) return;
    this.addresses.withdraw(addressIds);
    this.requestAck();
  }

  /** Close one subflow (with MP_TCPRST, RFC 8684 §3.6) while the connection carries on. */
  closeSubflow(now: number, subflowId: number, reason: number = TcpRstReason.UNSPECIFIED): void {
    this.host.touch(this);
    const sf = this.subflowList.find((s) => s.id === subflowId);
    if (!sf || sf.state === 'closed') return;
    this.pendingResets.push({ sf, options: this.fallbackPart.active ? [] : [mptcp({ type: 'mp-tcprst', flags: 0, reason })] });
    sf.terminate('closed', now);
    this.host.wake(this);
  }

  // --- Opening (RFC 8684 §3.1, §3.2) ----------------------------------------------------------

  /** Client: start the initial subflow on `pathId`, optionally with 0-RTT data. */
  open(now: number, pathId: number, remotePort: number, extraPaths: readonly number[]): void {
    this.host.touch(this);
    this.peerPort = remotePort;
    const sf = this.newSubflow(pathId, this.host.allocatePort(pathId), remotePort, true, true, now);
    this.assignAddressId(sf, pathId, true);
    // The first bytes ride the SYN when there are any (RFC 8803 puts the target there).
    const synData = this.host.config.synData ? this.send.takeSynData(sf.mss) : null;
    if (synData) sf.setSynData(0, synData);
    this.handshake.start(pathId, extraPaths, synData);
    this.host.wake(this);
  }

  /**
   * Client: the SYN on one path went unanswered (lost, or the path died without notice), so
   * another MP_CAPABLE SYN with the same key and 0-RTT bytes leaves on the next planned path.
   * Each is a separate handshake to the server; the first SYN/ACK wins and the others are
   * reset (settleRace). A dead first path then costs one initial RTO, not the whole backoff.
   */
  onHandshakeRetry(sf: Subflow, now: number): void {
    if (!this.isClient || this.current !== 'connecting' || !sf.isInitial || !this.host.config.raceHandshake) return;
    const pathId = this.handshake.claimRacePath();
    if (pathId === undefined) return;
    let port: number;
    try {
      port = this.host.allocatePort(pathId);
    } catch {
      return; // no free port on that path
    }
    const racer = this.newSubflow(pathId, port, sf.remotePort, true, true, now);
    racer.setAddressIds(0, racer.remoteAddressId); // the address id map is settled by the winner
    const synData = this.handshake.synData;
    if (synData) racer.setSynData(0, synData);
    this.host.wake(this);
  }

  /** Client: `winner`'s SYN/ACK came first. The other SYNs' handshakes are reset; their paths are joined later instead. */
  private settleRace(now: number, winner: Subflow): void {
    this.handshake.dropSynData();
    const losers = this.subflowList.filter((s) => s !== winner && s.isInitial && s.state === 'syn-sent');
    if (losers.length === 0 && !this.handshake.raced) return;
    // RFC 8684 §3.2: the initial subflow's address has id 0; it is the winner's.
    this.addresses.resetIds();
    this.assignAddressId(winner, winner.pathId, true);
    this.handshake.settleRace(winner.pathId);
    for (const l of losers) {
      this.pendingResets.push({ sf: l, options: [] });
      l.terminate('closed', now);
    }
  }

  /** Client: add a subflow over another path (MP_JOIN, RFC 8684 §3.2). */
  join(now: number, pathId: number, backup = false): SubflowView | null {
    this.host.touch(this);
    // An MP_JOIN before the server holds our key would be refused (and one on a faster path
    // can overtake the third ACK): joins wait until the server has shown it has the key.
    if (this.current === 'connecting' || (this.current === 'established' && this.isClient && !this.handshake.peerHasKeys && !this.fallbackPart.active)) {
      this.handshake.deferJoin(pathId, backup, this.current === 'connecting');
      return null;
    }
    if (this.current !== 'established' || this.fallbackPart.active || this.handshake.remoteKey === null) return null;
    if (this.subflowList.filter((s) => s.state !== 'closed').length >= MAX_SUBFLOWS) return null;
    if (this.handshake.joinRefusedTo(this.host.pathAddresses(pathId)?.remote)) return null; // RFC 8684 §3.1 C bit
    const initial = this.subflowList[0];
    let port: number;
    try {
      port = this.host.allocatePort(pathId);
    } catch {
      return null; // the path has no free port (a fixed-port path already carries its subflow)
    }
    const sf = this.newSubflow(pathId, port, initial ? initial.remotePort : this.peerPort, true, false, now);
    sf.setBackup(backup);
    this.assignAddressId(sf, pathId, false);
    this.handshake.setNonces(sf, randomU32(this.host.random), 0);
    this.host.wake(this);
    return sf;
  }

  private startPendingJoins(now: number): void {
    if (!this.isClient || this.current !== 'established' || (!this.handshake.peerHasKeys && !this.fallbackPart.active)) return;
    for (const j of this.handshake.takePendingJoins()) this.join(now, j.pathId, j.backup);
  }

  /** Server: the SYN that opens this connection. */
  acceptSyn(now: number, pathId: number, seg: TcpSegment, capable: MpCapable | null): void {
    this.host.touch(this);
    const sf = this.newSubflow(pathId, seg.dstPort, seg.srcPort, false, true, now);
    this.assignAddressId(sf, pathId, true);
    if (!capable) {
      this.fallbackPart.enterAtHandshake(sf);
    } else if (capable.flags & CapableFlag.CHECKSUM) {
      this.fallbackPart.enableChecksums();
    }
    this.send.setPeerWindow(seg.window); // RFC 7323 §2.2: never scaled on a SYN
    const authenticated = this.host.pathAddresses(pathId)?.authenticated ?? false;
    if (authenticated) {
      // Announced now, not at establishment, so data that rode the SYN is usable at once (0-RTT).
      this.host.emit({ type: 'incoming', connection: this });
    } else {
      // A spoofable source: nothing reaches the application before the third ACK proves the
      // peer saw our SYN/ACK (and, with MPTCP, echoed our key). SYN data is left unacknowledged,
      // so the client sends it again right after the handshake (RFC 7413 §4.2 without a cookie).
      this.incomingDeferred = true;
    }
    sf.onSyn(now, seg, this.host.config.synData && authenticated ? 0 : null);
    this.host.wake(this);
  }

  /** Server: a SYN with MP_JOIN whose token named this connection. */
  acceptJoin(now: number, pathId: number, seg: TcpSegment, join: { backup: boolean; addressId: number; nonce: number }): SubflowView | null {
    this.host.touch(this);
    if (this.current !== 'established' || this.fallbackPart.active) return null;
    const pending = this.subflowList.filter((s) => !s.isInitial && s.state === 'syn-received');
    // The oldest half-open join makes room; the T flag tells its sender it may try again (RFC 8684 §3.6).
    if (pending.length >= MAX_PENDING_JOINS) this.rejectSubflow(now, pending[0]!, TcpRstReason.LACK_OF_RESOURCES, true);
    if (this.subflowList.filter((s) => s.state !== 'closed').length >= MAX_SUBFLOWS) return null;
    const sf = this.newSubflow(pathId, seg.dstPort, seg.srcPort, false, false, now);
    sf.setPeerBackup(join.backup);
    sf.setAddressIds(sf.localAddressId, join.addressId);
    this.assignAddressId(sf, pathId, false);
    this.handshake.setNonces(sf, randomU32(this.host.random), join.nonce);
    sf.onSyn(now, seg, null);
    this.host.wake(this);
    return sf;
  }

  private newSubflow(pathId: number, localPort: number, remotePort: number, initiator: boolean, initial: boolean, now: number): Subflow {
    const sf = new Subflow(
      this.nextSubflowId++,
      pathId,
      localPort,
      remotePort,
      randomU32(this.host.random),
      initiator,
      initial,
      subflowConfig(this.host.config, this.host.pathAddresses(pathId)),
      this,
      this.ccFactory,
      this,
      now,
    );
    this.subflowList.push(sf);
    this.host.registerSubflow(this, sf);
    return sf;
  }

  private assignAddressId(sf: Subflow, pathId: number, initial: boolean): void {
    const addrs = this.host.pathAddresses(pathId);
    sf.setAddressIds(this.addresses.idFor(addrs ? addrs.local.host : `path${pathId}`, initial), sf.remoteAddressId);
  }

  // --- CcGroup ------------------------------------------------------------------------------

  members(): readonly CcMember[] {
    return this.ccMembers;
  }

  private refreshMembers(): void {
    this.ccMembers = this.subflowList
      .filter((s) => s.state === 'established')
      .map((s) => ({ path: s, controller: s.cc }));
  }

  // --- Input --------------------------------------------------------------------------------

  /** A segment for one of our subflows, already parsed. */
  onSegment(now: number, sf: Subflow, seg: TcpSegment): void {
    this.host.touch(this);
    if (this.current === 'closed') return;
    this.clock = now;
    const hs = this.handshake;
    let dss: Dss | null = null;
    let capable: MpCapable | null = null;
    for (const o of seg.options) {
      if (o.kind !== 'mptcp') continue;
      const m = o.option;
      switch (m.type) {
        case 'dss':
          dss = m;
          break;
        case 'mp-capable':
          if (capableFlagsUsable(m.flags)) capable = m; // RFC 8684 §3.1: H clear or B set is plain TCP
          break;
        case 'mp-fastclose':
          // RFC 8684 §3.5: only a peer that knows our key may close us this way.
          if (m.receiverKey === hs.localKey) {
            this.terminateAll(now, 'reset');
            this.finish(now, new EngineError('ERR_MPTUN_RESET', 'peer closed the connection (MP_FASTCLOSE)'));
            return;
          }
          break;
        case 'mp-fail':
          // RFC 8684 §3.7: the peer saw a checksum fail; continue as plain TCP from that DSN.
          if (!this.fallbackPart.active && sf.acceptsSequence(seg)) this.enterFallbackAfterFail(now, offsetOfDsn(hs.localIdsn, m.dsn, true, this.send.sndUna));
          break;
        case 'mp-prio':
          if (sf.peerBackup !== m.backup && sf.acceptsSequence(seg)) {
            sf.setPeerBackup(m.backup);
            this.host.emit({ type: 'subflow-change', connection: this, subflowId: sf.id });
          }
          break;
        case 'mp-join-synack':
          // Meaningful only on our MP_JOIN SYN's answer; anywhere else it is ignored.
          if (sf.isInitial || sf.state !== 'syn-sent' || !(seg.flags & TcpFlag.SYN)) break;
          if (!hs.checkJoinSynAck(sf, m.hmac, m.nonce)) {
            this.rejectSubflow(now, sf);
            return;
          }
          // RFC 8684 §3.2: the listener proved it knows both keys; take its flags.
          sf.setPeerBackup(m.backup);
          sf.setAddressIds(sf.localAddressId, m.addressId);
          break;
        case 'mp-join-ack':
          if (sf.state === 'syn-received' && !hs.checkJoinAck(sf, m.hmac)) {
            this.rejectSubflow(now, sf);
            return;
          }
          break;
        case 'add-addr':
          this.onAddAddr(now, sf, m);
          break;
        case 'remove-addr':
          if (sf.acceptsSequence(seg)) this.onRemoveAddr(now, m.addressIds);
          break;
        default:
          break;
      }
    }

    const isSyn = (seg.flags & TcpFlag.SYN) !== 0;
    // The handshake's MPTCP part (RFC 8684 §3.1), once the SYN/ACK is known to answer our SYN.
    if (sf.isInitial && sf.answersSyn(seg)) {
      this.settleRace(now, sf);
      this.send.widenPeerWindow(seg.window);
      if (capable && capable.senderKey !== undefined && capable.version === 1) {
        hs.learnRemoteKey(capable.senderKey);
        if (capable.flags & CapableFlag.CHECKSUM) this.fallbackPart.enableChecksums();
        const reached = this.host.pathAddresses(sf.pathId)?.remote;
        if (capable.flags & CapableFlag.NO_JOIN_TO_SOURCE && reached) hs.notePeerRefusesJoinsTo(reached);
      } else if (this.host.config.allowFallback) {
        this.fallbackPart.enterAtHandshake(sf);
      } else {
        this.pendingResets.push({ sf, options: [] });
        this.finish(now, new EngineError('ERR_MPTUN_HANDSHAKE', 'peer does not speak MPTCP and fallback is off'));
        this.host.wake(this);
        return;
      }
    }
    if (!sf.isInitial && sf.state === 'syn-sent' && isSyn && !seg.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-join-synack')) {
      this.rejectSubflow(now, sf); // a SYN/ACK to MP_JOIN must carry MP_JOIN (RFC 8684 §3.2)
      return;
    }
    const isRst = (seg.flags & TcpFlag.RST) !== 0;
    if (sf.isInitial && sf.state === 'syn-received' && !this.fallbackPart.active && !isSyn && !isRst) {
      // The server learns the client's key from the third ACK; nothing is accepted before it
      // but a RST (checked against the window by the subflow, RFC 5961 §3.2).
      if (hs.remoteKey === null) {
        if (!capable || capable.receiverKey !== hs.localKey || capable.senderKey === undefined) return;
        hs.learnRemoteKey(capable.senderKey);
      }
    }
    if (!sf.isInitial && sf.state === 'syn-received' && !isSyn) {
      // An MP_JOIN subflow is not established until its third ACK's HMAC checked out.
      const ok = seg.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-join-ack');
      if (!ok) return;
    }
    if (!dss && capable) {
      const implied = this.capableDataMapping(sf, capable);
      if (implied === 'forged') return;
      dss = implied;
    }
    if (dss && dss.mapping && dss.mapping.length === 0 && !dss.dataFin && hs.remoteKey !== null) {
      // An infinite mapping (RFC 8684 §3.7): subflow bytes are data bytes from here on.
      const off = this.receive.offsetOf(hs.remoteIdsn, dss.mapping.dsn, dss.mapping.dsn64);
      sf.addInfiniteMapping(dss.mapping.subflowSeq, off);
      if (!this.fallbackPart.active) this.enterFallbackAfterFail(now, this.send.sndUna); // our side's mapping starts at what is unacknowledged
      else this.fallbackPart.peerFollowed();
      sf.onSegment(now, seg, null);
    } else if (dss && hs.remoteKey !== null && (!this.fallbackPart.active || dss.mapping)) {
      // After a fallback the peer's data sent before it fell back still carries mappings.
      if (this.applyDss(now, sf, seg, dss)) return;
    } else {
      // No DSS: the window is relative to what the peer last acknowledged (RFC 8684 §3.3.4).
      if (!isSyn && sf.state !== 'syn-sent') this.send.widenPeerWindow(this.send.sndUna + sf.scaleWindow(seg.window));
      sf.onSegment(now, seg, null);
    }
    // A mapping that spanned segments, completed now, failed its checksum (RFC 8684 §3.3.1).
    // After a fallback there is nothing left to ask for: the bytes are dropped, that is all.
    const failedDsn = sf.takeChecksumFailure();
    if (failedDsn !== null && !this.fallbackPart.active) this.onChecksumFailure(now, sf, failedDsn);
    if (seg.payload.length > 0 && this.checkUnmapped(now, sf)) return;
    this.afterInput(now, sf);
  }

  /**
   * RFC 8684 §3.7: data that no mapping covers once MPTCP is running (a middlebox stripped
   * the DSS mid-connection). Every data segment we send carries its own mapping, so such
   * bytes never become usable by waiting. One subflow among others is reset (its data goes
   * elsewhere); a lone subflow whose bytes continue the data stream falls back to TCP (they
   * are mapped from there on, and our own data goes under an infinite mapping); otherwise
   * the connection cannot go on and is reset (true: the connection is closed).
   */
  private checkUnmapped(now: number, sf: Subflow): boolean {
    const { rel, bytes } = sf.unmapped;
    if (bytes === 0 || this.fallbackPart.active || this.current !== 'established' || sf.state !== 'established') return false;
    if (this.subflowList.some((s) => s !== sf && s.state !== 'closed')) {
      this.rejectSubflow(now, sf, TcpRstReason.MIDDLEBOX_INTERFERENCE);
    } else if (!this.receive.hasOutOfOrder) {
      const from = this.receive.rcvNxt;
      sf.addMapping({ rel, dataOffset: from, len: Infinity });
      this.enterFallbackAfterFail(now, this.send.sndUna, dsnOf(this.handshake.remoteIdsn, from));
    } else {
      this.abort(now, new EngineError('ERR_MPTUN_PROTOCOL', 'data without a mapping that fallback cannot place (RFC 8684 §3.7)'));
      return true;
    }
    return false;
  }

  /**
   * RFC 8684 §3.1: the initiator's first data may ride an MP_CAPABLE ACK with a Data-Level
   * Length instead of a DSS. Its mapping is implied: the connection's first data byte
   * (IDSN+1) at subflow sequence 1, for that length. Only the connection's own keys count:
   * with others the segment is dropped ('forged'), not taken for unmapped data.
   */
  private capableDataMapping(sf: Subflow, capable: MpCapable): Dss | null | 'forged' {
    const hs = this.handshake;
    if (this.isClient || !sf.isInitial || capable.dataLength === undefined || hs.remoteKey === null) return null;
    if (capable.senderKey !== hs.remoteKey || capable.receiverKey !== hs.localKey) return 'forged';
    const mapping = { dsn: dsnOf(hs.remoteIdsn, 0), dsn64: true, subflowSeq: 1, length: capable.dataLength };
    return { type: 'dss', dataAck64: true, dataFin: false, mapping: capable.checksum === undefined ? mapping : { ...mapping, checksum: capable.checksum } };
  }

  /** Data ACK, window, mapping and DATA_FIN of one DSS option (RFC 8684 §3.3). Returns true when the segment was dropped. */
  private applyDss(now: number, sf: Subflow, seg: TcpSegment, dss: Dss): boolean {
    if (dss.dataAck !== undefined) {
      const ack = offsetOfDsn(this.handshake.localIdsn, dss.dataAck, dss.dataAck64, this.send.sndUna);
      this.peerHoldsKeys(now, sf);
      if (this.send.acceptsDataAck(ack)) this.onDataAck(now, ack);
      // RFC 8684 §3.3.4: the window field is relative to the data ACK.
      if (ack >= this.send.sndUna - 1) this.send.widenPeerWindow(ack + sf.scaleWindow(seg.window));
    }
    let mapping: DssMapping | null = null;
    const m = dss.mapping;
    if (m) {
      const off = this.receive.offsetOf(this.handshake.remoteIdsn, m.dsn, m.dsn64);
      let len = m.length;
      if (dss.dataFin) {
        // RFC 8684 §3.3.3: the DATA_FIN takes one octet at the end of the mapping. Like the
        // other signals that change the connection, it counts only on a segment inside the
        // subflow's window, so a blind injector cannot end the stream.
        if (sf.acceptsSequence(seg)) this.receive.setPeerFin(off + len - 1);
        len -= 1;
      }
      if (len > 0 && m.subflowSeq !== 0) {
        if (this.fallbackPart.checksums && m.checksum === undefined) {
          // RFC 8684 §3.3.1: with checksums negotiated, a mapping without one is not valid and
          // its subflow is closed with a RST.
          this.rejectSubflow(now, sf);
          return true;
        }
        mapping = { subflowSeq: m.subflowSeq, dataOffset: off, len };
        if (this.fallbackPart.checksums && m.checksum !== undefined) {
          const whole = seg.payload.length === len;
          if (whole && dssChecksum(m.dsn, m.subflowSeq, m.length, seg.payload) !== m.checksum) {
            // The segment holds the whole mapping and it fails: dropped unacknowledged, so
            // the sender sends it again (RFC 8684 §3.7).
            this.onChecksumFailure(now, sf, m.dsn);
            return true;
          }
          // A mapping that spans segments, or whose bytes the subflow may take from another
          // copy (this segment is not the next in order), is checked again by the subflow
          // over the bytes it actually delivers, all of them held back until then.
          if (!whole || !sf.isNextInOrder(seg, m.subflowSeq)) mapping.check = { dsn: m.dsn, subflowSeq: m.subflowSeq, length: m.length, checksum: m.checksum };
        }
      }
    }
    sf.onSegment(now, seg, mapping);
    this.checkPeerFin(now);
    return false;
  }

  /**
   * The peer showed it holds our key (a DSS data ACK, or an ADD_ADDR whose HMAC needs both
   * keys): our ACKs stop repeating MP_CAPABLE (RFC 8684 §3.1), which frees their option room.
   */
  private peerHoldsKeys(now: number, sf: Subflow): void {
    if (!this.handshake.markPeerHasKeys()) return;
    // A DATA_FIN that waited for room (our ACKs carried the key until now) can go.
    if (this.send.bareFinPending) sf.requestAck();
    this.startPendingJoins(now);
  }

  /** After a subflow processed input: handshake results, closes, peer FIN. */
  private afterInput(now: number, sf: Subflow): void {
    // Plain TCP: the FIN is the end of the stream.
    if (this.fallbackPart.active && sf.peerFinReceived) this.receive.peerFinAtRcvNxt();
    this.checkPeerFin(now);
    this.maybeFinishClose(now);
    this.host.wake(this);
  }

  private checkPeerFin(now: number): void {
    if (this.receive.reachEnd(this.fallbackPart.active)) {
      this.host.emit({ type: 'end', connection: this });
      for (const s of this.subflowList) s.requestAck();
      this.maybeFinishClose(now);
    }
  }

  private onDataAck(now: number, ack: number): void {
    this.armIdle(now);
    if (this.send.acknowledge(ack)) this.host.emit({ type: 'writable', connection: this });
    this.reportBuffered();
    this.maybeFinishClose(now);
  }

  private onAddAddr(now: number, sf: Subflow, m: AddAddr): void {
    const remoteKey = this.handshake.remoteKey;
    if (remoteKey === null || this.fallbackPart.active) return;
    const { echo, added } = this.addresses.onAddAddr(m, this.handshake.localKey, remoteKey);
    if (echo) {
      // The announcement may ride an ACK without DSS (Linux sends it so): its HMAC is the proof.
      if (this.isClient) this.peerHoldsKeys(now, sf);
      sf.requestAck();
    }
    if (added) this.host.emit({ type: 'address-added', connection: this, ...added });
  }

  private onRemoveAddr(now: number, ids: readonly number[]): void {
    const gone = this.addresses.onRemoveAddr(ids, (id) => this.subflowList.some((s) => s.remoteAddressId === id));
    // RFC 8684 §3.4.2: subflows to a removed address are closed, with a RST (MP_TCPRST, §3.6)
    // so the peer's end of them does not linger. The last one too: the peer said its address
    // is gone, so the connection waits a while for the peer to join from another one.
    const removed = this.subflowList.filter((sf) => ids.includes(sf.remoteAddressId) && sf.state !== 'closed');
    if (removed.length > 0 && this.subflowList.every((sf) => sf.state === 'closed' || removed.includes(sf))) this.awaitingSubflow = true;
    for (const sf of removed) this.closeSubflow(now, sf.id);
    if (gone.length > 0) this.host.emit({ type: 'address-removed', connection: this, addressIds: gone });
  }

  /** Refuse or end a subflow: RST with MP_TCPRST (RFC 8684 §3.6); `transient` sets its T flag. */
  private rejectSubflow(now: number, sf: Subflow, reason: number = TcpRstReason.MPTCP_ERROR, transient = false): void {
    this.pendingResets.push({ sf, options: [mptcp({ type: 'mp-tcprst', flags: transient ? TCPRST_TRANSIENT : 0, reason })] });
    sf.terminate('reset', now);
    this.host.wake(this);
  }

  /**
   * RFC 8684 §3.7: a DSS checksum failed. With other subflows the damaged one is reset and
   * its data goes elsewhere; a lone subflow asks the sender (MP_FAIL) to fall back to TCP.
   */
  private onChecksumFailure(now: number, sf: Subflow, dsn: bigint): void {
    const others = this.subflowList.some((s) => s !== sf && s.state === 'established');
    if (others) {
      this.rejectSubflow(now, sf, TcpRstReason.MIDDLEBOX_INTERFERENCE);
    } else if (this.fallbackPart.requestFail(dsn)) {
      sf.requestAck();
    }
    this.host.wake(this);
  }

  /** Continue as plain TCP over the one remaining subflow, data from `from` on unmapped (RFC 8684 §3.7). */
  private enterFallbackAfterFail(now: number, from: number, tellPeer: bigint | null = null): void {
    this.fallbackPart.enterAfterFail(from, tellPeer);
    if (tellPeer !== null) this.awaitFallbackAnswer(now);
    const keep = this.subflowList.find((s) => s.state === 'established');
    for (const s of [...this.subflowList]) if (s !== keep) s.terminate('reset', now);
    this.host.wake(this);
  }

  private awaitFallbackAnswer(now: number): void {
    this.markFallbackProgress(now);
    this.timers.set(ConnectionTimer.FallbackAnswer, now + FALLBACK_ANSWER_CHECK_MS);
  }

  private markFallbackProgress(now: number): void {
    this.fallbackMark = { rcvNxt: this.receive.rcvNxt, buffered: this.send.bufferedBytes, at: now };
  }

  // --- SubflowOwner -------------------------------------------------------------------------

  mptcpOptions(sf: Subflow, ctx: OutgoingContext): TcpOption[] {
    return this.options.build(sf, ctx, this.clock);
  }

  replyCredit(): number | undefined {
    return this.host.replyCredit(this);
  }

  /**
   * Our free buffer, but no more than the window already offered plus this connection's
   * share of the budget's room (or its floor): windows offered together stay within the budget.
   */
  receiveWindow(): number {
    const rcvNxt = this.receive.rcvNxt;
    const offered = Math.max(0, this.offeredRight - rcvNxt);
    const share = this.group ? Math.min(this.host.budget.share, this.group.share) : this.host.budget.share;
    const window = Math.min(this.receive.window(), Math.max(offered + share, BUDGET_FLOOR - this.receive.bufferedBytes));
    if (rcvNxt + window > this.offeredRight) {
      this.offeredRight = rcvNxt + window;
      this.reportBuffered();
    }
    return window;
  }

  deliver(_sf: Subflow, dataOffset: number, data: Uint8Array): void {
    const added = this.receive.deliver(dataOffset, data);
    this.reportBuffered();
    if (added <= 0) return;
    this.armIdle(this.clock);
    if (this.receive.signalReadable()) this.host.emit({ type: 'readable', connection: this });
  }

  onEstablished(sf: Subflow, now: number): void {
    this.awaitingSubflow = false;
    this.timers.clear(ConnectionTimer.NoSubflow);
    if (this.incomingDeferred && sf.isInitial) {
      this.incomingDeferred = false;
      this.host.emit({ type: 'incoming', connection: this });
    }
    this.refreshMembers();
    // The listener now has the client's key: a DSS data ACK right away tells the client so
    // (it stops repeating its key, RFC 8684 §3.1) even if we have nothing left to send.
    if (!this.isClient && sf.isInitial) sf.requestAck();
    if (this.current === 'connecting') {
      this.current = 'established';
      // Only established connections share the budget's room: half-open ones (spoofed SYNs)
      // must not thin everyone's window.
      this.host.budget.join();
      this.group?.join();
      this.budgetMember = true;
      if (this.isClient) {
        this.host.emit({ type: 'connected', connection: this });
        this.startPendingJoins(now);
      }
    }
    this.host.emit({ type: 'subflow-up', connection: this, subflowId: sf.id });
    this.host.wake(this);
  }

  onAcked(_sf: Subflow, segments: readonly SentSegment[], now: number): void {
    if (!this.fallbackPart.active) return;
    // Plain TCP: the subflow's ACK is the data ACK.
    const top = this.send.fallbackAck(segments);
    this.fallbackPart.onAcked(segments);
    if (top > this.send.sndUna) this.onDataAck(now, top);
  }

  /**
   * The subflow's path reported its peer quiet, or heard again. A quiet subflow takes no new
   * data, and what it holds goes out on the others (RFC 8684 §3.3.6), as after an RTO: on a
   * WebSocket, whose subflows run no RTO, this is how data leaves a stalled path.
   */
  setSubflowQuiet(sf: Subflow, quiet: boolean): void {
    sf.setQuiet(quiet);
    if (quiet && this.subflowList.some((s) => s !== sf && s.state === 'established' && !s.potentiallyFailed)) this.send.rescue(sf);
    this.host.wake(this);
  }

  onRto(sf: Subflow, consecutive: number, now: number): void {
    // RFC 8684 §3.3.6: data stranded on a failing subflow goes out again on the others.
    if (consecutive === 1 && this.subflowList.some((s) => s !== sf && s.state === 'established')) this.send.rescue(sf);
    if (sf.potentiallyFailed) this.host.subflowTimedOut(sf, now);
  }

  onClosed(sf: Subflow, reason: SubflowCloseReason, now: number): void {
    this.refreshMembers();
    this.host.unregisterSubflow(this, sf);
    this.handshake.forget(sf);
    this.addresses.forget(sf);
    if (this.current !== 'closed') this.send.rescue(sf);
    if (this.current !== 'closed') this.host.emit({ type: 'subflow-down', connection: this, subflowId: sf.id, reason, peerReset: sf.peerReset ?? undefined });
    const alive = this.subflowList.filter((s) => s.state !== 'closed');
    const idx = this.subflowList.indexOf(sf);
    if (idx >= 0) this.subflowList.splice(idx, 1);
    if (this.current === 'closed') return;
    if (alive.length === 0) {
      if (this.closeComplete()) this.finish(now);
      else if (this.awaitingSubflow) {
        // Joins that fail meanwhile do not extend the wait.
        if (!this.timers.isArmed(ConnectionTimer.NoSubflow)) this.timers.set(ConnectionTimer.NoSubflow, now + NO_SUBFLOW_WAIT_MS);
      }
      else if (reason === 'reset') this.finish(now, new EngineError('ERR_MPTUN_RESET', 'peer reset the connection'));
      else if (reason === 'handshake-failed') this.finish(now, new EngineError('ERR_MPTUN_HANDSHAKE', 'the handshake did not complete'));
      else if (reason === 'path-gone') this.finish(now, new EngineError('ERR_MPTUN_NO_PATH', 'no path left for the connection'));
      else this.finish(now, new EngineError('ERR_MPTUN_TIMEOUT', 'every subflow timed out'));
    }
    this.host.wake(this);
  }

  // --- Output -------------------------------------------------------------------------------

  get hasPendingReset(): boolean {
    return this.pendingResets.length > 0;
  }

  /** The next RST this connection has queued (MP_TCPRST, MP_FASTCLOSE, a refused join), or null. */
  takeReset(): { sf: Subflow; seg: TcpSegment } | null {
    const r = this.pendingResets.shift();
    return r ? { sf: r.sf, seg: r.sf.buildReset(r.options) } : null;
  }

  /** The next segment to send and its path, or null. */
  poll(now: number): { sf: Subflow; seg: TcpSegment } | null {
    this.host.touch(this);
    const r = this.takeReset();
    if (r) return r;
    if (this.current === 'closed') return null;
    this.clock = now;
    const out = this.send.nextSegment(now, this.current === 'established');
    // Data handed to subflows makes room under sendUnsentLimit.
    if (this.send.takeWritable()) this.host.emit({ type: 'writable', connection: this });
    if (out) return out;
    this.reapFinished(now);
    return null;
  }

  private requestAck(): void {
    for (const sf of this.subflowList) if (sf.state === 'established') sf.requestAck();
    this.host.wake(this);
  }

  /** Earliest time this connection needs handleTimeout. */
  nextDeadline(): number {
    return this.timers.next();
  }

  /** Every expired timer, in ConnectionTimer order. */
  handleTimeout(now: number): void {
    this.host.touch(this);
    if (this.current === 'closed') return;
    this.clock = now;
    for (let kind = 0 as ConnectionTimer; kind < this.timers.kinds; kind++) {
      if (!this.timers.isDue(kind, now)) continue;
      switch (kind) {
        case ConnectionTimer.Idle:
          this.abort(now, new EngineError('ERR_MPTUN_IDLE', 'idle timeout'));
          return;
        case ConnectionTimer.Linger:
          // The peer never finished the subflow FIN exchange: the data is delivered, so close.
          this.timers.clear(ConnectionTimer.Linger);
          for (const sf of [...this.subflowList]) sf.terminate('closed', now);
          return;
        case ConnectionTimer.Subflows:
          for (const sf of [...this.subflowList]) if (sf.nextDeadline() <= now) sf.handleTimeout(now);
          break;
        case ConnectionTimer.Persist:
          this.send.onPersistTimer(now);
          break;
        case ConnectionTimer.AddAddr:
          if (this.addresses.onTimeout(now)) this.requestAck();
          break;
        case ConnectionTimer.BareFin:
          break; // poll() sends it again
        case ConnectionTimer.DataRetransmit:
          this.send.onDataRetransmitTimer(now);
          break;
        case ConnectionTimer.NoSubflow:
          this.finish(now, new EngineError('ERR_MPTUN_NO_PATH', 'no subflow came after the peer withdrew the last one\'s address'));
          return;
        case ConnectionTimer.FallbackAnswer:
          this.timers.clear(ConnectionTimer.FallbackAnswer);
          if (this.fallbackPart.mpFailDsn === null) break; // the peer followed
          if (this.receive.rcvNxt !== this.fallbackMark.rcvNxt || this.send.bufferedBytes !== this.fallbackMark.buffered) this.markFallbackProgress(now);
          // While data moves, the peer's next new data may bring its infinite mapping, or ours reach it.
          if (now - this.fallbackMark.at < FALLBACK_ANSWER_WAIT_MS || this.send.bufferedBytes > 0) {
            this.timers.set(ConnectionTimer.FallbackAnswer, now + FALLBACK_ANSWER_CHECK_MS);
            break;
          }
          this.abort(now, new EngineError('ERR_MPTUN_PROTOCOL', 'the peer did not follow the fallback to TCP: no infinite mapping came (RFC 8684 §3.7)'));
          return;
      }
    }
    this.host.wake(this);
  }

  wantsToSend(now: number): boolean {
    if (this.pendingResets.length > 0) return true;
    if (this.current === 'closed') return false;
    if (this.send.wantsToSend()) return true;
    for (const sf of this.subflowList) if (sf.wantsToSend(now)) return true;
    return false;
  }

  // --- Closing (RFC 8684 §3.3.3) ----------------------------------------------------------------

  private closeComplete(): boolean {
    return this.send.finAcked && this.receive.endReached;
  }

  /** RFC 8684 §3.3.3: once both DATA_FINs are acknowledged, close the subflows. */
  private maybeFinishClose(now: number): void {
    if (this.current === 'closed') return;
    if (!this.fallbackPart.active) {
      if (!this.closeComplete()) return;
      for (const sf of [...this.subflowList]) {
        if (sf.state === 'established') sf.close();
        else sf.terminate('closed', now); // still handshaking: nothing to close politely
      }
    }
    if (!this.timers.isArmed(ConnectionTimer.Linger) && this.closeComplete()) this.timers.set(ConnectionTimer.Linger, now + CLOSE_LINGER_MS);
  }

  /** Subflows whose FIN exchange is over leave once their last ACK is out. */
  private reapFinished(now: number): void {
    for (const sf of [...this.subflowList]) {
      if (sf.finished && !sf.wantsToSend(now) && (!this.fallbackPart.active || this.receive.endReached)) sf.terminate('closed', now);
    }
  }

  private terminateAll(now: number, reason: SubflowCloseReason): void {
    for (const sf of [...this.subflowList]) sf.terminate(reason, now);
  }

  /** Move to closed (once) and tell the application. */
  private finish(now: number, error?: EngineError): void {
    if (this.current === 'closed') return;
    this.current = 'closed';
    for (const b of this.group ? [this.host.budget, this.group] : [this.host.budget]) {
      if (this.budgetMember) b.leave(this.budgeted, this.budgetOffered, this.budgetWake);
      else b.change(-this.budgeted, -this.budgetOffered);
    }
    this.budgeted = 0;
    this.budgetOffered = 0;
    this.budgetMember = false;
    const err = error ?? this.closeError;
    this.closeError = err;
    for (const sf of [...this.subflowList]) {
      if (sf.state !== 'closed') {
        sf.terminate('aborted', now);
      }
    }
    this.host.emit(err ? { type: 'closed', connection: this, error: err } : { type: 'closed', connection: this });
    this.host.connectionClosed(this);
  }

  /** Tell the budget what this connection holds now (nothing once closed). */
  private reportBuffered(): void {
    if (this.current === 'closed') return;
    const offered = Math.max(0, this.offeredRight - this.receive.rcvNxt);
    const held = this.send.bufferedBytes + this.receive.bufferedBytes;
    if (held === this.budgeted && offered === this.budgetOffered) return;
    this.host.budget.change(held - this.budgeted, offered - this.budgetOffered);
    this.group?.change(held - this.budgeted, offered - this.budgetOffered);
    this.budgeted = held;
    this.budgetOffered = offered;
  }

  /**
   * Count this connection's buffers against `group` too, as well as the endpoint's budget:
   * all the connections of one client, say, so that one client cannot hold the whole
   * endpoint budget. Its write room and receive window are then the smaller of the two.
   */
  shareBudget(group: BufferBudget): void {
    if (this.current === 'closed' || this.group === group) return;
    if (this.group) throw new Error('a connection shares one budget group at most');
    this.group = group;
    if (this.budgetMember) group.join();
    group.change(this.budgeted, this.budgetOffered);
  }

  private budgetRoom(): number {
    return this.group ? Math.min(this.host.budget.room, this.group.room) : this.host.budget.room;
  }

  private armIdle(now: number): void {
    const t = this.host.config.idleTimeoutMs;
    this.timers.set(ConnectionTimer.Idle, t > 0 ? now + t : Infinity);
  }
}

function randomKey(r: RandomSource): bigint {
  const b = new Uint8Array(8);
  r.fill(b);
  return new DataView(b.buffer).getBigUint64(0);
}
