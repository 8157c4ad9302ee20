/**
 * A look at every segment the engine sends and receives, on the path it crosses: what a
 * packet capture (`--pcap`) or a debugging hook needs. The tap runs synchronously in the
 * driver's data path, so it should be quick; the bytes are only valid during the call.
 */
import type { PathLink } from '@mptun/core';

export interface TappedSegment {
  /** Wall-clock time, milliseconds since the Unix epoch (fractional). */
  timeMs: number;
  direction: 'sent' | 'received';
  /** IP address of the sender and of the receiver: the path's local and remote ends. */
  from: string;
  to: string;
  /** The whole TCP segment: header, options (MPTCP's among them), payload. */
  bytes: Uint8Array;
  /** The engine's id of the path. */
  pathId: number;
}

export type SegmentTap = (segment: TappedSegment) => void;

/** Describe one segment on `link` for a tap; `timeMs` is the wall clock. */
export function tapped(timeMs: number, direction: TappedSegment['direction'], pathId: number, link: Pick<PathLink, 'local' | 'remote'>, bytes: Uint8Array): TappedSegment {
  const sent = direction === 'sent';
  return { timeMs, direction, from: sent ? link.local.host : link.remote.host, to: sent ? link.remote.host : link.local.host, bytes, pathId };
}
