/**
 * The filtering every scheduler shares: which subflows may be used at all, which have
 * room now, and which is fastest. Kept in one place so the schedulers agree on what
 * "usable", "room" and "lowest RTT" mean.
 */
import type { SchedDecision, SchedSubflow } from './scheduler.js';

/** The decision that sends nothing: wait for an ACK, a timer or a new subflow. */
export const WAIT: SchedDecision = Object.freeze([]);

/**
 * A subflow a scheduler may consider: not suspected dead after repeated retransmission
 * timeouts (RFC 8684 §3.3.6). The input already holds established subflows only.
 */
export function isUsable(subflow: SchedSubflow): boolean {
  return !subflow.potentiallyFailed;
}

/** The subflow may put new bytes on the wire now (congestion and subflow window). */
export function hasRoom(subflow: SchedSubflow): boolean {
  // Written as a positive test so NaN counts as "no room".
  return subflow.sendable > 0;
}

/**
 * The subflows a scheduler chooses among: the usable regular (non-backup) ones, or, only
 * when there is none, the usable backup ones. A backup subflow (MP_JOIN B flag, RFC 8684
 * §3.2; MP_PRIO, §3.3.8) carries data only when no regular subflow can; a regular one
 * that is merely full still counts as usable, so backups are not used to add capacity.
 */
export function usableTier(subflows: readonly SchedSubflow[]): readonly SchedSubflow[] {
  const regular = subflows.filter((s) => !s.backup && isUsable(s));
  if (regular.length > 0) return regular;
  return subflows.filter((s) => s.backup && isUsable(s));
}

/** The usable regular subflows, then the usable backup ones, as two lists. */
export function usableByPriority(subflows: readonly SchedSubflow[]): {
  readonly regular: readonly SchedSubflow[];
  readonly backup: readonly SchedSubflow[];
} {
  return {
    regular: subflows.filter((s) => !s.backup && isUsable(s)),
    backup: subflows.filter((s) => s.backup && isUsable(s)),
  };
}

/** True when the subflow has an RTT sample (srtt 0 means none yet). */
export function hasRttSample(subflow: SchedSubflow): boolean {
  return subflow.srtt > 0;
}

/**
 * Orders subflows by preference: a measured RTT before an unknown one, then the lower
 * smoothed RTT, then the lower id so ties resolve the same way every time.
 *
 * Unknown RTT ranks last whenever some subflow has a sample: a fresh path is then used
 * once the measured ones are full, so it gets probed and gains a sample, but it never
 * takes traffic ahead of a path known to be fast. When no subflow has a sample yet, all
 * compare equal on RTT and the lowest id wins.
 */
export function compareByRtt(a: SchedSubflow, b: SchedSubflow): number {
  const aKnown = hasRttSample(a);
  const bKnown = hasRttSample(b);
  if (aKnown !== bKnown) return aKnown ? -1 : 1;
  if (aKnown && a.srtt !== b.srtt) return a.srtt - b.srtt;
  return a.id - b.id;
}

/** The most preferred subflow of the list (by compareByRtt), room or not. */
export function fastest(subflows: readonly SchedSubflow[]): SchedSubflow | undefined {
  let best: SchedSubflow | undefined;
  for (const s of subflows) {
    if (best === undefined || compareByRtt(s, best) < 0) best = s;
  }
  return best;
}

/** The most preferred subflow of the list that has room now. */
export function fastestWithRoom(subflows: readonly SchedSubflow[]): SchedSubflow | undefined {
  let best: SchedSubflow | undefined;
  for (const s of subflows) {
    if (!hasRoom(s)) continue;
    if (best === undefined || compareByRtt(s, best) < 0) best = s;
  }
  return best;
}

/** The subflows of the list that have room now, in input order. */
export function withRoom(subflows: readonly SchedSubflow[]): readonly SchedSubflow[] {
  return subflows.filter(hasRoom);
}

/**
 * The question head-of-line-aware schedulers (BLEST, ECF) answer: the fastest usable
 * subflow is full and a slower one has room: send there now, or wait for the fast one?
 * Every other case has a plain answer, returned as `decided`: the fast one has room, nobody
 * has room, or an RTT is unknown (then send as minRTT would, which also gives the
 * unmeasured path its first sample).
 */
export function fastOrSlow(subflows: readonly SchedSubflow[]): { decided: SchedDecision } | { fast: SchedSubflow; slow: SchedSubflow } {
  const tier = usableTier(subflows);
  const fast = fastest(tier);
  if (fast === undefined) return { decided: WAIT };
  if (hasRoom(fast)) return { decided: [fast.id] };
  const slow = fastestWithRoom(tier);
  if (slow === undefined) return { decided: WAIT };
  if (!hasRttSample(fast) || !hasRttSample(slow)) return { decided: [slow.id] };
  return { fast, slow };
}
