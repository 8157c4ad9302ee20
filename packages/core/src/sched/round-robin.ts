/**
 * Round-robin: successive chunks go to successive subflows of the usable tier that have
 * room, in id order, wrapping around. Mostly useful for tests and to compare against
 * minRTT; on paths of different RTT it causes head-of-line blocking at the receiver.
 *
 * The cursor is the id of the last subflow served rather than an index, so it stays
 * meaningful when subflows join, leave or are momentarily full.
 */
import type { SchedDecision, SchedInput, Scheduler, SchedSubflow } from './scheduler.js';
import { WAIT, hasRoom, usableTier } from './candidates.js';

export class RoundRobinScheduler implements Scheduler {
  readonly name = 'roundrobin';
  private lastId: number | undefined;

  pick(input: SchedInput): SchedDecision {
    let lowest: SchedSubflow | undefined;
    let next: SchedSubflow | undefined;
    for (const s of usableTier(input.subflows)) {
      if (!hasRoom(s)) continue;
      if (lowest === undefined || s.id < lowest.id) lowest = s;
      // The smallest id after the last one served.
      if (this.lastId !== undefined && s.id > this.lastId && (next === undefined || s.id < next.id)) next = s;
    }
    const chosen = next ?? lowest;
    if (chosen === undefined) return WAIT;
    this.lastId = chosen.id;
    return [chosen.id];
  }
}

export function roundRobinScheduler(): Scheduler {
  return new RoundRobinScheduler();
}
