import type { Link } from './link.js';

/** Why a link dropped a packet. */
export type DropCause =
  | 'queue' // drop-tail: the queue bound was reached
  | 'loss' // independent random loss
  | 'burst' // Gilbert-Elliott burst loss
  | 'outage' // the link was down, or went down while the packet was queued or on the wire
  | 'mtu' // larger than the link's MTU
  | 'middlebox'; // a transform returned null

/** Heap event kinds (see network.ts). */
export const PACKET_EVENT = 0;
export const CHANGE_EVENT = 1;

/** Where a packet is on its current link. */
export const PacketPhase = {
  /** Waiting in the link's queue or being serialized; `time` = end of serialization. */
  QUEUED: 0,
  /** Propagating in order behind the packets sent before it; `time` = arrival at the far end. */
  WIRE: 1,
  /** Propagating, held back by reordering and passed by later packets; `time` = arrival. */
  HELD: 2,
  /** Dropped while its event was still in the heap: the event is ignored. */
  DEAD: 3,
} as const;

/**
 * One packet on its way along a route of links. It is its own heap event (for the end of
 * its serialization, then for its arrival), so moving a packet allocates nothing.
 */
export class Packet<T = unknown> {
  readonly kind = PACKET_EVENT;
  time = 0;
  seq = 0;
  /** Index into `route` of the link the packet is on. */
  hop = 0;
  phase: number = PacketPhase.QUEUED;
  /** The link's outage epoch when the packet left its queue (see Link). */
  epoch = 0;

  constructor(
    /** Opaque payload; a middlebox may replace it. */
    public bytes: Uint8Array,
    /** The sender's label, carried untouched. */
    readonly tag: T,
    readonly route: readonly Link[],
    /** Virtual time the packet entered its first link. */
    readonly sentAt: number,
  ) {}

  /** A copy that travels independently (link duplication). */
  duplicate(): Packet<T> {
    const copy = new Packet(this.bytes.slice(), this.tag, this.route, this.sentAt);
    copy.hop = this.hop;
    copy.phase = this.phase;
    copy.epoch = this.epoch;
    copy.time = this.time;
    return copy;
  }
}
