import type { CcGroup, CongestionController } from '../cc/controller.js';
import type { CcFactory } from '../cc/controller.js';
import type { SackBlock, TcpOption } from '../wire/tcp-option.js';
import { TcpFlag, type TcpSegment } from '../wire/tcp-segment.js';
import { tcpOptionsLength, tcpOptionsUnpaddedLength } from '../wire/tcp-options.js';
import { TCP_HEADER_MIN_LENGTH, TCP_OPTIONS_MAX_LENGTH } from '../wire/tcp-header.js';
import { SubflowReceiver, type MappingChecksum, type RxMapping } from './receiver.js';
import { RttEstimator } from './rtt.js';
import { seqLength, type SentSegment } from './sent-segment.js';
import { SendQueue } from './send-queue.js';
import { fromDssSubflowSeq, fromWire, toWire } from './seq.js';
import { TimerTable } from '../timer.js';
import type { SubflowConfig } from './subflow-config.js';
import { Keepalive } from './keepalive.js';
import { Pacer } from './pacer.js';
import { Rack } from './rack.js';
import { carrierWindow } from './carrier-window.js';
import { DeliveryRate } from './delivery-rate.js';
import { TCPRST_TRANSIENT } from '../wire/mptcp/option.js';

export type SubflowState =
  | 'syn-sent'
  | 'syn-received'
  /** MP_JOIN initiator after sending the third ACK, until the peer acknowledges it (RFC 8684 §3.2). */
  | 'join-pending'
  | 'established'
  | 'closed';

/** Which segment the connection is asked to decorate with MPTCP options. */
export type OutgoingKind = 'syn' | 'syn-ack' | 'third-ack' | 'data' | 'ack' | 'rst';

export interface OutgoingContext {
  kind: OutgoingKind;
  /** The data segment, for kind 'data'. */
  segment?: SentSegment;
  /** Option bytes still free (of 40), before the SACK blocks that would like to follow. */
  room: number;
}

/**
 * A DSS mapping as the connection hands it over: subflow sequence as on the wire, data offset
 * already unwrapped; `check` when its checksum is still to be verified (RFC 8684 §3.3.1).
 */
export interface DssMapping {
  subflowSeq: number;
  dataOffset: number;
  len: number;
  check?: MappingChecksum;
}

/** What the peer's MP_TCPRST said when its RST closed a subflow (RFC 8684 §3.6). */
export interface PeerReset {
  /** The reason code (TcpRstReason). */
  reason: number;
  /** T flag: the cause is temporary, so the path may be tried again later. */
  transient: boolean;
}

export type SubflowCloseReason = 'reset' | 'timeout' | 'handshake-failed' | 'closed' | 'aborted' | 'path-gone';

/** What the subflow asks of (and tells) the connection that owns it. */
export interface SubflowOwner {
  mptcpOptions(sf: Subflow, ctx: OutgoingContext): TcpOption[];
  /** Bytes we may still send to a peer not yet proven real (anti-amplification); undefined: no limit. */
  replyCredit(): number | undefined;
  /** Connection-level receive window to advertise, bytes (RFC 8684 §3.3.4). */
  receiveWindow(): number;
  /** In-order, mapped bytes. */
  deliver(sf: Subflow, dataOffset: number, data: Uint8Array): void;
  onEstablished(sf: Subflow, now: number): void;
  /** Segments newly acknowledged at subflow level. */
  onAcked(sf: Subflow, segments: readonly SentSegment[], now: number): void;
  /** The retransmission timer fired; `consecutive` counts RTOs without progress. */
  onRto(sf: Subflow, consecutive: number, now: number): void;
  /** A SYN (or SYN/ACK) went unanswered and is about to be sent again. */
  onHandshakeRetry(sf: Subflow, now: number): void;
  onClosed(sf: Subflow, reason: SubflowCloseReason, now: number): void;
}

/**
 * What applications, path managers and tools may see of a subflow: read-only. Changes go
 * through the connection's commands (setBackup, closeSubflow, ...).
 */
export interface SubflowView {
  readonly id: number;
  readonly pathId: number;
  readonly localPort: number;
  readonly remotePort: number;
  readonly isInitiator: boolean;
  readonly isInitial: boolean;
  readonly state: SubflowState;
  readonly isEstablished: boolean;
  readonly backup: boolean;
  readonly peerBackup: boolean;
  readonly localAddressId: number;
  readonly remoteAddressId: number;
  readonly mss: number;
  readonly srtt: number;
  readonly minRtt: number;
  readonly rttVar: number;
  readonly cwnd: number;
  readonly bytesInFlight: number;
  readonly potentiallyFailed: boolean;
  readonly stats: Readonly<SubflowStats>;
}

export interface SubflowStats {
  bytesSent: number;
  bytesRetransmitted: number;
  bytesReceived: number;
  segmentsSent: number;
  segmentsReceived: number;
  retransmissions: number;
  rtoCount: number;
  lossEvents: number;
}

/** The subflow's timers; handleTimeout runs the expired ones in this order. */
enum SubflowTimer {
  /** SYN, SYN/ACK or MP_JOIN third ACK retransmission (RFC 6298 §5.5 backoff). */
  Handshake,
  /** Delayed ACK (RFC 9293 §3.8.6.3). */
  DelayedAck,
  /** RACK reordering window (RFC 8985 §6.2). */
  Rack,
  /** Tail loss probe (RFC 8985 §7). */
  Tlp,
  /** Retransmission timeout (RFC 6298). */
  Rto,
  /** A probe while the RTO is backed off beyond BACKOFF_PROBE_MS. */
  BackoffProbe,
  /** The pacing bucket refills: wake the driver to send. */
  Pacing,
  /** Keepalive (RFC 9293 §3.8.4), derived from the last activity. */
  Keepalive,
}
const SUBFLOW_TIMER_KINDS = SubflowTimer.Keepalive + 1;

const MAX_BACKOFF = 64;
/**
 * Longest wait between probes of a subflow in RTO backoff. The backed-off RTO still decides
 * when the subflow is given up; in between, one segment a second (or one per un-backed-off
 * RTO, if longer) finds out that a path is back, where the doubling alone would leave a
 * path restored after a 7 s outage idle for about as long again. One segment a second is
 * far below any path's capacity, so it is no congestion concern (RFC 6298 §5.5 backs off
 * to protect a congested path, and this path carries nothing else of ours meanwhile).
 */
const BACKOFF_PROBE_MS = 1000;

/**
 * One subflow: a TCP connection of our own over one path (RFC 9293 with SACK RFC 2018,
 * timestamps RFC 7323, RTO RFC 6298, RACK-TLP RFC 8985, pluggable congestion control).
 * Sequence numbers are relative offsets inside (seq.ts); the wire sees u32 values.
 */
