/** Hand-built scheduler inputs for the tests: a subflow is a default path plus overrides. */
import type { SchedInput, SchedSubflow } from '../../src/sched/scheduler.js';

export const MSS = 1400;

export function subflow(id: number, over: Partial<Omit<SchedSubflow, 'id'>> = {}): SchedSubflow {
  return {
    id,
    backup: false,
    srtt: 20,
    rttVar: 2,
    cwnd: 10 * MSS,
    bytesInFlight: 0,
    mss: MSS,
    sendable: 10 * MSS,
    potentiallyFailed: false,
    ...over,
  };
}

/** A subflow whose window is full: everything in flight, nothing sendable. */
export function full(id: number, over: Partial<Omit<SchedSubflow, 'id'>> = {}): SchedSubflow {
  const cwnd = over.cwnd ?? 10 * MSS;
  return subflow(id, { cwnd, bytesInFlight: cwnd, sendable: 0, ...over });
}

export function input(subflows: SchedSubflow[], over: Partial<Omit<SchedInput, 'subflows'>> = {}): SchedInput {
  return { subflows, unsentBytes: 100 * MSS, peerWindowRemaining: 1 << 20, ...over };
}
