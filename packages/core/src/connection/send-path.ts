import type { ResolvedConfig } from '../config.js';
import type { Scheduler, SchedSubflow } from '../sched/scheduler.js';
import type { SentSegment } from '../subflow/sent-segment.js';
import type { Subflow } from '../subflow/subflow.js';
import type { TimerTable } from '../timer.js';
import type { TcpSegment } from '../wire/tcp-segment.js';
import { ConnectionTimer } from './connection-timer.js';
import type { Fallback } from './fallback.js';
import { SendBuffer } from './send-buffer.js';

/** Longest wait between window probes (and data-level retransmissions). */
const PERSIST_MAX_MS = 60_000;
/** Shortest wait before data its subflow acknowledged is sent again at the data level (RFC 6298's 1 s minimum RTO). */
const DATA_RTO_FLOOR_MS = 1000;

/** A chunk of connection data to (re)send: [start, end). */
interface Range {
  start: number;
  end: number;
  /** A subflow that must not carry it (the one it is rescued from). */
  avoid: number;
}

/**
 * The connection's send side, in connection offsets (0 = the byte at IDSN+1): the send
 * buffer and data ACK (RFC 8684 §3.3.2), the peer's receive window (§3.3.4), the scheduler
 * handing data to subflows, reinjection of data stranded on a failing subflow (§3.3.6),
 * opportunistic retransmission, the persist timer, and the DATA_FIN (§3.3.3).
 */
export class SendPath {
  private readonly sendBuf = new SendBuffer();
  /** Data acknowledged by the peer's DATA_ACK. */
  private una = 0;
  /** Next new offset to hand to a subflow. */
  private sndNxt = 0;
  /** Right edge of the peer's receive window (RFC 8684 §3.3.4). */
  private peerWindowRight: number;
  private readonly reinject: Range[] = [];
  /** Offset of our DATA_FIN once shutdown() was called, else -1. */
  private fin = -1;
  private finSent = false;
  private bareFinDue = false;
  /** The subflow the due bare DATA_FIN waits for, and how many times it was offered. */
  private bareFinOn: Subflow | null = null;
  private bareFinTries = 0;
  private writeBlocked = false;
  private persistBackoff = 1;
  private dataRetransmitBackoff = 1;
  /** Copies sent because the DATA_ACK stayed behind what the subflows acknowledged. */
  private dataRetransmits = 0;
  private opportunisticAt = -1;
  /** The live subflow and segment found holding SND.UNA last (holeAtUna), or null. */
  private unaHolder: { sf: Subflow; seg: SentSegment } | null = null;
  /** Segments sent again on a faster subflow to unblock the receive window. */
  private opportunistic = 0;
  /** Round-robin position over subflows for output. */
  private rr = 0;

  constructor(
    /** The connection's subflows (its list, read here, never changed). */
    private readonly subflows: readonly Subflow[],
    private readonly config: ResolvedConfig,
    private readonly fallback: Fallback,
    private readonly timers: TimerTable<ConnectionTimer>,
    private readonly scheduler: Scheduler,
  ) {
    this.peerWindowRight = config.mss; // until the peer tells us its window
  }

  get sndUna(): number {
    return this.una;
  }

  /** Offset of our DATA_FIN, -1 before shutdown(). */
  get finOffset(): number {
    return this.fin;
  }

  /** Bytes written and not yet acknowledged by the peer. */
  get bufferedBytes(): number {
    return this.sendBuf.length;
  }

  get opportunisticRetransmissions(): number {
    return this.opportunistic;
  }

  get dataLevelRetransmissions(): number {
    return this.dataRetransmits;
  }

  /**
   * The send buffer's size: sendBuffer. Sizing it at twice what the subflows move per round
   * trip was tried three times and taken out: a live estimate collapsed while every subflow
   * was potentially failed; grown from the lowest RTT it could not fill a queue another flow
   * kept; grown from the smoothed RTT it left no room to repair a loss on the slow path and
   * cost 10-25% of the wifi+lte aggregate (docs/benchmarks.md, "Buffers sized from the BDP").
   */
  get sendLimit(): number {
    return this.config.sendBuffer;
  }

  // --- The application's side ----------------------------------------------------------

