/**
 * Redundant: every subflow of the usable tier that has room gets a copy of the chunk, so
 * the fastest path to deliver it wins; latency for bandwidth. Backup subflows join only
 * when no regular subflow is usable (see usableTier). With no room anywhere, wait.
 */
import type { SchedDecision, SchedInput, Scheduler } from './scheduler.js';
import { WAIT, usableTier, withRoom } from './candidates.js';

export class RedundantScheduler implements Scheduler {
  readonly name = 'redundant';

  pick(input: SchedInput): SchedDecision {
    const ready = withRoom(usableTier(input.subflows));
    return ready.length === 0 ? WAIT : ready.map((s) => s.id);
  }
}

export function redundantScheduler(): Scheduler {
  return new RedundantScheduler();
}