export class Subflow implements SubflowView {
  private current: SubflowState;
  readonly stats: SubflowStats = {
    bytesSent: 0,
    bytesRetransmitted: 0,
    bytesReceived: 0,
    segmentsSent: 0,
    segmentsReceived: 0,
    retransmissions: 0,
    rtoCount: 0,
    lossEvents: 0,
  };
  /** Backup priority: ours (as sent in MP_JOIN/MP_PRIO) and the peer's request. */
  private backupFlag = false;
  private peerBackupFlag = false;
  /** Address ids (RFC 8684 §3.2): ours and the peer's, for this subflow. */
  private localId = 0;
  private remoteId = 0;

  readonly rtt: RttEstimator;
  private controller!: CongestionController;
  readonly receiver: SubflowReceiver;

  // Send side.
  private readonly queue = new SendQueue();
  private readonly retransmitQueue: SentSegment[] = [];
  /** Lowest unacknowledged relative sequence. */
  private sndUna = 0;
  /** Next relative sequence to assign to new data. */
  private sndNxt = 0;
  private inFlight = 0;
  /** Sender MSS: min(peerMss, pathMss). */
  private sendMss: number;
  /** The peer's MSS option (what it can receive); ours until its SYN says. */
  private peerMss: number;
  /** What the path carries now (Endpoint.setPathMss). */
  private pathMss: number;
  /** Peer window scale shift; 0 until the handshake says otherwise. */
  private peerWindowScale = 0;
  private synDataLength = 0;
  /** Passive open: the peer's SYN carried data we accepted (a 0-RTT opener). */
  private peerSynDataAccepted = false;
  /** The path reported its peer quiet (setQuiet). */
  private quiet = false;

  // Receive side.
  private irs = 0;
  private tsRecent = 0;
  private tsEnabled = false;
  /** Both SYNs carried window scale (RFC 7323 §2.2); otherwise neither side scales. */
  private wsEnabled = false;
  private sackEnabled = false;
  private ackPending = 0;
  private ackNow = false;

  // Timers and recovery.
  private readonly timers = new TimerTable<SubflowTimer>(SUBFLOW_TIMER_KINDS);
  private readonly rack = new Rack();
  private readonly markLostFn = (s: SentSegment): void => this.markLost(s);
  /** Hands in-order bytes to the connection; made once, not per received segment. */
  private readonly deliverFn = (off: number, bytes: Uint8Array): void => this.owner.deliver(this, off, bytes);
  private readonly pacer: Pacer;
  private readonly keepalive: Keepalive;
  /** Reliable-link mode: what the carrier delivers, which sizes the window; null otherwise. */
  private readonly rate: DeliveryRate | null;
  private handshakeTries = 0;
  private backoff = 1;
  private consecutiveRtos = 0;
  private tlpPending = false;
  /** A loss probe is out and nothing was acknowledged since (RFC 8985 §7.3: one per tail). */
  private tlpInFlight = false;
  private inRecovery = false;
  private recoveryStartedAt = -1;
  private recoveryPoint = 0;
  /** True while the application had nothing for us: CC must not grow on this. */
  private appLimited = true;
  private finQueued = false;
  private peerFin = false;
  private finAcked = false;

  constructor(
    readonly id: number,
    readonly pathId: number,
    readonly localPort: number,
    readonly remotePort: number,
    /** Our initial sequence number (u32). */
    readonly iss: number,
    readonly isInitiator: boolean,
    /** True for the connection's first subflow (MP_CAPABLE), false for MP_JOIN ones. */
    readonly isInitial: boolean,
    private readonly config: SubflowConfig,
    private readonly owner: SubflowOwner,
    ccFactory: CcFactory,
    ccGroup: CcGroup,
    now: number,
  ) {
    this.current = isInitiator ? 'syn-sent' : 'syn-received';
    this.peerMss = config.mss;
    this.pathMss = config.pathMss;
    this.sendMss = this.boundedSendMss();
    this.rtt = new RttEstimator(config.initialRtoMs, config.minRtoMs, config.maxRtoMs);
    this.receiver = new SubflowReceiver(config.receiveLimit);
    this.controller = ccFactory(this, ccGroup);
    this.handshakeDue = isInitiator; // the passive side answers once onSyn() has run
    this.rate = config.reliableLink ? new DeliveryRate() : null;
    this.pacer = new Pacer(now);
    this.keepalive = new Keepalive(config.keepaliveMs, config.maxRetries, now);
    this.timers.derive(SubflowTimer.Keepalive, () => this.keepalive.deadline(this.current === 'established', this.rtt.rto));
  }

  // --- Views used by congestion control, schedulers and applications ---------------------

  get state(): SubflowState {
    return this.current;
  }

  get backup(): boolean {
    return this.backupFlag;
  }

  get peerBackup(): boolean {
    return this.peerBackupFlag;
  }

  get localAddressId(): number {
    return this.localId;
  }

  get remoteAddressId(): number {
    return this.remoteId;
  }

  /** Sender MSS (the peer's announced MSS bounded by what the path carries now). */
  get mss(): number {
    return this.sendMss;
  }

  /**
   * The path now carries segments of up to `mss` payload bytes. Larger segments already queued
   * are split when they are next sent, so nothing above the new size leaves (RFC 8899 §4.3).
   */
  setPathMss(mss: number): void {
    this.pathMss = mss;
    this.sendMss = this.boundedSendMss();
  }

  /** What we send in one segment: what the peer takes and the path carries, at least 64 (the codec's floor). */
  private boundedSendMss(): number {
    return Math.max(64, Math.min(this.peerMss, this.pathMss));
  }

  /** In-order received bytes that no mapping covers (RFC 8684 §3.3.1): from where, how many. */
  get unmapped(): { rel: number; bytes: number } {
    return { rel: this.receiver.unmappedStart, bytes: this.receiver.unmappedBacklog };
  }

  get bytesInFlight(): number {
    return this.inFlight;
  }

  get cc(): CongestionController {
    return this.controller;
  }

  get srtt(): number {
    return this.rtt.srtt;
  }

  get minRtt(): number {
    return this.rtt.minRtt;
  }

  get rttVar(): number {
    return this.rtt.rttVar;
  }

  get cwnd(): number {
    return this.rate ? carrierWindow(this.rate.bytesPerMs, this.rtt.minRtt, this.sendMss) : this.controller.window();
  }

  get isEstablished(): boolean {
    return this.state === 'established';
  }

  /**
   * Suspected dead (RFC 8684 §3.3.6): retransmission timeouts in a row, or its path reported
   * the peer quiet. Schedulers leave it alone; what it holds goes out on the others.
   */
  get potentiallyFailed(): boolean {
    return this.quiet || this.consecutiveRtos >= this.config.potentiallyFailedAfter;
  }

  /** Its path reported the peer quiet (a silent WebSocket, a sealed session without answer), or heard again. */
  setQuiet(quiet: boolean): void {
    this.quiet = quiet;
  }

