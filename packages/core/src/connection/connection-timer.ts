/** A connection's timers (one TimerTable); handleTimeout runs the expired ones in this order. */
export enum ConnectionTimer {
  /** No data acknowledged or delivered for idleTimeoutMs: abort. */
  Idle,
  /** Both DATA_FINs are acknowledged; the subflow FIN exchange gets this long. */
  Linger,
  /** Derived: the earliest deadline of any subflow. */
  Subflows,
  /** Window probe while the peer's window is closed (RFC 9293 §3.8.6.1, RFC 8684 §3.3.4). */
  Persist,
  /** Derived: an unechoed ADD_ADDR is due again (RFC 8684 §3.4.1). */
  AddAddr,
  /** A bare DATA_FIN was not acknowledged: the next poll sends it again (RFC 8684 §3.3.3). */
  BareFin,
  /** Data the peer's subflow acknowledged stays without DATA_ACK: send it again (RFC 8684 §3.3.6). */
  DataRetransmit,
  /** The peer withdrew the last subflow's address and no new subflow came (RFC 8684 §3.4.2). */
  NoSubflow,
  /** We fell back on unmapped data and asked the peer to follow with MP_FAIL (RFC 8684 §3.7). */
  FallbackAnswer,
}

export const CONNECTION_TIMER_KINDS = ConnectionTimer.FallbackAnswer + 1;
