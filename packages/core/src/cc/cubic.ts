/**
 * CUBIC (RFC 9438) with HyStart++ (RFC 9406) in its first slow start. Windows are kept in
 * bytes; the cubic function works in segments, as the RFC states it, and is scaled by MSS.
 */
import type { AckEvent, CcPath, LossEvent } from './controller.js';
import {
  MIN_WINDOW_SEGMENTS,
  WindowController,
  ackedDataSentSince,
  slowStartIncrement,
} from './common.js';

/** RFC 9438 §5.1: C = 0.4 (segments / s³). */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.6: β_cubic = 0.7. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β), an AIMD as fast as Reno on average. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 §4.2 eq. 1: W_cubic(t) = C(t − K)³ + W_max, in segments, t and K in seconds. */
export function cubicWindowSegments(tSec: number, kSec: number, wMaxSegments: number): number {
  return CUBIC_C * (tSec - kSec) ** 3 + wMaxSegments;
}

/** RFC 9438 §4.2 eq. 2: K = ∛((W_max − cwnd_epoch) / C), in seconds. */
export function cubicK(wMaxSegments: number, cwndEpochSegments: number): number {
  return Math.cbrt((wMaxSegments - cwndEpochSegments) / CUBIC_C);
}

export interface CubicOptions {
  /** RFC 9438 §4.7 fast convergence (default on). */
  fastConvergence?: boolean;
  /** HyStart++ in the first slow start (default on). */
  hystart?: boolean;
}

/** State of one congestion-avoidance stage (RFC 9438 §4.2–4.3). */
interface CubicEpoch {
  /** Time origin t = 0, ms. */
  start: number;
  kSec: number;
  wMaxSegments: number;
  /** RFC 9438 §4.3: Reno-friendly estimate, bytes. */
  wEst: number;
  /** RFC 9438 §4.3: cwnd before the last reduction, bytes (α switches to 1 past it). */
  cwndPrior: number;
}

export class CubicController extends WindowController {
  readonly name: string = 'cubic';
  private readonly fastConvergence: boolean;
  private readonly hystart: HyStartPlusPlus | undefined;
  /** W_max of the last congestion event, bytes; undefined before the first. */
  private wMax: number | undefined;
  /** cwnd before the last reduction, bytes. */
  private cwndPrior: number | undefined;
  /** Time of the congestion event that opens the next epoch, ms. */
  private pendingOrigin: number | undefined;
  private epoch: CubicEpoch | undefined;
  private lastAckAt: number | undefined;

  constructor(path: CcPath, options: CubicOptions = {}) {
    super(path);
    this.fastConvergence = options.fastConvergence ?? true;
    this.hystart = (options.hystart ?? true) ? new HyStartPlusPlus() : undefined;
  }

  /** The current epoch's W_max in bytes and K in seconds, for inspection and tests. */
  epochState(): { wMax: number; kSec: number; start: number } | undefined {
    if (this.epoch === undefined) return undefined;
    const { wMaxSegments, kSec, start } = this.epoch;
    return { wMax: wMaxSegments * this.path.mss, kSec, start };
  }

  protected handleAck(now: number, ev: AckEvent, mayGrow: boolean): void {
    const previousAck = this.lastAckAt;
    this.lastAckAt = now;
    if (this.inSlowStart()) {
      const divisor = this.hystart?.onAck(now, ev, mayGrow) ?? 1;
      if (divisor === 'exit') {
        // RFC 9406 §4.2: after CSS_ROUNDS, ssthresh = cwnd and congestion avoidance begins.
        this.ssthreshBytes = this.cwnd;
        return;
      }
      if (mayGrow) this.cwnd += slowStartIncrement(ev.ackedBytes, this.path.mss) / divisor;
      return;
    }
    if (ev.appLimited && previousAck !== undefined) {
      // RFC 9438 §5.8: t must not count time the flow spent application-limited.
      if (this.epoch !== undefined) this.epoch.start += now - previousAck;
      if (this.pendingOrigin !== undefined) this.pendingOrigin += now - previousAck;
    }
    if (!mayGrow) return;
    this.congestionAvoidance(now, ev);
  }

  private congestionAvoidance(now: number, ev: AckEvent): void {
    const mss = this.path.mss;
    const epoch = (this.epoch ??= this.openEpoch(now));
    const tSec = (now - epoch.start) / 1000;
    // RFC 9438 §4.3: W_est grows by α_cubic segments per RTT; α becomes 1 once past cwnd_prior.
    const alpha = epoch.wEst >= epoch.cwndPrior ? 1 : CUBIC_ALPHA;
    epoch.wEst += (alpha * ev.ackedBytes * mss) / this.cwnd;
    const wCubic = cubicWindowSegments(tSec, epoch.kSec, epoch.wMaxSegments) * mss;
    if (wCubic < epoch.wEst) {
      // RFC 9438 §4.3: the Reno-friendly region.
      this.cwnd = epoch.wEst;
      return;
    }
    // RFC 9438 §4.2: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd].
    const rttSec = this.path.srtt / 1000;
    const ahead = cubicWindowSegments(tSec + rttSec, epoch.kSec, epoch.wMaxSegments) * mss;
    const target = Math.min(Math.max(ahead, this.cwnd), 1.5 * this.cwnd);
    // RFC 9438 §4.4–4.5: cwnd += (target − cwnd)/cwnd per segment acked, here per byte.
    this.cwnd += ((target - this.cwnd) * ev.ackedBytes) / this.cwnd;
  }