  /**
   * The listener's first subflow may send data once its SYN/ACK is out, before the third
   * ACK arrives, when the peer's SYN carried data (as a TCP Fast Open server does, RFC 7413
   * §4.2): a reply to that data then costs one round trip, not two. To any other peer it
   * waits: before the third ACK there is no DATA_ACK to send (the client's key comes with
   * it, RFC 8684 §3.1), and a client that gets its first data with neither a DATA_ACK nor
   * MP_CAPABLE falls back to TCP (Linux counts MPCapableDataFallback).
   */
  get mayCarryData(): boolean {
    return this.state === 'established' || (this.state === 'syn-received' && this.isInitial && this.handshakeTries > 0 && this.peerSynDataAccepted);
  }

  /** Bytes of new data the subflow may take now without exceeding its window. */
  get sendable(): number {
    if (!this.mayCarryData || this.finQueued) return 0;
    const queued = this.queue.unsentBytes();
    const window = this.config.reliableLink ? Math.min(this.cwnd, this.config.receiveLimit) : this.cwnd;
    const room = window - this.inFlight - queued;
    return room > 0 ? room : 0;
  }

  /** Segments sent and not yet cumulatively acknowledged (oldest first). */
  outstanding(): IterableIterator<SentSegment> {
    return this.queue.all();
  }

  /** The segment, sent or queued, that carries data offset `offset`; null if none. */
  segmentHoldingData(offset: number): SentSegment | null {
    return this.queue.holdingData(offset);
  }

  /** Whether `s`, found by segmentHoldingData, still waits for its acknowledgement. */
  stillHolds(s: SentSegment): boolean {
    return this.queue.stillHolds(s);
  }

  get peerFinReceived(): boolean {
    return this.peerFin;
  }

  get finished(): boolean {
    return this.finAcked && this.peerFin;
  }

  // --- Commands from the connection ------------------------------------------------------

  /** Our backup flag, as MP_JOIN and MP_PRIO carry it (RFC 8684 §3.3.8). */
  setBackup(backup: boolean): void {
    this.backupFlag = backup;
  }

  /** The peer's backup request, from its MP_JOIN or MP_PRIO. */
  setPeerBackup(backup: boolean): void {
    this.peerBackupFlag = backup;
  }

  /** The address ids of both ends (RFC 8684 §3.2). */
  setAddressIds(local: number, remote: number): void {
    this.localId = local;
    this.remoteId = remote;
  }

  /**
   * Data to ride the SYN (0-RTT: RFC 8803's convert protocol puts the target there).
   * Must be called before the first pollTransmit; at most one MSS.
   */
  setSynData(dataOffset: number, data: Uint8Array): void {
    this.synDataLength = data.length;
    this.queue.push(newSegment(0, data, dataOffset, false, false));
    this.sndNxt = data.length;
  }

  /** Queue new data (at most one MSS) mapped to connection offset `dataOffset`. */
  enqueue(dataOffset: number, data: Uint8Array, dataFin = false): SentSegment {
    const s = newSegment(this.sndNxt, data, dataOffset, dataFin, false);
    this.queue.push(s);
    this.sndNxt += data.length;
    this.appLimited = false;
    return s;
  }

  /** Send a TCP FIN after everything queued (RFC 9293 §3.6). */
  close(): void {
    if (this.finQueued || this.state === 'closed') return;
    this.finQueued = true;
    this.queue.push(newSegment(this.sndNxt, EMPTY, -1, false, true));
    this.sndNxt += 1;
  }

  /**
   * Ask for a pure ACK ahead of any data: connection-level options (MP_PRIO, ADD_ADDR, a
   * bare DATA_FIN, MP_FAIL) and window updates ride pure ACKs, and a subflow busy with data
   * would otherwise never send one.
   */
  requestAck(): void {
    this.controlDue = true;
  }

  private controlDue = false;

  /**
   * Send one probe (one sequence number below SND.UNA, no data): the peer answers with an
   * ACK carrying its current window. Used while the peer's window is closed (RFC 9293
   * §3.8.6.1), and to ask whether the peer is still there (path-liveness.ts).
   */
  probe(): void {
    if (this.state === 'established') this.keepalive.request();
  }

  /** The application ran dry: congestion control should not count this as a limit. */
  markAppLimited(): void {
    this.appLimited = true;
  }

  /** Tear down without a handshake. */
  terminate(reason: SubflowCloseReason, now: number): void {
    if (this.state === 'closed') return;
    this.current = 'closed';
    this.clearTimers();
    this.owner.onClosed(this, reason, now);
  }

  // --- Input ------------------------------------------------------------------------------

  /** Whether `seg` is a SYN/ACK acknowledging our SYN (and no more than the data it carried). */
  answersSyn(seg: TcpSegment): boolean {
    if (this.state !== 'syn-sent' || (seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) !== (TcpFlag.SYN | TcpFlag.ACK)) return false;
    const ackRel = fromWire(this.iss, seg.ack, 0);
    return ackRel >= 0 && ackRel <= this.synDataLength;
  }

  /**
   * A segment for this subflow. The connection has already applied its MPTCP options; it
   * passes the DSS mapping (data offset already unwrapped) when the segment had one.
   */
  onSegment(now: number, seg: TcpSegment, mapping: DssMapping | null): void {
    this.stats.segmentsReceived++;
    this.keepalive.heard(now);
    const f = seg.flags;
    if (f & TcpFlag.RST) {
      this.onReset(now, seg);
      return;
    }
    this.readTcpOptions(seg, (f & TcpFlag.SYN) !== 0);

    if (this.state === 'syn-sent') {
      if (!this.answersSyn(seg)) return;
      const ackRel = fromWire(this.iss, seg.ack, 0);
      this.irs = seg.seq;
      this.receiver.rcvNxt = 0;
      if (this.handshakeTries === 1) this.rtt.sample(now - this.synSentAt);
      this.timers.clear(SubflowTimer.Handshake);
      this.processAck(now, ackRel, []);
      // Data that rode the SYN but was not acknowledged goes out again as ordinary data.
      const first = this.queue.first();
      if (first && first.xmits > 0 && !first.fin && ackRel === 0 && first.data.length > 0) this.markLost(first);
      if (this.isInitial) {
        this.current = 'established';
        this.ackNow = true;
        this.thirdAckDue = true;
        this.owner.onEstablished(this, now);
      } else {
        this.current = 'join-pending';
        this.handshakeTries = 0;
        this.handshakeDue = true; // the third ACK now, repeated until acknowledged
      }
      return;
    }

    if (this.state === 'syn-received') {
      if (f & TcpFlag.SYN) {
        // Our SYN/ACK was lost: send it again.
        this.handshakeDue = true;
        return;
      }
      if (!(f & TcpFlag.ACK)) return;
      const ackRel = fromWire(this.iss, seg.ack, 0);
      if (ackRel < 0 || ackRel > this.sndNxt) return; // it may also cover data we sent early
      // The connection checked the MPTCP part of the third ACK before calling us.
      this.current = 'established';
      this.timers.clear(SubflowTimer.Handshake);
      if (this.synAckTries === 1) this.rtt.sample(now - this.synSentAt);
      this.owner.onEstablished(this, now);
      if (!this.isInitial) this.ackNow = true; // RFC 8684 §3.2: acknowledge the MP_JOIN ACK
    } else if (this.state === 'join-pending') {
      if (f & TcpFlag.SYN) {
        this.handshakeDue = true;
        return;
      }
      if (f & TcpFlag.ACK) {
        this.current = 'established';
        this.timers.clear(SubflowTimer.Handshake);
        this.owner.onEstablished(this, now);
      }
    } else if (this.state === 'established') {
      if (f & TcpFlag.SYN) {
        // A retransmitted SYN/ACK: our third ACK was lost (RFC 9293 §3.10.7.4).
        if (this.isInitiator) {
          this.thirdAckDue = true;
          this.ackNow = true;
        }
        return;
      }
    } else {
      return;
    }

    if (f & TcpFlag.ACK) {
      const ackRel = fromWire(this.iss, seg.ack, this.sndUna);
      const sack = this.sackEnabled ? this.sackOf(seg) : NO_SACK;
      this.processAck(now, ackRel, sack);
    }
    this.receiveData(now, seg, mapping);
  }