  /**
   * What write() takes now: room in the send buffer, and within it room for bytes not yet
   * handed to a subflow (sendUnsentLimit, as Linux's TCP_NOTSENT_LOWAT: a peer that stops
   * reading still acknowledges what was in flight, so a stalled connection keeps only this).
   */
  private get room(): number {
    const unsent = this.sendBuf.end - this.sndNxt;
    return Math.max(0, Math.min(this.sendLimit - this.sendBuf.length, this.config.sendUnsentLimit - unsent));
  }

  /** Take what fits of `data`; the rest waits for 'writable'. */
  write(data: Uint8Array): number {
    if (this.fin >= 0) return 0;
    const n = Math.min(this.room, data.length);
    if (n > 0) this.sendBuf.append(n === data.length ? data : data.subarray(0, n));
    if (n < data.length) this.writeBlocked = true;
    return n;
  }

  /** Place the DATA_FIN after the buffered data. False when it already was. */
  shutdown(): boolean {
    if (this.fin >= 0) return false;
    this.fin = this.sendBuf.end;
    return true;
  }

  /** Client: up to `mss` first bytes to ride the SYN (0-RTT), counted as handed out; null if none. */
  takeSynData(mss: number): Uint8Array | null {
    if (this.sendBuf.length === 0) return null;
    const n = Math.min(mss, this.sendBuf.length);
    const data = this.sendBuf.slice(0, n);
    this.sndNxt = n;
    return data;
  }

  // --- The peer's acknowledgments and window ------------------------------------------------

  /** The window of a SYN (never scaled, RFC 7323 §2.2). */
  setPeerWindow(right: number): void {
    this.peerWindowRight = right;
  }

  widenPeerWindow(right: number): void {
    if (right > this.peerWindowRight) this.peerWindowRight = right;
  }

  /** Whether a DATA_ACK moves the left edge: past SND.UNA, not past what was sent. */
  acceptsDataAck(ack: number): boolean {
    return ack > this.una && ack <= this.sndNxt + (this.finSent ? 1 : 0);
  }

  /** Data up to `ack` is acknowledged. True when a blocked writer may write again. */
  acknowledge(ack: number): boolean {
    const dataEnd = Math.min(ack, this.sendBuf.end);
    this.una = ack;
    this.timers.clear(ConnectionTimer.DataRetransmit); // progress: the next wait starts afresh
    this.dataRetransmitBackoff = 1;
    this.sendBuf.release(dataEnd);
    if (this.fin >= 0 && ack > this.fin) this.timers.clear(ConnectionTimer.BareFin);
    return this.takeWritable();
  }

  /** True once when a writer that found no room may write again. */
  takeWritable(): boolean {
    if (!this.writeBlocked || this.room === 0) return false;
    this.writeBlocked = false;
    return true;
  }

  /** Plain TCP: the subflow's ACK is the data ACK. The new data ACK, or SND.UNA if none. */
  fallbackAck(segments: readonly SentSegment[]): number {
    let top = this.una;
    for (const s of segments) if (s.dataOffset >= 0) top = Math.max(top, s.dataOffset + s.data.length);
    return top;
  }

  /** Our DATA_FIN (plain TCP: our FIN) is acknowledged. */
  get finAcked(): boolean {
    return this.fin >= 0 && this.una > this.fin - (this.fallback.active ? 1 : 0);
  }

  // --- Reinjection (RFC 8684 §3.3.6) ------------------------------------------------------

  /** Queue the data `sf` carries but the peer has not acknowledged for other subflows. */
  rescue(sf: Subflow): void {
    if (this.fallback.active) return;
    for (const s of sf.outstanding()) {
      if (s.dataOffset < 0 || s.data.length === 0) continue;
      const end = s.dataOffset + s.data.length;
      if (end <= this.una) continue;
      this.reinject.push({ start: Math.max(s.dataOffset, this.una), end, avoid: sf.id });
    }
    this.reinject.sort((a, b) => a.start - b.start);
  }

  // --- Output -------------------------------------------------------------------------------

