/**
 * CUBIC with loss differentiation and a delay bound ("cubic-ld"), the default controller.
 *
 * Plain CUBIC (RFC 9438) reads every loss as a full queue. On radio links that drop a packet
 * in a thousand at random, that keeps the window far below the path's capacity. Here the
 * queue is estimated from delay, as Vegas, BBR (draft-cardwell-iccrg-bbr-congestion-control)
 * and LEDBAT (RFC 6817) do: the lowest RTT sample of a round, less the base RTT, is the
 * standing queue (jitter inflates single samples, but hardly the round's minimum).
 *   - A loss with no standing queue and a low recent loss rate is taken as random and does
 *     not reduce the window (the data is still retransmitted): TCP Veno's loss
 *     differentiation (Fu & Liew, 2003); the 2% loss ceiling is BBRv2's.
 *   - Any other loss is a congestion event and gets CUBIC's own decrease (β = 0.7).
 *   - A standing queue above the target (a quarter of the base RTT, 8–20 ms) through two
 *     rounds brings the window down by the share that queue takes of the RTT (at most by
 *     a fifth), so that the queue drains to half the target and the link stays full. CUBIC's
 *     window function then plateaus near the window that built the queue (W_max).
 *   - The base RTT is a windowed minimum, refreshed by a short drain every 10 s; a queue that
 *     outlives our drain belongs to another sender, and the delay bound steps aside (below).
 * Growth, slow start (with HyStart++), the timeout response and pacing are CUBIC's.
 */
import type { AckEvent, CcPath, LossEvent } from './controller.js';
import { CubicController } from './cubic.js';
import { MIN_WINDOW_SEGMENTS, ackedDataSentSince } from './common.js';

/** The standing-queue target is this share of the path's minimum RTT… */
export const QUEUE_TARGET_SHARE = 0.25;
/**
 * …kept within these bounds, ms. The floor is for user space: a busy event loop at either end
 * adds milliseconds to every sample of a round, a queue no window built. Through the apps on
 * a loaded 2-core machine a 5 ms floor kept 57–62% of wifi + lte, 8 ms 77–80%; in the
 * simulator 8 ms still leaves round trips beside a download within 1.3× of idle.
 */
export const QUEUE_TARGET_MIN_MS = 8;
export const QUEUE_TARGET_MAX_MS = 20;
/** The deepest cut the delay bound makes in one step (a loss cuts by β = 0.7). */
export const DELAY_CUT_FLOOR = 0.8;
/** A queue left after our drain deeper than this many targets means a competing sender. */
export const COMPETING_QUEUE_TARGETS = 2;
/** Delay cuts in a row that leave the queue above target before the flow drains to look. */
const UNANSWERED_CUTS_TO_DRAIN = 4;
/** A recent loss rate at or above this (by bytes) makes every loss a congestion event. */
export const RANDOM_LOSS_CEILING = 0.02;
/** Per-round decay of the loss-rate sums: about the last eight rounds count. */
const LOSS_RATE_DECAY = 7 / 8;
/** Fewer RTT samples than this in a round say too little about its minimum. */
const MIN_ROUND_SAMPLES = 4;
/**
 * The base RTT is the lowest sample of the last 10 s; when it is that old, the flow drains
 * its share of the queue for at least 200 ms and a round to see the path's RTT again (BBR's
 * ProbeRTT, with its constants). Without it a flow that starts behind another's queue counts
 * that queue as propagation and keeps it (the latecomer problem of delay-based senders).
 */
export const BASE_RTT_WINDOW_MS = 10_000;
export const DRAIN_MIN_MS = 200;
/** The window while draining: this share of cwnd (at least MIN_WINDOW_SEGMENTS). */
const DRAIN_WINDOW_SHARE = 0.5;

/** The standing-queue target for a path with this base RTT, ms. */
export function queueTargetMs(minRttMs: number): number {
  return Math.min(QUEUE_TARGET_MAX_MS, Math.max(QUEUE_TARGET_MIN_MS, minRttMs * QUEUE_TARGET_SHARE));
}

