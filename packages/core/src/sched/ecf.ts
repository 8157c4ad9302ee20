/**
 * ECF, Earliest Completion First (Lim, Nahum, Towsley, Gibbens, "ECF: An MPTCP Path
 * Scheduler to Manage Heterogeneous Paths", CoNEXT 2017, Algorithm 1).
 *
 * Like minRTT it sends on the fastest subflow when that one has room. When it is full
 * and only a slower subflow has room, ECF compares two ways to finish the k bytes still
 * queued: wait for the fast path and send them all there, or put the next chunk on the
 * slow path now. It waits when the fast path would finish everything before the slow
 * path could deliver even this chunk, and the slow path would need at least two fast
 * RTTs (plus margin) to carry its share.
 */
import type { SchedDecision, SchedInput, Scheduler } from './scheduler.js';
import { WAIT, fastOrSlow } from './candidates.js';

export interface EcfOptions {
  /**
   * Hysteresis (the paper's beta): once ECF has chosen to wait, the bar to keep waiting
   * is raised by this fraction, so it does not flip between paths on small RTT changes.
   * Default 0.25, the paper's value.
   */
  readonly beta?: number;
}

export const DEFAULT_ECF_BETA = 0.25;

export class EcfScheduler implements Scheduler {
  readonly name = 'ecf';
  readonly beta: number;
  /** The paper's "waiting" flag: the last comparison chose to wait for the fast path. */
  private waiting = false;

  constructor(options: EcfOptions = {}) {
    const beta = options.beta ?? DEFAULT_ECF_BETA;
    if (!(beta >= 0) || !Number.isFinite(beta)) {
      throw new RangeError(`ECF beta must be a non-negative finite number, got ${beta}`);
    }
    this.beta = beta;
  }

  /** True while the hysteresis favours waiting (exposed for tests and statistics). */
  get isWaiting(): boolean {
    return this.waiting;
  }

  pick(input: SchedInput): SchedDecision {
    const choice = fastOrSlow(input.subflows);
    if ('decided' in choice) return choice.decided;
    const { fast, slow } = choice;

    const queued = Math.max(0, input.unsentBytes);
    // Windows in bytes, at least one segment so a collapsed window cannot divide by 0.
    const cwndFast = Math.max(fast.cwnd, fast.mss, 1);
    const cwndSlow = Math.max(slow.cwnd, slow.mss, 1);
    // delta: the larger RTT deviation, a margin for RTT noise.
    const delta = Math.max(fast.rttVar, slow.rttVar);

    // Fast path: wait for its window to open (one RTT), then k / cwnd_f more rounds.
    const fastFinish = (1 + queued / cwndFast) * fast.srtt;
    const slowOneRtt = (1 + (this.waiting ? this.beta : 0)) * (slow.srtt + delta);
    if (fastFinish < slowOneRtt) {
      // Slow path: k / cwnd_s rounds of its RTT, and never less than one RTT, since even
      // a single segment takes a full round trip to be acknowledged.
      const slowFinish = Math.max(1, queued / cwndSlow) * slow.srtt;
      if (slowFinish >= 2 * fast.srtt + delta) {
        this.waiting = true;
        return WAIT;
      }
      return [slow.id];
    }
    this.waiting = false;
    return [slow.id];
  }
}

export function ecfScheduler(options?: EcfOptions): Scheduler {
  return new EcfScheduler(options);
}