  /**
   * The epoch that starts with this congestion-avoidance stage. After a congestion event its
   * origin is the event; after a timeout or a loss-free slow-start exit, K = 0 and W_max is the
   * window now (RFC 9438 §4.8, §4.10).
   */
  private openEpoch(now: number): CubicEpoch {
    const mss = this.path.mss;
    const cwndSegments = this.cwnd / mss;
    const cwndPrior = this.cwndPrior ?? this.cwnd;
    if (this.pendingOrigin !== undefined && this.wMax !== undefined) {
      const wMaxSegments = this.wMax / mss;
      const start = this.pendingOrigin;
      this.pendingOrigin = undefined;
      return {
        start,
        kSec: Math.max(0, cubicK(wMaxSegments, cwndSegments)),
        wMaxSegments,
        wEst: this.cwnd,
        cwndPrior,
      };
    }
    this.wMax = this.cwnd;
    return { start: now, kSec: 0, wMaxSegments: cwndSegments, wEst: this.cwnd, cwndPrior };
  }

  protected reduce(now: number, ev: LossEvent): void {
    // RFC 9438 §4.6: ssthresh = max(flight_size * β, 2 segments).
    this.reduceTo(now, ev.priorInFlight * CUBIC_BETA);
  }

  /**
   * A multiplicative decrease to `threshold` bytes (at least 2 segments): W_max, cwnd_prior,
   * ssthresh and the next epoch's origin are set as after a congestion event.
   */
  protected reduceTo(now: number, threshold: number): void {
    const mss = this.path.mss;
    // RFC 9438 §4.7: fast convergence lowers W_max when the window did not regain the last one.
    this.wMax =
      this.fastConvergence && this.wMax !== undefined && this.cwnd < this.wMax
        ? (this.cwnd * (1 + CUBIC_BETA)) / 2
        : this.cwnd;
    // RFC 9438 §4.6: cwnd = ssthresh, never below 2 segments (capped by the window it had, so
    // that a loss never opens it).
    this.cwndPrior = this.cwnd;
    this.ssthreshBytes = Math.max(threshold, MIN_WINDOW_SEGMENTS * mss);
    this.cwnd = Math.min(this.cwnd, this.ssthreshBytes);
    // The brief puts t = 0 at the congestion event; K comes from cwnd_epoch = the reduced window.
    this.pendingOrigin = now;
    this.epoch = undefined;
    this.hystart?.finish();
  }

  protected override thresholdAfterTimeout(): number {
    // Called once per run of timeouts, before the window collapses: remember it (§4.6).
    this.cwndPrior = this.cwnd;
    // RFC 9438 §4.8: on a timeout ssthresh is set with β_cubic, not Reno's 1/2.
    return Math.max(this.flightAtTimeout() * CUBIC_BETA, MIN_WINDOW_SEGMENTS * this.path.mss);
  }

  protected override afterTimeout(): void {
    // RFC 9438 §4.8: the first stage after a timeout uses K = 0 and W_max = cwnd at its start.
    this.wMax = undefined;
    this.pendingOrigin = undefined;
    this.epoch = undefined;
    this.hystart?.finish();
  }
}

/** RFC 9406 §4.3 constants. */
const MIN_RTT_THRESH_MS = 4;
const MAX_RTT_THRESH_MS = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;

/**
 * HyStart++ (RFC 9406): leaves slow start for Conservative Slow Start when the round's minimum
 * RTT rises, and for congestion avoidance after CSS_ROUNDS rounds of CSS. A round ends at the
 * first ACK for data sent after it began (dated by the RTT sample; RFC 9406 uses SND.NXT).
 * Only the first slow start uses it (RFC 9406 §4.2, last paragraphs).
 */
class HyStartPlusPlus {
  private phase: 'slow-start' | 'css' | 'done' = 'slow-start';
  private roundStart: number | undefined;
  private lastRoundMinRtt = Infinity;
  private currentRoundMinRtt = Infinity;
  private rttSampleCount = 0;
  private cssBaselineMinRtt = Infinity;
  private cssRounds = 0;

  /** Feeds one ACK in slow start; the growth divisor, or 'exit' to enter avoidance. */
  onAck(now: number, ev: AckEvent, mayGrow: boolean): number | 'exit' {
    if (this.phase === 'done') return 1;
    if (this.roundStart === undefined) {
      this.roundStart = now;
    } else if (ackedDataSentSince(now, ev, this.roundStart) === true) {
      // RFC 9406 §4.2: a new round begins.
      this.roundStart = now;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
      if (this.phase === 'css' && ++this.cssRounds >= CSS_ROUNDS) {
        this.phase = 'done';
        return 'exit';
      }
    }
    if (ev.rttSample !== undefined) {
      this.currentRoundMinRtt = Math.min(this.currentRoundMinRtt, ev.rttSample);
      this.rttSampleCount++;
    }
    // Delay signals while application-limited say nothing about the path's capacity.
    if (!mayGrow || this.rttSampleCount < N_RTT_SAMPLE) return this.divisor();
    if (this.phase === 'slow-start') {
      if (this.lastRoundMinRtt !== Infinity && this.currentRoundMinRtt !== Infinity) {
        const thresh = Math.max(
          MIN_RTT_THRESH_MS,
          Math.min(this.lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH_MS),
        );
        if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
          this.cssBaselineMinRtt = this.currentRoundMinRtt;
          this.phase = 'css';
          this.cssRounds = 0;
        }
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // RFC 9406 §4.2: the RTT rise was spurious; back to slow start.
      this.cssBaselineMinRtt = Infinity;
      this.phase = 'slow-start';
    }
    return this.divisor();
  }

  /** A loss or timeout ends HyStart++ for the rest of the connection. */
  finish(): void {
    this.phase = 'done';
  }

  private divisor(): number {
    return this.phase === 'css' ? CSS_GROWTH_DIVISOR : 1;
  }
}