  /** The next segment any subflow has to send, after handing them data; null when none. */
  nextSegment(now: number, established: boolean): { sf: Subflow; seg: TcpSegment } | null {
    this.scheduleData(now, established);
    if (this.timers.isDue(ConnectionTimer.BareFin, now) && this.fin >= 0 && this.una <= this.fin) {
      this.timers.clear(ConnectionTimer.BareFin);
      this.offerBareFin();
    }
    // Round-robin over subflows so one busy path does not starve another's ACKs.
    const n = this.subflows.length;
    for (let i = 0; i < n; i++) {
      const sf = this.subflows[(this.rr + i) % n]!;
      const seg = sf.poll(now);
      if (seg) {
        this.rr = (this.rr + i + 1) % n;
        return { sf, seg };
      }
    }
    return null;
  }

  /** Whether data or a DATA_FIN waits to be handed to a subflow. */
  wantsToSend(): boolean {
    return this.nextChunk() !== null || (this.fin >= 0 && !this.finSent);
  }

  /** A bare DATA_FIN is due on `sf`'s next pure ACK: taken (true) by the one that carries it. */
  takeBareFin(sf: Subflow): boolean {
    if (!this.bareFinDue) return false;
    if (this.bareFinOn && this.bareFinOn !== sf && this.bareFinOn.state === 'established') return false;
    this.bareFinDue = false;
    return true;
  }

  /**
   * Send the bare DATA_FIN on the next pure ACK of a subflow: the best one first, then each
   * retry on the next in that order (RFC 8684 §3.3.3 lets it go on any subflow). A path that
   * died while idle is neither potentially failed nor slow to the scheduler, since nothing in
   * flight timed out there; always picking the best would send every retry into it.
   */
  private offerBareFin(): void {
    const order = this.subflows.filter((sf) => sf.state === 'established').sort((a, b) => this.rank(a, b));
    const sf = order.length > 0 ? order[this.bareFinTries++ % order.length]! : null;
    this.bareFinDue = true;
    this.bareFinOn = sf;
    sf?.requestAck();
  }

  get bareFinPending(): boolean {
    return this.bareFinDue;
  }

  /** When to send the bare DATA_FIN again if its DATA_ACK has not come. */
  armBareFinRetry(at: number): void {
    this.timers.set(ConnectionTimer.BareFin, at);
  }

  /** Hand new (or rescued) data to subflows while the scheduler finds room. */
  private scheduleData(now: number, established: boolean): void {
    if (!established && !this.subflows.some((sf) => sf.mayCarryData)) return;
    for (let guard = 0; guard < 4096; guard++) {
      const chunk = this.nextChunk();
      if (!chunk) break;
      const candidates = this.schedCandidates(chunk.avoid);
      if (candidates.length === 0) break;
      const input = {
        subflows: candidates,
        unsentBytes: this.sendBuf.end - this.sndNxt,
        peerWindowRemaining: Math.max(0, this.peerWindowRight - this.sndNxt),
      };
      const ids = this.scheduler.pick(input);
      if (ids.length === 0) break;
      let mss = Infinity;
      const chosen: Subflow[] = [];
      for (const id of ids) {
        const sf = this.subflows.find((s) => s.id === id);
        if (sf && sf.sendable > 0) {
          chosen.push(sf);
          mss = Math.min(mss, sf.mss);
        }
      }
      if (chosen.length === 0) break;
      const len = Math.min(mss, chunk.end - chunk.start);
      const data = this.sendBuf.slice(chunk.start, len);
      // Plain TCP has no DATA_FIN: its FIN goes out after the data instead. Rescued data that
      // ends at the DATA_FIN carries it again: the subflow it rode on is failing (RFC 8684 §3.3.3).
      const isFin = (!chunk.rescued || this.finSent) && !this.fallback.active && this.fin >= 0 && chunk.start + len === this.fin;
      for (const sf of chosen) sf.enqueue(chunk.start, data, isFin);
      if (chunk.rescued) this.consumeReinject(len);
      else {
        this.sndNxt += len;
        if (isFin) this.finSent = true;
      }
    }
    // A DATA_FIN with no data left to carry it goes on its own (RFC 8684 §3.3.3).
    if (established && this.fin >= 0 && !this.finSent && this.sndNxt === this.fin && this.reinject.length === 0) {
      this.finSent = true;
      if (this.fallback.active) {
        for (const sf of this.subflows) sf.close();
      } else {
        this.offerBareFin();
      }
    }
    this.opportunisticRetransmit();
    this.updatePersist(now, established);
    this.updateDataRetransmit(now, established);
    if (this.sndNxt === this.sendBuf.end) for (const sf of this.subflows) sf.markAppLimited();
  }

