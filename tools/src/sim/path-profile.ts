/**
 * Path descriptions for the benchmarks: a rate, a round-trip time, a drop-tail queue and
 * random loss, turned into the options of the two links (one per direction) of a path.
 */
import type { LinkOptions } from '@mptun/sim';

export interface PathProfile {
  label: string;
  /** Bottleneck rate, bit/s, the same both ways. */
  rateBps: number;
  /** Round-trip propagation delay, ms (split evenly between the directions). */
  rttMs: number;
  /** Drop-tail queue in front of each direction, in ms of transmission at the rate. */
  queueMs: number;
  /** Random loss probability on the data direction (client → server). Default 0. */
  loss?: number;
}

/**
 * Bytes of header on every data segment the engine sends: the 20-byte TCP header, the
 * timestamps option (10) and a DSS with 64-bit data ACK and 64-bit DSN mapping (26), as
 * RFC 8684 §3.3 lays them out; 36 option bytes need no padding. A test checks it.
 */
export const DATA_SEGMENT_HEADER_BYTES = 56;

/** The most payload a link can carry at `mss`, as a share of its rate. */
export function payloadCeiling(mss: number): number {
  return mss / (mss + DATA_SEGMENT_HEADER_BYTES);
}

/** Options for the link carrying data (forward) and the one carrying ACKs (backward). */
export function pathLinks(p: PathProfile): { forward: LinkOptions; backward: LinkOptions } {
  const oneWay = p.rttMs / 2;
  return {
    forward: { rateBps: p.rateBps, delayMs: oneWay, queue: { ms: p.queueMs }, loss: p.loss ?? 0 },
    backward: { rateBps: p.rateBps, delayMs: oneWay, queue: { ms: p.queueMs } },
  };
}

/** The same path with the loss applied to the other direction (for downloads). */
export function reversed(p: PathProfile): { forward: LinkOptions; backward: LinkOptions } {
  const l = pathLinks(p);
  return {
    forward: { ...l.forward, loss: 0 },
    backward: { ...l.backward, loss: p.loss ?? 0 },
  };
}

/** "50 Mbit/s, 20 ms RTT, 0.01% loss". */
export function describePath(p: PathProfile): string {
  const loss = p.loss ? `, ${+(p.loss * 100).toFixed(3)}% loss` : '';
  return `${p.label} ${+(p.rateBps / 1e6).toFixed(1)} Mbit/s, ${p.rttMs} ms RTT, ${p.queueMs} ms queue${loss}`;
}
