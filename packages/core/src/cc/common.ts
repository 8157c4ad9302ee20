/**
 * Pieces every window-based controller shares: the initial and minimum windows, slow-start
 * growth with byte counting, the pacing rate, the recovery episode and the timeout response.
 * Each controller extends `WindowController` and supplies only what makes it different.
 */
import type { AckEvent, CcGroup, CcPath, CongestionController, LossEvent } from './controller.js';

/** RFC 3465 §2.2–2.3: slow start grows by at most L = 2 segments per ACK. */
export const SLOW_START_ACK_LIMIT_SEGMENTS = 2;

/** RFC 5681 §3.1 eq. 4: ssthresh, and the window after a loss, never go below 2 segments. */
export const MIN_WINDOW_SEGMENTS = 2;

/** Pacing gains (the brief's choice, as Linux uses): room to grow in slow start, a margin after. */
export const SLOW_START_PACING_GAIN = 2;
export const AVOIDANCE_PACING_GAIN = 1.25;

/** RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)); that is 10 segments for MSS ≤ 1460. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** RFC 3465 §2.2: slow-start growth for one ACK, capped at L*SMSS. */
export function slowStartIncrement(ackedBytes: number, mss: number): number {
  return Math.min(ackedBytes, SLOW_START_ACK_LIMIT_SEGMENTS * mss);
}

/** RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS). */
export function halvedThreshold(flightSize: number, mss: number): number {
  return Math.max(flightSize / 2, MIN_WINDOW_SEGMENTS * mss);
}

/**
 * Pacing rate in bytes per second: gain * cwnd / srtt. Before the first RTT sample there is
 * nothing to pace against, so the rate is unlimited (the window alone holds the sender back).
 */
export function pacingRateFor(cwnd: number, srttMs: number, slowStart: boolean): number {
  if (!(srttMs > 0)) return Infinity;
  const gain = slowStart ? SLOW_START_PACING_GAIN : AVOIDANCE_PACING_GAIN;
  return (gain * cwnd * 1000) / srttMs;
}

/**
 * Whether the data this ACK acknowledges left the sender at or after `since`. The RTT sample
 * dates the acknowledged segment (sent at now - rtt); an ACK without a sample cannot say, and
 * gives undefined. Used to tell a round (or a recovery episode) from the next one without
 * sequence numbers.
 */
export function ackedDataSentSince(now: number, ev: AckEvent, since: number): boolean | undefined {
  if (ev.rttSample === undefined) return undefined;
  return now - ev.rttSample >= since;
}

/**
 * One recovery episode (RFC 5681 §3.2, RFC 6675 §5): the window does not grow while the ACKs
 * still acknowledge data sent before the congestion event. The episode ends at the first ACK
 * for data sent after it; an ACK without an RTT sample ends it once one smoothed RTT has passed.
 */
export class RecoveryEpisode {
  private start: number | undefined;
  private latestEnd = 0;

  get active(): boolean {
    return this.start !== undefined;
  }

  enter(now: number, srttMs: number): void {
    this.start = now;
    this.latestEnd = now + srttMs;
  }

  clear(): void {
    this.start = undefined;
  }

  /** Feeds one ACK; true while the ACK still belongs to the episode. */
  stillIn(now: number, ev: AckEvent): boolean {
    if (this.start === undefined) return false;
    const sentAfter = ackedDataSentSince(now, ev, this.start) ?? now >= this.latestEnd;
    if (sentAfter) this.start = undefined;
    return !sentAfter;
  }
}

/**
 * The skeleton of a window-based controller: state, the recovery episode, the RTO response
 * and pacing. Subclasses decide what an ACK and a congestion event do to the window.
 */
export abstract class WindowController implements CongestionController {
  abstract readonly name: string;
  /** Congestion window in bytes; fractional growth accumulates here, window() rounds down. */
  protected cwnd: number;
  protected ssthreshBytes = Infinity;
  protected readonly recovery = new RecoveryEpisode();
  /** Set by an RTO, cleared by the next ACK of new data (RFC 5681 §3.1, note after eq. 4). */
  private timedOutAgain = false;

  constructor(
    protected readonly path: CcPath,
    initialBytes: number = initialWindow(path.mss),
  ) {
    this.cwnd = initialBytes;
  }

  window(): number {
    return Math.max(Math.floor(this.cwnd), 1);
  }

  ssthresh(): number {
    return this.ssthreshBytes;
  }

  /** RFC 5681 §3.1: slow start while cwnd < ssthresh. */
  inSlowStart(): boolean {
    return this.cwnd < this.ssthreshBytes;
  }

  pacingRate(): number {
    return pacingRateFor(this.cwnd, this.path.srtt, this.inSlowStart());
  }

  onSent(_now: number, _bytes: number): void {
    // Window-based: what is in flight is read from the path when it matters.
  }

  onAck(now: number, ev: AckEvent): void {
    this.timedOutAgain = false;
    const recovering = this.recovery.stillIn(now, ev);
    this.handleAck(now, ev, !recovering && !ev.appLimited && ev.ackedBytes > 0);
  }