  /**
   * Opportunistic retransmission (Raiciu et al., "How hard can it be?", NSDI 2012 §4.2):
   * when the peer's receive window stops new data and a faster subflow has room, send the
   * segment holding up the window's left edge again on that subflow.
   */
  private opportunisticRetransmit(): void {
    if (this.fallback.active || this.sndNxt < this.peerWindowRight || this.sndNxt >= this.sendBuf.end) return;
    if (this.una >= this.sndNxt || this.opportunisticAt === this.una) return;
    const blocker = this.subflows.find((sf) => this.holdsUna(sf));
    // Every subflow that carried the blocking data has it acknowledged: the peer holds it and
    // its window is full because its application has not read, so a copy would arrive twice
    // (the kernel counts MPTcpExtDuplicateData). If the peer dropped it instead, the
    // data-level retransmission below sends it again.
    if (!blocker) return;
    // A backup path (RFC 8684 §3.3.8) carries no copy: it is for when the others fail.
    let fast: Subflow | undefined;
    for (const sf of this.subflows) {
      if (sf.state !== 'established' || sf.potentiallyFailed || sf.backup || sf.peerBackup || sf.sendable <= 0 || sf === blocker) continue;
      if (!fast || sf.srtt < fast.srtt) fast = sf;
    }
    if (!fast || (blocker.state === 'established' && !blocker.potentiallyFailed && fast.srtt >= blocker.srtt)) return;
    const len = Math.min(fast.mss, this.sndNxt - this.una);
    fast.enqueue(this.una, this.sendBuf.slice(this.una, len));
    this.opportunisticAt = this.una;
    this.opportunistic++;
  }

  /**
   * The persist timer (RFC 9293 §3.8.6.1, at the data level of RFC 8684 §3.3.4): data waits,
   * the peer's window is closed and nothing is in flight, so no ACK will come by itself; a
   * window update the peer sent may have been lost. Probe, backing off, until it opens.
   */
  private updatePersist(now: number, established: boolean): void {
    const blocked =
      established &&
      this.sndNxt >= this.peerWindowRight &&
      this.sndNxt < this.sendBuf.end &&
      this.subflows.every((sf) => sf.bytesInFlight === 0);
    if (!blocked) {
      this.timers.clear(ConnectionTimer.Persist);
      this.persistBackoff = 1;
    } else if (!this.timers.isArmed(ConnectionTimer.Persist)) {
      this.timers.set(ConnectionTimer.Persist, now + this.persistInterval());
    }
  }

  /** The persist timer fired: probe on the best subflow and back off. */
  onPersistTimer(now: number): void {
    this.bestSubflow()?.probe();
    this.persistBackoff = Math.min(this.persistBackoff * 2, 64);
    this.timers.set(ConnectionTimer.Persist, now + this.persistInterval());
  }

  private persistInterval(): number {
    return Math.min(this.rto() * this.persistBackoff, PERSIST_MAX_MS);
  }

  /**
   * Data-level retransmission (RFC 8684 §3.3.6): a subflow ACK is no promise of delivery. A
   * receiver short of memory drops data it already acknowledged on its subflow (Linux counts
   * MPTcpExtRcvPruned, or NoDSSInWindow), and then sits with a hole at our SND.UNA and a
   * window full of what came after it. So once no subflow holds the data at SND.UNA and the
   * DATA_ACK has not moved for DATA_RTO_FLOOR_MS (or the RTO, if longer), it is sent again,
   * backing off. The floor is long because a peer whose application stopped reading looks the
   * same for a while (its DATA_ACK lags what its subflow acknowledged), and there a copy
   * arrives twice.
   */
  private updateDataRetransmit(now: number, established: boolean): void {
    if (!established || !this.holeAtUna()) {
      this.timers.clear(ConnectionTimer.DataRetransmit);
    } else if (!this.timers.isArmed(ConnectionTimer.DataRetransmit)) {
      const wait = Math.max(DATA_RTO_FLOOR_MS, this.rto()) * this.dataRetransmitBackoff;
      this.timers.set(ConnectionTimer.DataRetransmit, now + Math.min(wait, PERSIST_MAX_MS));
    }
  }