  /** The SYN/ACK's options: ours (RFC 9293, RFC 7323, RFC 2018) and MP_CAPABLE in the room left. */
  private synAckOptions(now: number): TcpOption[] {
    const opts: TcpOption[] = [{ kind: 'mss', mss: this.config.mss }];
    if (this.sackEnabled) opts.push({ kind: 'sack-permitted' });
    if (this.tsEnabled) opts.push({ kind: 'timestamps', tsval: tsNow(now), tsecr: this.tsRecent });
    opts.push({ kind: 'window-scale', shift: this.config.windowScale });
    const room = TCP_OPTIONS_MAX_LENGTH - tcpOptionsUnpaddedLength(opts);
    return [...opts, ...this.owner.mptcpOptions(this, { kind: 'syn-ack', room })];
  }

  /**
   * Passive open: the SYN that created this subflow. Data riding it is accepted at once
   * when the connection gives it a place (`synDataOffset`), else left for retransmission.
   */
  onSyn(now: number, seg: TcpSegment, synDataOffset: number | null): void {
    this.stats.segmentsReceived++;
    this.irs = seg.seq;
    this.readTcpOptions(seg, true);
    if (seg.payload.length > 0 && synDataOffset !== null) {
      this.peerSynDataAccepted = true;
      this.receiver.addMapping({ rel: 0, dataOffset: synDataOffset, len: seg.payload.length });
      this.receiver.accept(0, seg.payload, this.deliverFn);
      this.stats.bytesReceived += seg.payload.length;
    }
    this.handshakeDue = true;
    this.keepalive.heard(now);
  }

  /**
   * Whether a segment's sequence numbers fall where this subflow would accept data (RFC 9293
   * §3.10.7.4): some of it inside the receive window, or a bare ACK at its left edge. Signals
   * that change the connection (REMOVE_ADDR, MP_PRIO, MP_FAIL) act only on such segments, as
   * RFC 8684 §3.4.2 asks, so a blind injector without the sequence space cannot use them.
   */
  acceptsSequence(seg: TcpSegment): boolean {
    if (this.state === 'syn-sent' || this.state === 'closed') return false;
    const r = this.receiver;
    const rel = fromWire(this.irs, seg.seq, r.rcvNxt);
    const len = seg.payload.length + ((seg.flags & TcpFlag.FIN) !== 0 ? 1 : 0);
    const right = r.rcvNxt + Math.max(this.owner.receiveWindow(), this.sendMss);
    if (len === 0) return rel >= r.rcvNxt && rel <= right;
    return rel < right && rel + len > r.rcvNxt;
  }

  /**
   * RFC 5961 §3.2: a RST ends the subflow only when its sequence is exactly the next one
   * expected; one merely inside the window earns a challenge ACK; anything else is ignored.
   * Before the handshake completes, RFC 9293 §3.10.7.3 applies (the ACK must match our SYN).
   */
  private onReset(now: number, seg: TcpSegment): void {
    if (this.state === 'syn-sent') {
      if ((seg.flags & TcpFlag.ACK) && fromWire(this.iss, seg.ack, 0) >= 0 && fromWire(this.iss, seg.ack, 0) <= this.synDataLength) {
        this.peerReset = peerResetOf(seg);
        this.terminate('reset', now);
      }
      return;
    }
    const rel = fromWire(this.irs, seg.seq, this.receiver.rcvNxt);
    if (rel === this.receiver.rcvNxt) {
      this.peerReset = peerResetOf(seg);
      this.terminate('reset', now);
    } else if (rel > this.receiver.rcvNxt && rel < this.receiver.rcvNxt + Math.max(this.owner.receiveWindow(), this.sendMss)) {
      this.ackNow = true; // challenge ACK
    }
  }

  /** Set when the peer's RST closed this subflow and carried MP_TCPRST (RFC 8684 §3.6). */
  peerReset: PeerReset | null = null;
  private thirdAckDue = false;
  private synSentAt = 0;
  private synAckTries = 0;

  /** TSecr of the segment being handled, when timestamps are on and it carries one (0: none). */
  private segTsecr = 0;
  /** The round trip as the receiver of data sees it, smoothed (0: no sample yet). */
  private rcvRtt = 0;

  /**
   * The round trip measured from the data that arrives: the time since we sent the ACK whose
   * timestamp it echoes (RFC 7323 §4.1, as Linux's receive-buffer tuning does). A subflow that
   * only receives has no RTT samples of its own data; without timestamps, the sender's srtt.
   */
  get receiveRtt(): number {
    return this.rcvRtt > 0 ? this.rcvRtt : this.rtt.srtt;
  }

  private readTcpOptions(seg: TcpSegment, isSyn: boolean): void {
    this.segTsecr = 0;
    for (const o of seg.options) {
      if (o.kind === 'timestamps') {
        if (isSyn) this.tsEnabled = true;
        if (this.tsEnabled) {
          this.tsRecent = o.tsval;
          this.segTsecr = o.tsecr;
        }
      } else if (isSyn) {
        if (o.kind === 'mss') {
          this.peerMss = o.mss;
          this.sendMss = this.boundedSendMss();
        }
        else if (o.kind === 'window-scale') {
          this.peerWindowScale = Math.min(o.shift, 14); // RFC 7323 §2.3
          this.wsEnabled = true;
        }
        else if (o.kind === 'sack-permitted') this.sackEnabled = true;
      }
    }
  }

  private sackOf(seg: TcpSegment): SackBlock[] {
    for (const o of seg.options) {
      if (o.kind === 'sack') {
        return o.blocks.map((b) => ({
          left: fromWire(this.iss, b.left, this.sndUna),
          right: fromWire(this.iss, b.right, this.sndUna),
        }));
      }
    }
    return NO_SACK;
  }

