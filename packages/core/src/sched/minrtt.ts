/**
 * minRTT, the default scheduler (the Linux MPTCP default): each chunk goes to the
 * lowest-RTT subflow that has room.
 *
 * - Only the usable tier is considered (see usableTier): regular subflows that are not
 *   potentially failed, or the backups when no regular subflow is usable at all.
 * - When the fastest subflow is full, the next-fastest one with room takes the chunk:
 *   minRTT fills paths in RTT order and does not hold data back for the fast path (that is
 *   what BLEST and ECF add). It does not cross from regular to backup subflows, though:
 *   if every regular subflow is usable but full, it waits.
 * - A subflow without an RTT sample ranks after every measured one, so it is probed once
 *   the measured paths are full; when no subflow has a sample, the lowest id goes first.
 */
import type { SchedDecision, SchedInput, Scheduler } from './scheduler.js';
import { WAIT, fastestWithRoom, usableTier } from './candidates.js';

export class MinRttScheduler implements Scheduler {
  readonly name = 'minrtt';

  pick(input: SchedInput): SchedDecision {
    const best = fastestWithRoom(usableTier(input.subflows));
    return best === undefined ? WAIT : [best.id];
  }
}

export function minRttScheduler(): Scheduler {
  return new MinRttScheduler();
}
