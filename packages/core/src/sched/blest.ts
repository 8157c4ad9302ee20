/**
 * BLEST, blocking-estimation scheduler (Ferlin, Alay, Mehani, Boreli, "BLEST: Blocking
 * Estimation-based MPTCP Scheduler for Heterogeneous Networks", IFIP Networking 2016).
 *
 * Like minRTT it sends on the fastest subflow when that one has room. When it is full
 * and only a slower subflow has room, BLEST asks whether a segment put on the slow path
 * now would hold the data-level window while the fast path runs out of room: a segment
 * on the slow path stays unacknowledged at the data level for about one slow RTT, and
 * everything the fast path sends meanwhile must fit in the peer's window beside it. If
 * it would not fit, the slow segment would block the fast path (head-of-line blocking
 * at the sender), so BLEST waits for the fast path instead.
 */
import type { SchedDecision, SchedInput, Scheduler, SchedSubflow } from './scheduler.js';
import { WAIT, fastOrSlow } from './candidates.js';

export interface BlestOptions {
  /**
   * Scale on the fast path's estimated send volume (the paper's lambda): above 1 waits
   * more readily. The paper adapts it between runs of blocking; we keep it fixed because
   * the scheduler input carries no blocking signal. Default 1.2, the starting value of
   * the authors' Linux module.
   */
  readonly lambda?: number;
}

export const DEFAULT_BLEST_LAMBDA = 1.2;

/**
 * Bytes the fast subflow can send during `duration` ms (BLEST's X): with
 * r = duration / rtt_f rounds and a window that grows by one MSS per round in
 * congestion avoidance, X = MSS_f * (cwnd_f + (r - 1) / 2) * r, where cwnd_f is in
 * segments. Our cwnd is in bytes, hence (cwnd + MSS * (r - 1) / 2) * r.
 */
export function blestFastPathBytes(fast: SchedSubflow, duration: number): number {
  const rounds = duration / fast.srtt;
  return (fast.cwnd + (fast.mss * (rounds - 1)) / 2) * rounds;
}

export class BlestScheduler implements Scheduler {
  readonly name = 'blest';
  readonly lambda: number;

  constructor(options: BlestOptions = {}) {
    const lambda = options.lambda ?? DEFAULT_BLEST_LAMBDA;
    if (!(lambda > 0) || !Number.isFinite(lambda)) {
      throw new RangeError(`BLEST lambda must be a positive finite number, got ${lambda}`);
    }
    this.lambda = lambda;
  }

  pick(input: SchedInput): SchedDecision {
    const choice = fastOrSlow(input.subflows);
    if ('decided' in choice) return choice.decided;
    const { fast, slow } = choice;

    // The fast path's send volume during one slow-path RTT, scaled by lambda.
    const fastBytes = this.lambda * blestFastPathBytes(fast, slow.srtt);
    // The paper compares X with the send window minus the slow path's data
    // (its in-flight segments plus this one). peerWindowRemaining already excludes all
    // data in flight, the slow path's included, so only this chunk is taken off. It
    // also excludes the fast path's in-flight data, which may be acknowledged within
    // that RTT: the test errs towards waiting.
    const slowChunk = Math.min(slow.mss, input.unsentBytes);
    const room = input.peerWindowRemaining - slowChunk;
    return fastBytes > room ? WAIT : [slow.id];
  }
}

export function blestScheduler(options?: BlestOptions): Scheduler {
  return new BlestScheduler(options);
}