  private receiveData(now: number, seg: TcpSegment, mapping: DssMapping | null): void {
    const payload = seg.payload;
    const hasFin = (seg.flags & TcpFlag.FIN) !== 0;
    const r = this.receiver;
    const rel = fromWire(this.irs, seg.seq, r.rcvNxt);
    if (payload.length === 0 && !hasFin) {
      // A segment below the window is a keepalive probe: answer it (RFC 9293 §3.8.4).
      if (rel < r.rcvNxt) this.ackNow = true;
      return;
    }
    if (mapping && mapping.len > 0) {
      const mapRel = fromDssSubflowSeq(mapping.subflowSeq, r.rcvNxt);
      const rx: RxMapping = { rel: mapRel, dataOffset: mapping.dataOffset, len: mapping.len };
      if (mapping.check) rx.check = mapping.check;
      if (!r.addMapping(rx)) {
        this.ackNow = true; // no room to remember it: drop, the peer will send it again
        return;
      }
    }
    if (payload.length > 0) {
      this.stats.bytesReceived += payload.length;
      if (this.segTsecr !== 0) {
        const sample = (tsNow(now) - this.segTsecr) >>> 0;
        if (sample <= this.config.maxRtoMs) this.rcvRtt = this.rcvRtt === 0 ? sample : 0.875 * this.rcvRtt + 0.125 * sample;
      }
      const outcome = r.accept(rel, payload, this.deliverFn);
      if (outcome === 'in-order') {
        this.ackPending++;
        if (this.ackPending >= 2 || r.hasOutOfOrder) this.ackNow = true;
        else if (!this.timers.isArmed(SubflowTimer.DelayedAck)) this.timers.set(SubflowTimer.DelayedAck, now + this.config.delayedAckMs);
      } else {
        // Out of order, duplicate or dropped: tell the sender at once (RFC 5681 §4.2).
        this.ackNow = true;
      }
    } else {
      r.flushMapped(this.deliverFn);
    }
    if (hasFin && !this.peerFin && rel + payload.length === r.rcvNxt) {
      this.peerFin = true;
      r.rcvNxt += 1;
      this.ackNow = true;
    } else if (hasFin && this.peerFin) {
      this.ackNow = true; // a retransmitted FIN: our ACK was lost
    }
  }

  /** Whether `seg` starts at the next byte expected and its mapping (DSS subflow sequence) does too. */
  isNextInOrder(seg: TcpSegment, subflowSeq: number): boolean {
    const next = this.receiver.rcvNxt;
    return fromWire(this.irs, seg.seq, next) === next && fromDssSubflowSeq(subflowSeq, next) === next;
  }

  /** The DSN of a mapping whose DSS checksum failed since the last call, or null (RFC 8684 §3.7). */
  takeChecksumFailure(): bigint | null {
    return this.receiver.takeChecksumFailure();
  }

  /** An infinite mapping from a DSS (RFC 8684 §3.7): subflowSeq is relative, first byte = 1. */
  addInfiniteMapping(subflowSeq: number, dataOffset: number): void {
    this.addMapping({ rel: fromDssSubflowSeq(subflowSeq, this.receiver.rcvNxt), dataOffset, len: Infinity });
  }

  /** Add a mapping learnt outside a data segment (an infinite mapping on fallback). */
  addMapping(m: RxMapping): void {
    this.receiver.addMapping(m);
    this.receiver.flushMapped(this.deliverFn);
  }

  private processAck(now: number, ackRel: number, sack: readonly SackBlock[]): void {
    if (ackRel > this.sndNxt) return; // acknowledges what we never sent
    const acked: SentSegment[] = [];
    let newest: SentSegment | undefined;
    const priorInFlight = this.inFlight;
    let ackedBytes = 0;
    if (ackRel > this.sndUna) {
      this.queue.shiftAcked(ackRel, acked);
      this.sndUna = ackRel;
      for (const s of acked) {
        if (s.inFlight) this.inFlight -= s.data.length;
        if (!s.sacked) ackedBytes += s.data.length;
        s.inFlight = false;
        if (s.lost) s.lost = false;
        if (s.fin) this.finAcked = true;
        if (!newest || s.xmitTime > newest.xmitTime) newest = s;
      }
      this.consecutiveRtos = 0;
      this.backoff = 1;
      this.timers.clear(SubflowTimer.BackoffProbe);
    }
    for (const b of sack) {
      if (b.right <= this.sndUna || b.left >= this.sndNxt || b.right <= b.left) continue;
      let i = this.queue.indexAtOrAfter(b.left);
      for (;;) {
        const s = this.queue.at(i++);
        if (!s || s.xmits === 0 || s.rel >= b.right) break;
        if (s.rel < b.left || s.rel + seqLength(s) > b.right || s.sacked) continue;
        s.sacked = true;
        // Delivered: no longer waiting in the retransmit queue (its entry is skipped there).
        s.lost = false;
        ackedBytes += s.data.length;
        if (s.inFlight) {
          this.inFlight -= s.data.length;
          s.inFlight = false;
        }
        if (!newest || s.xmitTime > newest.xmitTime) newest = s;
      }
    }
    if (!newest) return;
    // RFC 6298 §3 (Karn): only segments sent once give RTT samples. RFC 7323 §4.1: with
    // timestamps, an ACK of new data gives one through its TSecr even when all it covers was
    // retransmitted; without it, a subflow whose first flight was all written off (after a
    // lost SYN/ACK) kept RFC 6298 §5.7's 3 s RTO and no tail loss probe until a segment sent
    // once was acknowledged: a 3 s stall in delivery.
    let rttSample: number | undefined;
    if (newest.xmits === 1 && newest.xmitTime >= 0) {
      rttSample = now - newest.xmitTime;
    } else if (this.segTsecr !== 0) {
      const echoed = (tsNow(now) - this.segTsecr) >>> 0;
      if (echoed <= this.config.maxRtoMs) rttSample = echoed;
    }
    if (rttSample !== undefined) this.rtt.sample(rttSample);
    // RFC 8985 §6.2: remember the most recently sent segment known delivered.
    this.rack.onDelivered(newest, now, this.rtt.minRtt);
    if (ackedBytes > 0) {
      this.controller.onAck(now, { ackedBytes, rttSample, priorInFlight, appLimited: this.appLimited });
      if (this.rate) {
        if (this.appLimited) this.rate.markAppLimited(this.inFlight);
        this.rate.onAck(now, ackedBytes, rttSample);
      }
    }
    if (this.inRecovery && this.sndUna >= this.recoveryPoint) this.inRecovery = false;
    this.tlpPending = false;
    this.tlpInFlight = false;
    this.timers.clear(SubflowTimer.Tlp);
    if (!this.config.reliableLink) this.detectLosses(now);
    this.rearmRto(now);
    if (acked.length > 0) this.owner.onAcked(this, acked, now);
  }

