import type { Link } from './link.js';
import type { LinkItem } from './link-model.js';

/** Why a link dropped a packet. */
export type DropCause =
  | 'queue' // drop-tail: the queue bound was reached
  | 'loss' // independent random loss
  | 'burst' // Gilbert-Elliott burst loss
  | 'outage' // the link was down, or went down while the packet was queued or on the wire
  | 'mtu' // larger than the link's MTU
  | 'middlebox' // a transform returned null
  | 'overflow'; // the link already held its most bytes in memory (linkem's cap)

/**
 * One packet on its way along a route of links. The link model keeps the packet itself
 * (LinkItem), so moving a packet from link to link allocates nothing.
 */
export class Packet<T = unknown> implements LinkItem {
  /** Set by the link model: end of serialization, then arrival at the far end. */
  time = 0;
  seq = 0;
  /** Index into `route` of the link the packet is on. */
  hop = 0;

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
    copy.time = this.time;
    return copy;
  }
}