export class CubicLdController extends CubicController {
  override readonly name: string = 'cubic-ld';
  /** When the current round began (its first ACK), ms; undefined before any ACK. */
  private roundStart: number | undefined;
  private roundMinRtt = Infinity;
  private roundSamples = 0;
  /** The minimum RTT of the last two complete rounds, ms (Infinity before they had enough samples). */
  private lastRoundMinRtt = Infinity;
  private previousRoundMinRtt = Infinity;
  private roundAcked = 0;
  private roundLost = 0;
  /** Decaying sums of bytes acknowledged and lost over the last rounds. */
  private ackedSum = 0;
  private lostSum = 0;
  /** Lowest RTT sample of the current base-RTT window, ms (0 before any), and when it was taken. */
  private baseRttMs = 0;
  private baseRttAt = 0;
  /** While draining: when it began and the lowest sample since; undefined otherwise. */
  private drainStart: number | undefined;
  private drainMinRtt = Infinity;
  /**
   * Another sender keeps a queue that our cuts do not drain (a loss-based TCP on the same
   * bottleneck): the delay bound would only hand it our share, so it is off, and every loss
   * is a congestion event (plain CUBIC), until a drain finds the queue empty again. Copa
   * (Arun & Balakrishnan, NSDI 2018) and BBRv2 step back from delay targets the same way.
   */
  private competing = false;
  /** Delay cuts in a row after which the queue was still above target. */
  private unansweredCuts = 0;
  /** Losses taken as random or as congestion, and delay-driven decreases, for inspection and tests. */
  randomLosses = 0;
  congestionLosses = 0;
  delayReductions = 0;

  constructor(path: CcPath) {
    super(path);
  }

  /** The base RTT: the lowest sample of the last 10 s or of the last drain, ms (0 before any). */
  baseRtt(): number {
    return this.baseRttMs;
  }

  /** True while another sender's queue has turned the delay bound off. */
  competingMode(): boolean {
    return this.competing;
  }

  /** True while the flow holds its window down to see the path's RTT without its queue. */
  draining(): boolean {
    return this.drainStart !== undefined;
  }

  override window(): number {
    const w = super.window();
    if (this.drainStart === undefined) return w;
    return Math.max(Math.floor(w * DRAIN_WINDOW_SHARE), MIN_WINDOW_SEGMENTS * this.path.mss);
  }

  /** The standing queue the last rounds show, ms (0 before there is a measure). */
  standingQueueMs(): number {
    const roundMin = this.roundSamples >= MIN_ROUND_SAMPLES ? this.roundMinRtt : Infinity;
    const recentMin = Math.min(roundMin, this.lastRoundMinRtt);
    if (!(this.baseRttMs > 0) || recentMin === Infinity) return 0;
    return Math.max(0, recentMin - this.baseRttMs);
  }

  /** Bytes lost over bytes acknowledged, in the last rounds. */
  recentLossRate(): number {
    const lost = this.lostSum + this.roundLost;
    const acked = this.ackedSum + this.roundAcked;
    return lost / Math.max(acked + lost, 1);
  }

  override onAck(now: number, ev: AckEvent): void {
    this.roundAcked += ev.ackedBytes;
    if (ev.rttSample !== undefined) {
      this.roundMinRtt = Math.min(this.roundMinRtt, ev.rttSample);
      this.roundSamples++;
      this.sampleBaseRtt(now, ev.rttSample);
    }
    super.onAck(now, ev);
    this.maybeEndDrain(now, ev);
    if (this.roundStart === undefined) this.roundStart = now;
    // A round ends at the first ACK for data sent after it began (as HyStart++ counts them).
    const ended = ackedDataSentSince(now, ev, this.roundStart) ?? now - this.roundStart >= this.path.srtt;
    if (ended) this.endRound(now, ev);
  }

  override onCongestionEvent(now: number, ev: LossEvent): void {
    this.roundLost += ev.lostBytes;
    const random =
      !this.competing &&
      this.standingQueueMs() < queueTargetMs(this.baseRttMs) &&
      this.recentLossRate() < RANDOM_LOSS_CEILING;
    if (random) {
      // The loss is repaired, but it says nothing about a queue: keep the window.
      this.randomLosses++;
      return;
    }
    this.congestionLosses++;
    super.onCongestionEvent(now, ev);
  }

