/**
 * Congestion control as an event sink (the s2n-quic shape): the subflow reports what
 * happened, the controller answers with a window and a pacing rate. Controllers are
 * pure: no clock of their own, time arrives as `now` in milliseconds.
 */

/** What a controller may read of the subflow it serves. Read-only, always current. */
export interface CcPath {
  /** Sender maximum segment size (payload bytes). */
  readonly mss: number;
  /** Smoothed RTT in ms (RFC 6298), 0 before the first sample. */
  readonly srtt: number;
  /** Lowest RTT sample seen, ms, 0 before the first sample. */
  readonly minRtt: number;
  /** Bytes sent and neither acknowledged nor declared lost. */
  readonly bytesInFlight: number;
}

export interface AckEvent {
  /** Bytes newly acknowledged (cumulatively or by SACK). */
  ackedBytes: number;
  /** RTT sample from this ACK in ms, if it gave one. */
  rttSample?: number;
  /** Bytes in flight before this ACK was processed. */
  priorInFlight: number;
  /** True when the sender had nothing more to send (growth should be held back). */
  appLimited: boolean;
}

export interface LossEvent {
  /** Bytes declared lost. */
  lostBytes: number;
  /** Bytes in flight when the loss was detected. */
  priorInFlight: number;
}

/** One controller per subflow. */
export interface CongestionController {
  readonly name: string;
  /** Congestion window in bytes. */
  window(): number;
  /** Slow-start threshold in bytes (Infinity before the first loss). */
  ssthresh(): number;
  /** Pacing rate in bytes per second, derived from window and RTT. */
  pacingRate(): number;
  onSent(now: number, bytes: number): void;
  onAck(now: number, ev: AckEvent): void;
  /** A congestion event: called once per recovery episode, not once per lost segment. */
  onCongestionEvent(now: number, ev: LossEvent): void;
  /** The retransmission timer fired (RFC 5681 §3.1: back to one segment). */
  onRtoExpired(now: number): void;
}

/**
 * The read-only view a coupled controller has of its connection: every subflow that
 * carries data, this one included. Members are the same objects for the life of the
 * view; the list changes as subflows come and go.
 */
export interface CcGroup {
  members(): readonly CcMember[];
}

export interface CcMember {
  readonly path: CcPath;
  readonly controller: CongestionController;
}

/** Makes the controller of one subflow. Uncoupled algorithms ignore `group`. */
export type CcFactory = (path: CcPath, group: CcGroup) => CongestionController;
