/**
 * BBR v1, a model-based controller (draft-cardwell-iccrg-bbr-congestion-control-00; Cardwell
 * et al., ACM Queue 2016). It paces at the bottleneck bandwidth it measures and bounds the data
 * in flight to a small multiple of the bandwidth-delay product, so an isolated random loss does
 * not lower its rate the way it halves a loss-based window.
 *
 * The engine gives no per-packet delivery-rate sample, so the controller keeps one of its own:
 * each transmission leaves a record (send time, bytes delivered so far), and an ACK's RTT sample
 * dates the newest segment it acknowledges (sent at now − rtt), which finds the record to measure
 * from. That is the per-packet sampler of draft-cheng-iccrg-delivery-rate-estimation, rebuilt from
 * the events the CongestionController interface already has.
 */
import type { AckEvent, CcPath, CongestionController, LossEvent } from './controller.js';
import { initialWindow } from './common.js';

/** §2 BBRHighGain: the smallest gain that doubles the sending rate each round (2/ln 2 ≈ 2.89). */
export const BBR_HIGH_GAIN = 2 / Math.LN2;
/** §4.3.3: Drain paces at the inverse of the Startup gain, emptying the queue in one round. */
export const BBR_DRAIN_GAIN = 1 / BBR_HIGH_GAIN;
/** §4.3.4.1: the cwnd gain in ProbeBW, room for delayed, stretched and aggregated ACKs. */
export const BBR_PROBE_BW_CWND_GAIN = 2;
/** §4.3.4.1: the eight-phase pacing gain cycle of ProbeBW. */
export const BBR_PACING_GAIN_CYCLE: readonly number[] = Object.freeze([5 / 4, 3 / 4, 1, 1, 1, 1, 1, 1]);
/** §2 BtlBwFilterLen: the bandwidth max filter spans 10 packet-timed round trips. */
export const BBR_BTLBW_FILTER_ROUNDS = 10;
/** §2 RTpropFilterLen (and ProbeRTTInterval): 10 s. */
export const BBR_RTPROP_FILTER_MS = 10_000;
/** §2 ProbeRTTDuration: 200 ms. */
export const BBR_PROBE_RTT_DURATION_MS = 200;
/** §2 BBRMinPipeCwnd: 4 segments. */
export const BBR_MIN_PIPE_SEGMENTS = 4;
/** §4.3.2.2: the pipe is full after 3 rounds in which the bandwidth grew less than 25%. */
const FULL_BW_GROWTH = 1.25;
const FULL_BW_ROUNDS = 3;
/** Send records kept at most; more than any window of segments in flight needs. */
const MAX_SEND_RECORDS = 1 << 16;
/** An RTT sample's send time is computed as now − rtt; allow for float rounding when matching. */
const SEND_TIME_TOLERANCE_MS = 1e-6;

export type BbrState = 'startup' | 'drain' | 'probe-bw' | 'probe-rtt';

/** One delivery-rate sample: bytes delivered over the interval they took, per ms. */
export interface RateSample {
  /** Bytes per ms. */
  deliveryRate: number;
  /** Bytes delivered when the sampled segment was sent (P.delivered). */
  priorDelivered: number;
  /** The sample's interval, ms: the longer of its send and ACK stretches. */
  intervalMs: number;
  /** The sampled segment left while the application had nothing more to send. */
  appLimited: boolean;
}

interface SendRecord {
  sentAt: number;
  delivered: number;
  deliveredAt: number;
  firstSentAt: number;
  appLimited: boolean;
}

/**
 * Delivery-rate samples from send and ACK events (draft-cheng-iccrg-delivery-rate-estimation):
 * a segment's sample is the data delivered between its send and its ACK, over the longer of the
 * send interval and the ACK interval of that stretch. Send records are consumed in time order;
 * records at one instant share a single entry (nothing was delivered between them).
 */
export class DeliveryRateSampler {
  /** Bytes delivered (acknowledged cumulatively or selectively) so far: C.delivered. */
  delivered = 0;
  private deliveredAt = 0;
  private firstSentAt = 0;
  /** While nonzero, segments sent are application-limited, until `delivered` passes it. */
  private appLimitedUntil = 0;
  private records: SendRecord[] = [];
  private head = 0;