  /** RFC 8985 §6.2 step 5: declare lost what RACK finds, and answer a loss once per episode. */
  private detectLosses(now: number): void {
    const priorInFlight = this.inFlight;
    const reoWnd = this.rtt.minRtt > 0 ? Math.min(this.rtt.minRtt / 4, this.rtt.srtt) : 0;
    const nextTimeout = this.rack.detect(now, reoWnd, this.recoveryStartedAt, this.markLostFn);
    if (nextTimeout < 0) return;
    this.timers.set(SubflowTimer.Rack, nextTimeout);
    if (this.rack.lostAny) this.enterRecovery(now, priorInFlight, this.rack.lostRetransmission);
  }

  private markLost(s: SentSegment): void {
    if (s.lost || s.sacked) return;
    s.lost = true;
    if (s.inFlight) {
      this.inFlight -= s.data.length;
      s.inFlight = false;
    }
    this.retransmitQueue.push(s);
  }

  /**
   * One congestion response per episode; a retransmission lost again starts a new one
   * (RFC 8985 §3.4), so a long run of losses is not answered by a single reduction.
   */
  private enterRecovery(now: number, priorInFlight: number, again = false): void {
    if (this.inRecovery && !again) return;
    this.inRecovery = true;
    this.recoveryStartedAt = now;
    this.recoveryPoint = this.sndNxt;
    this.stats.lossEvents++;
    this.controller.onCongestionEvent(now, { lostBytes: Math.max(this.sendMss, priorInFlight - this.inFlight), priorInFlight });
  }

  // --- Timers -----------------------------------------------------------------------------

  /** Earliest time this subflow needs handleTimeout, Infinity for none. */
  nextDeadline(): number {
    return this.timers.next();
  }

  /** Every expired timer, in SubflowTimer order. */
  handleTimeout(now: number): void {
    if (this.state === 'closed') return;
    let rtoFired = false;
    for (let kind = 0 as SubflowTimer; kind < this.timers.kinds; kind++) {
      if (!this.timers.isDue(kind, now)) continue;
      switch (kind) {
        case SubflowTimer.Handshake:
          this.onHandshakeTimer(now);
          break;
        case SubflowTimer.DelayedAck:
          this.timers.clear(SubflowTimer.DelayedAck);
          if (this.ackPending > 0) this.ackNow = true;
          break;
        case SubflowTimer.Rack:
          this.timers.clear(SubflowTimer.Rack);
          this.detectLosses(now);
          break;
        case SubflowTimer.Tlp:
          this.timers.clear(SubflowTimer.Tlp);
          this.tlpPending = true; // RFC 8985 §7.3: send a probe at the next transmit opportunity
          break;
        case SubflowTimer.Rto:
          rtoFired = true;
          this.onRto(now);
          break;
        case SubflowTimer.BackoffProbe:
          // An RTO that fired re-armed the probe; it sends the segment itself.
          if (!rtoFired) this.onBackoffProbe(now);
          break;
        case SubflowTimer.Pacing:
          this.timers.clear(SubflowTimer.Pacing); // only wakes the driver: poll() sends
          break;
        case SubflowTimer.Keepalive:
          this.onKeepalive(now);
          break;
      }
    }
  }

  private onKeepalive(now: number): void {
    if (!this.keepalive.fire(now)) this.terminate('timeout', now);
  }

  private onHandshakeTimer(now: number): void {
    if (this.state === 'established' || this.state === 'closed') {
      this.timers.clear(SubflowTimer.Handshake);
      return;
    }
    if (this.handshakeTries >= this.config.maxSynRetries) {
      this.terminate('handshake-failed', now);
      return;
    }
    this.rtt.resetAfterSynLoss();
    this.handshakeDue = true;
    this.timers.clear(SubflowTimer.Handshake); // re-armed when the segment is built
    this.owner.onHandshakeRetry(this, now);
  }

  /** RFC 6298 §5.5: each handshake retransmission waits twice as long. */
  private armHandshake(now: number): void {
    const wait = this.rtt.hasSample ? this.rtt.rto : this.config.initialRtoMs;
    this.timers.set(SubflowTimer.Handshake, now + wait * 2 ** (this.handshakeTries - 1));
  }

  private handshakeDue = false;

  private onRto(now: number): void {
    this.timers.clear(SubflowTimer.Rto);
    if (this.queue.sentCount() === 0) return;
    this.stats.rtoCount++;
    this.consecutiveRtos++;
    if (this.consecutiveRtos > this.config.maxRetries) {
      this.terminate('timeout', now);
      return;
    }
    // RFC 6298 §5.4–5.6: back off, and (RFC 8985 §6.3) everything outstanding is lost.
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
    this.controller.onRtoExpired(now); // RFC 5681 §3.1 reads the flight size before it is written off
    for (const s of this.queue.sent()) if (!s.sacked) this.markLost(s);
    this.retransmitQueue.sort((a, b) => a.rel - b.rel);
    this.inRecovery = true;
    this.recoveryPoint = this.sndNxt;
    this.tlpPending = false;
    this.owner.onRto(this, this.consecutiveRtos, now);
    this.timers.set(SubflowTimer.Rto, now + this.rtt.rto * this.backoff); // re-armed for the retransmission
    this.armBackoffProbe(now);
  }

  private armBackoffProbe(now: number): void {
    const every = Math.max(BACKOFF_PROBE_MS, this.rtt.rto);
    this.timers.set(SubflowTimer.BackoffProbe, this.timers.get(SubflowTimer.Rto) - now > every ? now + every : Infinity);
  }

  /** Send the oldest unacknowledged segment again, outside the window, without counting an RTO. */
  private onBackoffProbe(now: number): void {
    this.timers.clear(SubflowTimer.BackoffProbe);
    let oldest: SentSegment | undefined;
    for (const s of this.queue.sent()) {
      if (!s.sacked) {
        oldest = s;
        break;
      }
    }
    if (!oldest) return;
    // Written off again so it goes out at once: with it out of the flight, the window admits it.
    oldest.lost = false;
    this.markLost(oldest);
    this.retransmitQueue.sort((a, b) => a.rel - b.rel);
    this.armBackoffProbe(now);
  }

  private rearmRto(now: number): void {
    if (this.config.reliableLink) {
      this.timers.clear(SubflowTimer.Rto);
      return;
    }
    if (this.queue.sentCount() === 0 || this.inFlight === 0 && this.retransmitQueue.length === 0) {
      this.timers.clear(SubflowTimer.Rto);
      this.timers.clear(SubflowTimer.Tlp);
      return;
    }
    this.timers.set(SubflowTimer.Rto, now + this.rtt.rto * this.backoff);
    // RFC 8985 §7.2: a tail loss probe ahead of the RTO when not recovering.
    if (!this.inRecovery && !this.tlpInFlight && this.rtt.hasSample && !this.timers.isArmed(SubflowTimer.Rack)) {
      let pto = 2 * this.rtt.srtt;
      if (this.inFlight <= this.sendMss) pto += this.config.delayedAckMs;
      this.timers.set(SubflowTimer.Tlp, Math.min(now + pto, this.timers.get(SubflowTimer.Rto)));
    }
  }