  /** SND.UNA waits for data that no live subflow holds or is about to send again. */
  private holeAtUna(): boolean {
    if (this.fallback.active || this.una >= this.sndNxt) return false;
    if (this.reinject.length > 0 && this.reinject[0]!.start <= this.una) return false;
    // This runs for every segment sent: the holder found last time usually still holds it.
    const last = this.unaHolder;
    if (last !== null && this.holds(last.sf, last.seg)) return false;
    this.unaHolder = null;
    for (const sf of this.subflows) {
      if (sf.state !== 'established' || sf.potentiallyFailed) continue;
      const seg = sf.segmentHoldingData(this.una);
      if (seg !== null) {
        this.unaHolder = { sf, seg };
        return false;
      }
    }
    return true;
  }

  /** Whether live subflow `sf` still has `seg` waiting for its ACK, and `seg` carries SND.UNA. */
  private holds(sf: Subflow, seg: SentSegment): boolean {
    return sf.state === 'established' && !sf.potentiallyFailed && seg.dataOffset <= this.una && this.una < seg.dataOffset + seg.data.length && sf.stillHolds(seg);
  }

  /** Whether `sf` still holds (sent or queued) the data at SND.UNA. */
  private holdsUna(sf: Subflow): boolean {
    return sf.segmentHoldingData(this.una) !== null;
  }

  /** The data-level retransmission timer fired: send the segment at SND.UNA again and back off. */
  onDataRetransmitTimer(now: number): void {
    this.timers.clear(ConnectionTimer.DataRetransmit);
    const sf = this.bestSubflow();
    if (!sf || !this.holeAtUna()) return;
    sf.enqueue(this.una, this.sendBuf.slice(this.una, Math.min(sf.mss, this.sndNxt - this.una)));
    this.dataRetransmits++;
    this.dataRetransmitBackoff = Math.min(this.dataRetransmitBackoff * 2, 64);
    this.updateDataRetransmit(now, true);
  }

  private rto(): number {
    const sf = this.bestSubflow();
    return Math.max(this.config.minRtoMs, sf ? sf.rtt.rto : this.config.initialRtoMs);
  }

  private nextChunk(): { start: number; end: number; avoid: number; rescued: boolean } | null {
    while (this.reinject.length > 0) {
      const r = this.reinject[0]!;
      const start = Math.max(r.start, this.una);
      if (start >= r.end || start >= this.sndNxt) {
        this.reinject.shift();
        continue;
      }
      return { start, end: Math.min(r.end, this.sndNxt), avoid: r.avoid, rescued: true };
    }
    const end = Math.min(this.sendBuf.end, this.peerWindowRight);
    if (this.sndNxt >= end) return null;
    return { start: this.sndNxt, end, avoid: -1, rescued: false };
  }

  private consumeReinject(len: number): void {
    const r = this.reinject[0]!;
    r.start = Math.max(r.start, this.una) + len;
    if (r.start >= r.end) this.reinject.shift();
  }

  private schedCandidates(avoid: number): SchedSubflow[] {
    const out: SchedSubflow[] = [];
    for (const sf of this.subflows) {
      if (!sf.mayCarryData || sf.id === avoid) continue;
      out.push({
        id: sf.id,
        backup: sf.backup || sf.peerBackup,
        srtt: sf.srtt,
        rttVar: sf.rttVar,
        cwnd: sf.cwnd,
        bytesInFlight: sf.bytesInFlight,
        mss: sf.mss,
        sendable: sf.sendable,
        potentiallyFailed: sf.potentiallyFailed,
      });
    }
    return out;
  }

  /** The established subflow to carry control: not potentially failed, lowest RTT. */
  private bestSubflow(): Subflow | undefined {
    let best: Subflow | undefined;
    for (const sf of this.subflows) if (sf.state === 'established' && (!best || this.rank(sf, best) < 0)) best = sf;
    return best;
  }

  /**
   * Which of two subflows carries control first: a healthy one before a potentially failed
   * one whatever their RTTs (a dead path's last RTT sample may be the lowest), then the
   * lower RTT.
   */
  private rank(a: Subflow, b: Subflow): number {
    if (a.potentiallyFailed !== b.potentiallyFailed) return a.potentiallyFailed ? 1 : -1;
    return a.srtt - b.srtt;
  }
}