  private sampleBaseRtt(now: number, rtt: number): void {
    if (this.drainStart !== undefined) this.drainMinRtt = Math.min(this.drainMinRtt, rtt);
    if (this.baseRttMs === 0 || rtt <= this.baseRttMs) {
      this.baseRttMs = rtt;
      this.baseRttAt = now;
    } else if (now - this.baseRttAt > BASE_RTT_WINDOW_MS) {
      this.startDrain(now, rtt);
    }
  }

  private startDrain(now: number, rtt: number): void {
    if (this.drainStart !== undefined) return;
    this.drainStart = now;
    this.drainMinRtt = rtt;
  }

  /** A drain ends after DRAIN_MIN_MS and one round; its lowest sample is the new base RTT. */
  private maybeEndDrain(now: number, ev: AckEvent): void {
    const start = this.drainStart;
    if (start === undefined || now - start < DRAIN_MIN_MS) return;
    if (ackedDataSentSince(now, ev, start) === false) return;
    this.drainStart = undefined;
    // Compared with the lowest RTT the path ever showed: a queue that outlived our drain is
    // someone else's.
    const floor = this.path.minRtt > 0 ? Math.min(this.path.minRtt, this.drainMinRtt) : this.drainMinRtt;
    this.competing = this.drainMinRtt - floor > COMPETING_QUEUE_TARGETS * queueTargetMs(floor);
    this.unansweredCuts = 0;
    this.baseRttMs = this.drainMinRtt;
    this.baseRttAt = now;
    // The rounds before the drain measured against the old base.
    this.lastRoundMinRtt = Infinity;
    this.previousRoundMinRtt = Infinity;
  }

  private endRound(now: number, ev: AckEvent): void {
    this.ackedSum = this.ackedSum * LOSS_RATE_DECAY + this.roundAcked;
    this.lostSum = this.lostSum * LOSS_RATE_DECAY + this.roundLost;
    this.roundStart = now;
    this.roundAcked = 0;
    this.roundLost = 0;
    // A small window gives few samples a round: its queue measure spans rounds until it has enough.
    if (this.roundSamples < MIN_ROUND_SAMPLES) return;
    this.previousRoundMinRtt = this.lastRoundMinRtt;
    this.lastRoundMinRtt = this.roundMinRtt;
    this.roundMinRtt = Infinity;
    this.roundSamples = 0;
    // While application-limited the window is not what built the queue.
    if (!ev.appLimited && !this.recovery.active && this.drainStart === undefined) this.boundQueue(now);
  }

  /**
   * The delay bound: a queue above target through two whole rounds drains. One round is not
   * enough: in user space a busy event loop at either end delays every sample of a round, and
   * cutting for that would starve the flow without shortening any queue.
   */
  private boundQueue(now: number): void {
    const minRtt = this.baseRttMs;
    const twoRounds = Math.max(this.lastRoundMinRtt, this.previousRoundMinRtt);
    if (!(minRtt > 0) || twoRounds === Infinity) return;
    const queue = Math.min(this.lastRoundMinRtt, this.previousRoundMinRtt) - minRtt;
    const target = queueTargetMs(minRtt);
    if (queue <= target) {
      this.unansweredCuts = 0;
      return;
    }
    if (this.competing) return;
    if (this.unansweredCuts >= UNANSWERED_CUTS_TO_DRAIN) {
      // Our cuts have not moved the queue: drain now to see whose it is.
      this.startDrain(now, this.lastRoundMinRtt);
      return;
    }
    this.unansweredCuts++;
    // The window that leaves half the target queued: cwnd × (minRtt + target/2) / (minRtt + queue),
    // and no deeper a cut than DELAY_CUT_FLOOR.
    const factor = Math.max(DELAY_CUT_FLOOR, (minRtt + target / 2) / (minRtt + queue));
    // The rounds measured so far saw the window before the cut.
    this.lastRoundMinRtt = Infinity;
    this.previousRoundMinRtt = Infinity;
    this.delayReductions++;
    this.recovery.enter(now, this.path.srtt);
    this.reduceTo(now, this.window() * factor);
  }
}