  private clearTimers(): void {
    this.timers.clearAll();
  }

  // --- Output -----------------------------------------------------------------------------

  /** Is there something to send right now (cheap check before building a segment)? */
  wantsToSend(now: number): boolean {
    if (this.state === 'closed') return false;
    if (this.handshakeDue || this.thirdAckDue || this.ackNow || this.keepalive.pending) return true;
    if (this.controlDue && this.state !== 'syn-received') return true;
    if (!this.mayCarryData) return false;
    if (this.retransmitQueue.length > 0 || this.tlpPending) return true;
    const next = this.queue.nextUnsent();
    return next !== undefined && this.mayTransmit(now, next.data.length || 1);
  }

  /** Build the next segment to send, or null. */
  poll(now: number): TcpSegment | null {
    if (this.state === 'closed') return null;
    if (this.handshakeDue) {
      this.handshakeDue = false;
      return this.buildHandshake(now);
    }
    if (this.thirdAckDue) {
      this.thirdAckDue = false;
      this.ackNow = false;
      return this.buildPure('third-ack', now);
    }
    if (this.controlDue && this.state !== 'syn-received') {
      this.controlDue = false;
      return this.buildPure('ack', now);
    }
    if (this.mayCarryData) {
      const data = this.nextDataSegment(now);
      if (data) return data;
    }
    if (this.ackNow) {
      this.ackNow = false;
      return this.buildPure('ack', now);
    }
    if (this.keepalive.take()) {
      // One sequence number below SND.UNA (RFC 9293 §3.8.4 says SND.NXT, the same while
      // nothing is outstanding): always below what the peer has received, so it must answer
      // with an ACK even while our data in flight never reached it (a liveness probe).
      const seg = this.buildPure('ack', now);
      seg.seq = (toWire(this.iss, this.sndUna) - 1) >>> 0;
      return seg;
    }
    return null;
  }

  private mayTransmit(now: number, bytes: number): boolean {
    if (this.config.reliableLink) return true;
    if (this.inFlight > 0 && this.inFlight + bytes > this.controller.window()) return false;
    return this.paceAllows(now, bytes);
  }

  private paceAllows(now: number, bytes: number): boolean {
    const wakeAt = this.pacer.delay(now, bytes, this.controller.pacingRate(), this.sendMss);
    if (wakeAt === null) return true;
    this.timers.set(SubflowTimer.Pacing, wakeAt);
    return false;
  }

  private nextDataSegment(now: number): TcpSegment | null {
    // Lost segments first (RFC 6675 §5 order), still within the window.
    while (this.retransmitQueue.length > 0) {
      const s = this.retransmitQueue[0]!;
      // A SACKed segment is never sent again: once in flight it would stay counted there,
      // since later SACKs and the RTO pass over segments already SACKed.
      if (!s.lost || s.sacked || s.rel < this.sndUna) {
        this.retransmitQueue.shift();
        continue;
      }
      if (s.data.length > this.sendMss) this.splitSegment(s);
      if (!this.mayTransmit(now, s.data.length || 1)) return null;
      this.retransmitQueue.shift();
      s.lost = false;
      this.stats.retransmissions++;
      this.stats.bytesRetransmitted += s.data.length;
      return this.transmit(now, s);
    }
    const next = this.queue.nextUnsent();
    if (next && next.data.length > this.sendMss) this.splitSegment(next);
    if (next && this.mayTransmit(now, next.data.length || 1)) {
      this.queue.advanceUnsent();
      return this.transmit(now, next);
    }
    if (this.tlpPending) {
      // RFC 8985 §7.3: probe with new data if allowed, else the last segment sent.
      this.tlpPending = false;
      let last: SentSegment | undefined;
      for (const s of this.queue.sent()) if (!s.sacked) last = s;
      if (last && last.data.length > this.sendMss) {
        // Too large for the path now: resend it, split, as a loss instead of a probe.
        this.markLost(last);
        return this.nextDataSegment(now);
      }
      if (last) {
        // Until an ACK answers it, the RTO, not another probe, is next (a peer that holds the
        // data behind a zero window would otherwise get a copy every two RTTs).
        this.tlpInFlight = true;
        this.stats.retransmissions++;
        this.stats.bytesRetransmitted += last.data.length;
        return this.transmit(now, last);
      }
    }
    return null;
  }

  /**
   * Cut a segment that is not in flight (never sent, or declared lost) into sendMss pieces in
   * place: each keeps its own part of the mapping (dataOffset + i), so the DSS of every piece
   * is consistent with the original (RFC 8684 §3.3.1); FIN and DATA_FIN ride the last piece.
   */
  private splitSegment(s: SentSegment): void {
    const pieces = this.queue.split(s, this.sendMss);
    if (s.lost && pieces.length > 0) {
      const at = this.retransmitQueue.indexOf(s);
      this.retransmitQueue.splice(at + 1, 0, ...pieces);
    }
  }

  private transmit(now: number, s: SentSegment): TcpSegment {
    s.xmits++;
    s.xmitTime = now;
    if (!this.config.reliableLink) this.rack.onTransmit(s, now);
    this.rate?.onSent(now, this.inFlight);
    if (!s.inFlight) {
      s.inFlight = true;
      this.inFlight += s.data.length;
    }
    this.pacer.spend(s.data.length);
    this.controller.onSent(now, s.data.length);
    this.stats.bytesSent += s.data.length;
    if (!this.timers.isArmed(SubflowTimer.Rto)) this.rearmRto(now);
    else if (!this.timers.isArmed(SubflowTimer.Tlp) && !this.inRecovery && !this.tlpInFlight && this.rtt.hasSample && !this.config.reliableLink) {
      this.timers.set(SubflowTimer.Tlp, Math.min(now + 2 * this.rtt.srtt, this.timers.get(SubflowTimer.Rto)));
    }
    let flags = TcpFlag.ACK;
    if (s.fin) flags |= TcpFlag.FIN;
    if (s.data.length > 0 && this.queue.nextUnsent() === undefined) flags |= TcpFlag.PSH;
    const opts = this.baseOptions(now);
    const room = TCP_OPTIONS_MAX_LENGTH - tcpOptionsUnpaddedLength(opts);
    const mptcp = this.owner.mptcpOptions(this, { kind: 'data', segment: s, room });
    return this.finish(now, flags, toWire(this.iss, s.rel), s.data, opts, mptcp);
  }

