/**
 * The scheduler contract. A scheduler picks which subflow(s) carry the next chunk of new
 * data, or says wait; it writes no bytes and keeps no copy of data. Reinjection of data
 * stranded on a failed subflow is the connection's job.
 */

/** What a scheduler may read of one subflow. */
export interface SchedSubflow {
  readonly id: number;
  /** Marked backup by either side (MP_JOIN B flag or MP_PRIO). */
  readonly backup: boolean;
  /** Smoothed RTT, ms; 0 before the first sample. */
  readonly srtt: number;
  /** RTT variation, ms (RFC 6298). */
  readonly rttVar: number;
  /** Congestion window, bytes. */
  readonly cwnd: number;
  readonly bytesInFlight: number;
  /** Sender MSS, payload bytes. */
  readonly mss: number;
  /** Bytes this subflow may put on the wire right now (congestion and subflow window). */
  readonly sendable: number;
  /** Retransmission timeouts without progress: the path may be dead (RFC 8684 §3.3.6). */
  readonly potentiallyFailed: boolean;
}

export interface SchedInput {
  /** Established subflows that may carry data. */
  readonly subflows: readonly SchedSubflow[];
  /** Bytes written by the application and not yet given to any subflow. */
  readonly unsentBytes: number;
  /** Room left in the peer's data-level receive window, bytes (RFC 8684 §3.3.4). */
  readonly peerWindowRemaining: number;
}

/**
 * The subflow ids to carry the next chunk (more than one means redundant copies), or an
 * empty array to wait until something changes (an ACK, a timer, a new subflow).
 */
export type SchedDecision = readonly number[];

export interface Scheduler {
  readonly name: string;
  pick(input: SchedInput): SchedDecision;
}

export type SchedulerFactory = () => Scheduler;
