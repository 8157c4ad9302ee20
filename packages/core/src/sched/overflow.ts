/**
 * Overflow: paths are ranked regular before backup, then by RTT; the first path takes
 * the traffic, and the next one in rank gets a chunk only when every path ahead of it is
 * full (sendable 0). Unlike minRTT, the spill crosses into backup subflows: a backup path
 * (say a metered cellular link) adds capacity when the regular ones are saturated,
 * instead of sitting idle until they fail. Potentially failed subflows are never used.
 */
import type { SchedDecision, SchedInput, Scheduler } from './scheduler.js';
import { WAIT, fastestWithRoom, usableByPriority } from './candidates.js';

export class OverflowScheduler implements Scheduler {
  readonly name = 'overflow';

  pick(input: SchedInput): SchedDecision {
    const { regular, backup } = usableByPriority(input.subflows);
    const chosen = fastestWithRoom(regular) ?? fastestWithRoom(backup);
    return chosen === undefined ? WAIT : [chosen.id];
  }
}

export function overflowScheduler(): Scheduler {
  return new OverflowScheduler();
}