  /** A transmission at `now`; `pipeWasEmpty` when nothing else was in flight. */
  onSent(now: number, pipeWasEmpty: boolean): void {
    if (pipeWasEmpty) {
      // Nothing in flight: the next sample's interval must start now, not at the last ACK.
      this.firstSentAt = now;
      this.deliveredAt = now;
    }
    const last = this.records[this.records.length - 1];
    if (last !== undefined && this.records.length > this.head && last.sentAt === now) return;
    this.records.push({
      sentAt: now,
      delivered: this.delivered,
      deliveredAt: this.deliveredAt,
      firstSentAt: this.firstSentAt,
      appLimited: this.appLimitedUntil > 0,
    });
    if (this.records.length - this.head > MAX_SEND_RECORDS) this.head++;
    this.compact();
  }

  /** The application ran dry with `inFlight` bytes outstanding: the bubble ends once they are delivered. */
  markAppLimited(inFlight: number): void {
    this.appLimitedUntil = Math.max(this.delivered + inFlight, 1);
  }

  get appLimited(): boolean {
    return this.appLimitedUntil > 0;
  }

  /**
   * An ACK of `ackedBytes`; a sample when the ACK dates the segment it acknowledges (an RTT
   * sample) and a send record matches that date.
   */
  onAck(now: number, ackedBytes: number, rttSample: number | undefined): RateSample | undefined {
    this.delivered += ackedBytes;
    this.deliveredAt = now;
    if (this.appLimitedUntil > 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    if (rttSample === undefined || !(rttSample >= 0)) return undefined;
    const sentAt = now - rttSample;
    // Records before the newest one sent at or before sentAt can no longer be sampled.
    while (this.head + 1 < this.records.length && this.records[this.head + 1]!.sentAt <= sentAt + SEND_TIME_TOLERANCE_MS) {
      this.head++;
    }
    const p = this.records[this.head];
    if (p === undefined || Math.abs(p.sentAt - sentAt) > SEND_TIME_TOLERANCE_MS) return undefined;
    // The next sample's send interval starts at this segment's send time (C.first_sent_time).
    this.firstSentAt = p.sentAt;
    const sendElapsed = p.sentAt - p.firstSentAt;
    const ackElapsed = now - p.deliveredAt;
    const intervalMs = Math.max(sendElapsed, ackElapsed);
    if (!(intervalMs > 0)) return undefined;
    return {
      deliveryRate: (this.delivered - p.delivered) / intervalMs,
      priorDelivered: p.delivered,
      intervalMs,
      appLimited: p.appLimited,
    };
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Windowed maximum over a span of rounds (§4.1.1.2): a deque of per-round maxima, decreasing
 * from front to back, so the front is the maximum of the window. At most one entry per round.
 */
export class WindowedMaxFilter {
  private readonly entries: { round: number; value: number }[] = [];

  constructor(private readonly windowRounds: number) {}

  get value(): number {
    return this.entries[0]?.value ?? 0;
  }

  update(value: number, round: number): number {
    const e = this.entries;
    while (e.length > 0 && e[e.length - 1]!.value <= value) e.pop();
    if (e.length === 0 || e[e.length - 1]!.round !== round) e.push({ round, value });
    while (e.length > 0 && e[0]!.round <= round - this.windowRounds) e.shift();
    return this.value;
  }

  /** Ages the window without a new sample (a round passed with none worth keeping). */
  expire(round: number): void {
    while (this.entries.length > 1 && this.entries[0]!.round <= round - this.windowRounds) this.entries.shift();
  }
}

export interface BbrOptions {
  /**
   * Picks the ProbeBW phase to start at (§4.3.4.2 starts at a random phase other than the 3/4
   * one). Deterministic here: each entry into ProbeBW takes the next phase from this seed.
   */
  phaseSeed?: number;
}

export class BbrController implements CongestionController {
  readonly name = 'bbr';
  private readonly sampler = new DeliveryRateSampler();
  private readonly btlBwFilter = new WindowedMaxFilter(BBR_BTLBW_FILTER_ROUNDS);
  private readonly initialCwnd: number;
  private cwnd: number;
  private mode: BbrState = 'startup';
  private pacingGain = BBR_HIGH_GAIN;
  private cwndGain = BBR_HIGH_GAIN;
  /** Bytes per ms; undefined until the first bandwidth sample. */
  private pacingRateBpms: number | undefined;

  // §4.1.1.3 packet-timed rounds.
  private roundCount = 0;
  private roundStart = false;
  private nextRoundDelivered = 0;

  // §4.1.2 RTprop, ms, and when it was last set; the stamp is undefined before the first event.
  private rtprop = Infinity;
  private rtpropStamp: number | undefined;
  private rtpropExpired = false;

  // §4.3.2.2 full-pipe estimator.
  private filledPipeFlag = false;
  private fullBw = 0;
  private fullBwCount = 0;

  // §4.3.4.3 gain cycling.
  private cycleIndex = 0;
  private cycleStamp = 0;
  private lossInCycle = false;
  private readonly phaseSeed: number;
  private probeBwEntries = 0;

  // §4.3.5 ProbeRTT.
  private probeRttDoneStamp: number | undefined;
  private probeRttRoundDone = false;
  private idleRestart = false;

  // §4.2.3.4 loss recovery.
  private priorCwnd = 0;
  private recovery: 'none' | 'fast' | 'rto' = 'none';
  private recoveryStart = 0;
  /** Recovery ends once `delivered` reaches this (what was in flight at its start has left). */
  private recoveryEndDelivered = 0;
  private packetConservation = false;
  private conservationEndDelivered = 0;

  constructor(
    private readonly path: CcPath,
    options: BbrOptions = {},
  ) {
    this.initialCwnd = initialWindow(path.mss);
    this.cwnd = this.initialCwnd;
    this.phaseSeed = Math.abs(Math.trunc(options.phaseSeed ?? 0));
    if (path.srtt > 0) this.rtprop = path.srtt; // §4.3.1: RTprop starts at SRTT if there is one
  }

  // --- What the subflow reads -----------------------------------------------------------

  window(): number {
    return Math.max(Math.floor(this.cwnd), this.path.mss);
  }

  ssthresh(): number {
    return Infinity; // BBR has no slow-start threshold
  }

  pacingRate(): number {
    if (this.pacingRateBpms !== undefined) return this.pacingRateBpms * 1000;
    // §4.2.1 BBRInitPacingRate: before a bandwidth sample, the initial window over SRTT, with gain.
    if (!(this.path.srtt > 0)) return Infinity;
    return (this.pacingGain * this.initialCwnd * 1000) / this.path.srtt;
  }

  // --- Inspection, for tests and status ----------------------------------------------------

  get state(): BbrState {
    return this.mode;
  }

  /** Estimated bottleneck bandwidth (BBR.BtlBw), bytes per second; 0 before a sample. */
  bandwidth(): number {
    return this.btlBwFilter.value * 1000;
  }

  /** Windowed minimum RTT (BBR.RTprop), ms; Infinity before a sample. */
  minRttEstimate(): number {
    return this.rtprop;
  }

  /** When the RTprop estimate was last set (BBR.rtprop_stamp), ms; undefined before any event. */
  get minRttStamp(): number | undefined {
    return this.rtpropStamp;
  }

  get filledPipe(): boolean {
    return this.filledPipeFlag;
  }

  get rounds(): number {
    return this.roundCount;
  }

  get currentPacingGain(): number {
    return this.pacingGain;
  }

  // --- Events ------------------------------------------------------------------------------

  onSent(now: number, bytes: number): void {
    this.rtpropStamp ??= now;
    // The subflow counts the segment in flight before it reports it: the pipe was empty if
    // nothing else is.
    const pipeWasEmpty = this.path.bytesInFlight <= bytes;
    // §4.3.4.4 BBRHandleRestartFromIdle: after an idle stretch, pace at exactly BtlBw.
    if (pipeWasEmpty && this.sampler.appLimited) {
      this.idleRestart = true;
      if (this.mode === 'probe-bw') this.setPacingRateWithGain(1);
    }
    this.sampler.onSent(now, pipeWasEmpty);
  }

  onAck(now: number, ev: AckEvent): void {
    this.rtpropStamp ??= now;
    const cwndBefore = this.cwnd;
    if (ev.appLimited) this.sampler.markAppLimited(this.path.bytesInFlight);
    // §4.1.2.3: the min filter runs first here, so the sample below can be checked against it.
    this.updateRtprop(now, ev.rttSample);
    const rs = this.sampler.onAck(now, ev.ackedBytes, ev.rttSample);
    // §3.5.2 BBRUpdateModelAndState.
    this.updateBtlBw(rs);
    this.checkCyclePhase(now, ev.priorInFlight);
    this.checkFullPipe(rs);
    this.checkDrain(now);
    this.checkProbeRtt(now);
    this.updateRecovery(now, ev);
    // §3.5.2 BBRUpdateControlParameters (the send quantum is computed where it is used).
    this.setPacingRate();
    this.setCwnd(ev.ackedBytes);
    // The interface's rule: an application-limited ACK says nothing about room to grow.
    if (ev.appLimited) this.cwnd = Math.min(this.cwnd, cwndBefore);
  }

  /**
   * §4.2.3.4: a loss is a hint that the model may be stale, not a verdict on it. The estimates
   * are kept; for one round the window follows the ACKs (packet conservation), and at the end
   * of recovery the window before it comes back.
   */
  onCongestionEvent(now: number, _ev: LossEvent): void {
    this.lossInCycle = true;
    if (this.recovery === 'none') {
      this.priorCwnd = this.saveCwnd();
      this.recovery = 'fast';
      this.recoveryStart = now;
      this.recoveryEndDelivered = this.sampler.delivered + this.path.bytesInFlight;
      // cwnd = packets in flight + one for the fast retransmit, but not below the pipelining
      // floor (§4.2.3.3): an application-limited flow has next to nothing in flight, and its
      // ACKs may not grow the window back. A loss never opens the window.
      const conserved = Math.max(this.path.bytesInFlight + this.path.mss, this.minPipeCwnd());
      this.cwnd = Math.min(this.cwnd, conserved);
      this.packetConservation = true;
      this.conservationEndDelivered = this.recoveryEndDelivered;
    }
  }

  /** §4.2.3.4: on a timeout everything in flight is presumed lost; one segment, then regrow. */
  onRtoExpired(now: number): void {
    if (this.recovery !== 'rto') {
      this.priorCwnd = this.saveCwnd();
      this.recoveryEndDelivered = this.sampler.delivered + this.path.bytesInFlight;
    }
    this.recovery = 'rto';
    this.recoveryStart = now;
    this.packetConservation = false;
    this.cwnd = this.path.mss;
  }

  // --- Model ---------------------------------------------------------------------------------

  /** §4.1.2.3 BBRUpdateRTprop, with the expiry checked on every ACK. */
  private updateRtprop(now: number, rtt: number | undefined): void {
    const stamp = this.rtpropStamp ?? now;
    this.rtpropExpired = now > stamp + BBR_RTPROP_FILTER_MS;
    if (rtt !== undefined && rtt >= 0 && (rtt <= this.rtprop || this.rtpropExpired)) {
      this.rtprop = rtt;
      this.rtpropStamp = now;
    }
  }

  /** §4.1.1.3 BBRUpdateRound and §4.1.1.5 BBRUpdateBtlBw. */
  private updateBtlBw(rs: RateSample | undefined): void {
    this.roundStart = false;
    if (rs === undefined) return;
    if (rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = this.sampler.delivered;
      this.roundCount++;
      this.roundStart = true;
    }
    // A sample shorter than the path's RTT comes from compressed ACKs, not from the bottleneck
    // (the delivery-rate draft discards them too).
    if (Number.isFinite(this.rtprop) && rs.intervalMs < this.rtprop) {
      this.btlBwFilter.expire(this.roundCount);
      return;
    }
    // §4.1.1.4: application-limited samples count only when they raise the estimate.
    if (!rs.appLimited || rs.deliveryRate >= this.btlBwFilter.value) {
      this.btlBwFilter.update(rs.deliveryRate, this.roundCount);
    } else {
      this.btlBwFilter.expire(this.roundCount);
    }
  }

  private get btlBw(): number {
    return this.btlBwFilter.value;
  }

  /** §4.2.2 BBRSetSendQuantum, bytes. */
  private sendQuantum(): number {
    const mss = this.path.mss;
    const rate = this.pacingRate(); // bytes per second
    if (rate < 1.2e6 / 8) return mss;
    if (rate < 24e6 / 8) return 2 * mss;
    return Math.max(2 * mss, Math.min(rate / 1000, 64 * 1024));
  }

  /** §4.2.3.2 BBRInflight: gain × BDP plus three send quanta. */
  private inflight(gain: number): number {
    if (!Number.isFinite(this.rtprop)) return this.initialCwnd;
    return gain * this.btlBw * this.rtprop + 3 * this.sendQuantum();
  }

  // --- State machine ----------------------------------------------------------------------

  /** §4.3.2.1 BBREnterStartup. */
  private enterStartup(): void {
    this.mode = 'startup';
    this.pacingGain = BBR_HIGH_GAIN;
    this.cwndGain = BBR_HIGH_GAIN;
  }

  /** §4.3.2.2 BBRCheckFullPipe: a bandwidth plateau over three rounds means the pipe is full. */
  private checkFullPipe(rs: RateSample | undefined): void {
    if (this.filledPipeFlag || !this.roundStart || rs === undefined || rs.appLimited) return;
    if (this.btlBw >= this.fullBw * FULL_BW_GROWTH) {
      this.fullBw = this.btlBw;
      this.fullBwCount = 0;
      return;
    }
    if (++this.fullBwCount >= FULL_BW_ROUNDS) this.filledPipeFlag = true;
  }

  /** §4.3.3 BBRCheckDrain. */
  private checkDrain(now: number): void {
    if (this.mode === 'startup' && this.filledPipeFlag) {
      this.mode = 'drain';
      this.pacingGain = BBR_DRAIN_GAIN;
      this.cwndGain = BBR_HIGH_GAIN;
    }
    if (this.mode === 'drain' && this.path.bytesInFlight <= this.inflight(1)) this.enterProbeBw(now);
  }

  /** §4.3.4.3 BBREnterProbeBW: start at a phase other than the draining 3/4 one. */
  private enterProbeBw(now: number): void {
    this.mode = 'probe-bw';
    this.pacingGain = 1;
    this.cwndGain = BBR_PROBE_BW_CWND_GAIN;
    const len = BBR_PACING_GAIN_CYCLE.length;
    // §4.3.4.2 draws this at random from 0..6; a counter over the seed keeps runs reproducible.
    const offset = (this.phaseSeed + 3 * this.probeBwEntries++) % (len - 1);
    this.cycleIndex = len - 1 - offset;
    this.advanceCyclePhase(now);
  }

  /** §4.3.4.3 BBRCheckCyclePhase. */
  private checkCyclePhase(now: number, priorInFlight: number): void {
    if (this.mode === 'probe-bw' && this.isNextCyclePhase(now, priorInFlight)) this.advanceCyclePhase(now);
  }

  private advanceCyclePhase(now: number): void {
    this.cycleStamp = now;
    this.cycleIndex = (this.cycleIndex + 1) % BBR_PACING_GAIN_CYCLE.length;
    this.pacingGain = BBR_PACING_GAIN_CYCLE[this.cycleIndex]!;
    this.lossInCycle = false;
  }

  /** §4.3.4.3 BBRIsNextCyclePhase: each phase lasts about one RTprop. */
  private isNextCyclePhase(now: number, priorInFlight: number): boolean {
    const fullLength = now - this.cycleStamp > this.rtprop;
    if (this.pacingGain === 1) return fullLength;
    if (this.pacingGain > 1) {
      return fullLength && (this.lossInCycle || priorInFlight >= this.inflight(this.pacingGain));
    }
    return fullLength || priorInFlight <= this.inflight(1);
  }

  /** §4.3.5 BBRCheckProbeRTT: no new minimum RTT for 10 s drains the queue to measure one. */
  private checkProbeRtt(now: number): void {
    if (this.mode !== 'probe-rtt' && this.rtpropExpired && !this.idleRestart) {
      this.priorCwnd = this.saveCwnd();
      this.mode = 'probe-rtt';
      this.pacingGain = 1;
      this.cwndGain = 1;
      this.probeRttDoneStamp = undefined;
    }
    if (this.mode === 'probe-rtt') this.handleProbeRtt(now);
    this.idleRestart = false;
  }

  private handleProbeRtt(now: number): void {
    const inFlight = this.path.bytesInFlight;
    // Samples taken with the window held down say nothing about the bottleneck.
    this.sampler.markAppLimited(inFlight);
    if (this.probeRttDoneStamp === undefined && inFlight <= this.minPipeCwnd()) {
      this.probeRttDoneStamp = now + BBR_PROBE_RTT_DURATION_MS;
      this.probeRttRoundDone = false;
      this.nextRoundDelivered = this.sampler.delivered;
    } else if (this.probeRttDoneStamp !== undefined) {
      if (this.roundStart) this.probeRttRoundDone = true;
      if (this.probeRttRoundDone && now > this.probeRttDoneStamp) {
        this.rtpropStamp = now;
        this.restoreCwnd();
        if (this.filledPipeFlag) this.enterProbeBw(now);
        else this.enterStartup();
      }
    }
  }

  // --- Control parameters ------------------------------------------------------------------

  /** §4.2.1 BBRSetPacingRate: follow BtlBw once the pipe was filled, or when that is faster. */
  private setPacingRate(): void {
    this.setPacingRateWithGain(this.pacingGain);
  }

  private setPacingRateWithGain(gain: number): void {
    const rate = gain * this.btlBw;
    if (!(rate > 0)) return;
    if (this.filledPipeFlag || this.pacingRateBpms === undefined || rate > this.pacingRateBpms) {
      this.pacingRateBpms = rate;
    }
  }

  private minPipeCwnd(): number {
    return BBR_MIN_PIPE_SEGMENTS * this.path.mss;
  }

  /** §4.2.3.4: loss recovery ends once what was in flight when it began has been delivered. */
  private updateRecovery(now: number, ev: AckEvent): void {
    if (this.recovery === 'none') return;
    if (this.packetConservation && this.sampler.delivered >= this.conservationEndDelivered) {
      this.packetConservation = false; // §4.2.3.4: conservation lasts one round of recovery
    }
    const sentAfter = ev.rttSample !== undefined && now - ev.rttSample >= this.recoveryStart;
    if (sentAfter || this.sampler.delivered >= this.recoveryEndDelivered) {
      this.recovery = 'none';
      this.packetConservation = false;
      this.restoreCwnd();
    }
  }

  /** §4.2.3.6 BBRSetCwnd with §4.2.3.4 and §4.2.3.5 modulations. */
  private setCwnd(ackedBytes: number): void {
    const target = this.inflight(this.cwndGain);
    if (this.packetConservation) {
      // §4.2.3.4 BBRModulateCwndForRecovery: send as much as was delivered, no more.
      this.cwnd = Math.max(this.cwnd, this.path.bytesInFlight + ackedBytes);
    } else {
      if (this.filledPipeFlag) this.cwnd = Math.min(this.cwnd + ackedBytes, target);
      else if (this.cwnd < target || this.sampler.delivered < this.initialCwnd) this.cwnd += ackedBytes;
      this.cwnd = Math.max(this.cwnd, this.minPipeCwnd());
    }
    // §4.2.3.5 BBRModulateCwndForProbeRTT.
    if (this.mode === 'probe-rtt') this.cwnd = Math.min(this.cwnd, this.minPipeCwnd());
  }

  /** §4.2.3.4 BBRSaveCwnd: the last window not lowered by recovery or ProbeRTT. */
  private saveCwnd(): number {
    if (this.recovery === 'none' && this.mode !== 'probe-rtt') return this.cwnd;
    return Math.max(this.priorCwnd, this.cwnd);
  }

  /** §4.2.3.4 BBRRestoreCwnd. */
  private restoreCwnd(): void {
    this.cwnd = Math.max(this.cwnd, this.priorCwnd);
  }
}