  private buildHandshake(now: number): TcpSegment {
    if (this.state === 'syn-sent') {
      this.handshakeTries++;
      this.synSentAt = now;
      this.armHandshake(now);
      const opts: TcpOption[] = [
        { kind: 'mss', mss: this.config.mss },
        { kind: 'sack-permitted' },
        { kind: 'timestamps', tsval: tsNow(now), tsecr: 0 },
        { kind: 'window-scale', shift: this.config.windowScale },
      ];
      const room = TCP_OPTIONS_MAX_LENGTH - tcpOptionsUnpaddedLength(opts);
      const mptcp = this.owner.mptcpOptions(this, { kind: 'syn', room });
      const pad = this.config.padSyn ? synPadding(room - tcpOptionsUnpaddedLength(mptcp)) : [];
      const first = this.queue.first();
      const payload = first && first.rel === 0 && first.data.length > 0 ? first.data : EMPTY;
      if (payload.length > 0 && first) {
        first.xmits++;
        first.xmitTime = now;
      }
      const seg = this.segment(TcpFlag.SYN, this.iss, 0, this.advertisedWindow(true), [...opts, ...mptcp, ...pad], payload);
      this.stats.segmentsSent++;
      return seg;
    }
    if (this.state === 'syn-received') {
      this.handshakeTries++;
      this.synAckTries = this.handshakeTries;
      this.synSentAt = now;
      this.armHandshake(now);
      let options = this.synAckOptions(now);
      // An unproven source gets no more bytes than it sent (the endpoint withholds a larger
      // reply). Linux's MP_CAPABLE SYN is 8 bytes short of our SYN/ACK with timestamps, so
      // they go (RFC 7323 §3.2: then neither side uses them), and the first SYN is answered.
      const credit = this.owner.replyCredit();
      if (this.tsEnabled && credit !== undefined && TCP_HEADER_MIN_LENGTH + tcpOptionsLength(options) > credit) {
        this.tsEnabled = false;
        options = this.synAckOptions(now);
      }
      const seg = this.segment(TcpFlag.SYN | TcpFlag.ACK, this.iss, toWire(this.irs, this.receiver.rcvNxt), this.advertisedWindow(true), options, EMPTY);
      this.stats.segmentsSent++;
      return seg;
    }
    // join-pending: repeat the third ACK until the peer acknowledges it (RFC 8684 §3.2).
    this.handshakeTries++;
    this.armHandshake(now);
    return this.buildPure('third-ack', now);
  }

  private buildPure(kind: 'ack' | 'third-ack', now: number): TcpSegment {
    const opts = this.baseOptions(now);
    let room = TCP_OPTIONS_MAX_LENGTH - tcpOptionsUnpaddedLength(opts);
    const mptcp = this.owner.mptcpOptions(this, { kind, room });
    room -= tcpOptionsUnpaddedLength(mptcp);
    // SACK blocks take what room is left: 2 + 8n bytes (RFC 2018 §3).
    if (this.sackEnabled && this.receiver.hasOutOfOrder && room >= 10) {
      const blocks = this.receiver.sackBlocks(Math.min(4, Math.floor((room - 2) / 8)));
      if (blocks.length > 0) {
        opts.push({
          kind: 'sack',
          blocks: blocks.map((b) => ({ left: toWire(this.irs, b.left), right: toWire(this.irs, b.right) })),
        });
      }
    }
    // SND.NXT: queued-but-unsent data has no sequence on the wire yet.
    const unsent = this.queue.nextUnsent();
    return this.finish(now, TcpFlag.ACK, toWire(this.iss, unsent ? unsent.rel : this.sndNxt), EMPTY, opts, mptcp);
  }

  private baseOptions(now: number): TcpOption[] {
    return this.tsEnabled ? [{ kind: 'timestamps', tsval: tsNow(now), tsecr: this.tsRecent }] : [];
  }

  private finish(now: number, flags: number, seqWire: number, payload: Uint8Array, opts: TcpOption[], mptcp: TcpOption[]): TcpSegment {
    const ack = toWire(this.irs, this.receiver.rcvNxt);
    const seg = this.segment(flags, seqWire, ack, this.advertisedWindow(false), mptcp.length ? [...opts, ...mptcp] : opts, payload);
    this.ackPending = 0;
    this.ackNow = false;
    this.timers.clear(SubflowTimer.DelayedAck);
    this.stats.segmentsSent++;
    return seg;
  }

  /** Window field: the connection's receive window, scaled (never scaled on SYNs, RFC 7323 §2.2). */
  private advertisedWindow(isSyn: boolean): number {
    const bytes = Math.max(0, this.owner.receiveWindow());
    const shift = this.wsEnabled ? this.config.windowScale : 0;
    const shifted = isSyn ? bytes : Math.floor(bytes / 2 ** shift);
    return Math.min(0xffff, shifted);
  }

  private segment(flags: number, seq: number, ack: number, window: number, options: TcpOption[], payload: Uint8Array): TcpSegment {
    return {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack,
      flags,
      window,
      checksum: 0,
      urgent: 0,
      options,
      payload,
    };
  }

  /** A RST for this subflow carrying the given MPTCP options (MP_TCPRST, MP_FASTCLOSE). */
  buildReset(options: TcpOption[]): TcpSegment {
    return this.segment(TcpFlag.RST | TcpFlag.ACK, toWire(this.iss, this.sndNxt), toWire(this.irs, this.receiver.rcvNxt), 0, options, EMPTY);
  }

  /** Peer window scale, for reading window fields of later segments. */
  scaleWindow(field: number): number {
    return field * 2 ** this.peerWindowScale;
  }
}

const EMPTY = new Uint8Array(0);
const NO_SACK: SackBlock[] = [];

/** The MP_TCPRST a RST carries, as reason and T flag (RFC 8684 §3.6), or null. */
function peerResetOf(seg: TcpSegment): PeerReset | null {
  for (const o of seg.options) {
    if (o.kind === 'mptcp' && o.option.type === 'mp-tcprst') return { reason: o.option.reason, transient: (o.option.flags & TCPRST_TRANSIENT) !== 0 };
  }
  return null;
}

function newSegment(rel: number, data: Uint8Array, dataOffset: number, dataFin: boolean, fin: boolean): SentSegment {
  return { rel, data, dataOffset, dataFin, fin, xmitTime: -1, xmits: 0, sacked: false, lost: false, inFlight: false };
}

/** Timestamp clock: 1 ms ticks (RFC 7323 §5.4 allows 1 ms to 1 s). */
function tsNow(now: number): number {
  return Math.floor(now) >>> 0;
}

/**
 * Fills `room` option bytes with one option of the experimental kind 253 (RFC 4727 §7.2),
 * which receivers skip as unknown (RFC 9293 §3.1). A server that sends no more to an
 * unverified source than it received can then answer our SYN with its larger SYN/ACK.
 */
function synPadding(room: number): TcpOption[] {
  return room >= 2 ? [{ kind: 'unknown', type: 253, data: new Uint8Array(room - 2) }] : [];
}