  onCongestionEvent(now: number, ev: LossEvent): void {
    this.recovery.enter(now, this.path.srtt);
    this.reduce(now, ev);
  }

  onRtoExpired(now: number): void {
    // RFC 5681 §3.1: a timeout of data already retransmitted by a timeout keeps ssthresh.
    if (!this.timedOutAgain) this.ssthreshBytes = this.thresholdAfterTimeout();
    this.timedOutAgain = true;
    // RFC 5681 §3.1: LW = 1 segment.
    this.cwnd = this.path.mss;
    this.recovery.clear();
    this.afterTimeout(now);
  }

  /**
   * A deliberate decrease in congestion avoidance (OLIA's negative α, LEDBAT's delay
   * response): ssthresh follows it down, so that slow start does not reopen the window.
   */
  protected lowerWindow(bytes: number): void {
    this.cwnd = bytes;
    this.ssthreshBytes = Math.min(this.ssthreshBytes, bytes);
  }

  /**
   * FlightSize when the timer fired. The subflow should report the timeout before it writes
   * the outstanding data off; if it already has, the window stands in for the flight.
   */
  protected flightAtTimeout(): number {
    return this.path.bytesInFlight > 0 ? this.path.bytesInFlight : this.cwnd;
  }

  /**
   * ssthresh after a timeout; Reno's by default (RFC 5681 §3.1 eq. 4). Called on the first of
   * a run of timeouts only, before the window collapses.
   */
  protected thresholdAfterTimeout(): number {
    return halvedThreshold(this.flightAtTimeout(), this.path.mss);
  }

  /** Extra state to reset after a timeout. */
  protected afterTimeout(_now: number): void {}

  /** An ACK of new data; `mayGrow` is false in recovery and while application-limited. */
  protected abstract handleAck(now: number, ev: AckEvent, mayGrow: boolean): void;

  /** The multiplicative decrease for a congestion event. */
  protected abstract reduce(now: number, ev: LossEvent): void;
}

/**
 * Reno's frame, shared by Reno and the coupled controllers (RFC 6356 §3 keeps slow start and
 * the decrease uncoupled): slow start with byte counting, then a congestion-avoidance increase
 * that each subclass defines, and on loss ssthresh = cwnd = max(FlightSize/2, 2*SMSS).
 */
export abstract class RenoFrameController extends WindowController {
  protected handleAck(now: number, ev: AckEvent, mayGrow: boolean): void {
    this.observeAck(now, ev);
    if (!mayGrow) return;
    if (this.inSlowStart()) {
      this.cwnd += slowStartIncrement(ev.ackedBytes, this.path.mss);
    } else {
      this.congestionAvoidance(now, ev);
    }
  }

  protected reduce(now: number, ev: LossEvent): void {
    this.ssthreshBytes = this.thresholdAfterLoss(ev);
    // RFC 6582 §3.2 (full ACK) / RFC 6675: leave recovery at ssthresh; we deflate at once. A loss
    // never opens the window (a flight larger than cwnd, as right after a timeout, would).
    this.cwnd = Math.min(this.cwnd, this.ssthreshBytes);
    this.afterReduction(now, ev);
  }

  /** Bookkeeping every ACK gets, growing or not. */
  protected observeAck(_now: number, _ev: AckEvent): void {}

  /** Reno's decrease by default: RFC 5681 §3.2 step 2. */
  protected thresholdAfterLoss(ev: LossEvent): number {
    return halvedThreshold(ev.priorInFlight, this.path.mss);
  }

  protected afterReduction(_now: number, _ev: LossEvent): void {}

  /** Growth for one ACK in congestion avoidance. */
  protected abstract congestionAvoidance(now: number, ev: AckEvent): void;
}

/** One subflow as the coupled formulas see it. */
export interface CoupledSubflow {
  readonly controller: CongestionController;
  /** Congestion window, bytes. */
  readonly window: number;
  readonly mss: number;
  /** Smoothed RTT, ms (> 0). */
  readonly srtt: number;
  readonly self: boolean;
}

/**
 * The subflows a coupled controller counts: every member with an RTT sample (a window without
 * an RTT has no rate; the Linux modules skip such subflows too). The caller's own entry uses
 * its exact, unrounded window, and is added if the group happens not to list it.
 */
export function coupledSubflows(
  group: CcGroup,
  self: CongestionController,
  selfPath: CcPath,
  selfWindow: number,
): CoupledSubflow[] {
  const out: CoupledSubflow[] = [];
  let sawSelf = false;
  for (const m of group.members()) {
    const isSelf = m.controller === self;
    sawSelf ||= isSelf;
    if (!(m.path.srtt > 0)) continue;
    const window = isSelf ? selfWindow : m.controller.window();
    const { mss, srtt } = m.path;
    out.push({ controller: m.controller, window, mss, srtt, self: isSelf });
  }
  if (!sawSelf && selfPath.srtt > 0) {
    const { mss, srtt } = selfPath;
    out.push({ controller: self, window: selfWindow, mss, srtt, self: true });
  }
  return out;
}
