/**
 * One segment of a subflow's send queue. It lives from the moment the connection assigns
 * data to the subflow until the subflow's cumulative ACK passes it, so a retransmission
 * carries the same bytes and the same DSS mapping as the original (RFC 8684 §3.3).
 */
export interface SentSegment {
  /** Subflow-relative sequence of the first byte (0 = first byte after the SYN). */
  rel: number;
  /** Payload bytes. */
  data: Uint8Array;
  /** Connection-level offset of data[0], or -1 for a segment with no mapping (bare FIN). */
  dataOffset: number;
  /** The DATA_FIN rides this segment (occupies one DSN after the data). */
  dataFin: boolean;
  /** TCP FIN: occupies one subflow sequence number after the data. */
  fin: boolean;
  /** Time of the latest transmission (ms), -1 while never sent. */
  xmitTime: number;
  /** Transmissions so far. */
  xmits: number;
  sacked: boolean;
  /** Declared lost and waiting in the retransmission queue. */
  lost: boolean;
  /** Counted in bytes in flight. */
  inFlight: boolean;
}

/** Subflow sequence space the segment occupies. */
export function seqLength(s: SentSegment): number {
  return s.data.length + (s.fin ? 1 : 0);
}
