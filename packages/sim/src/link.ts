import { SeededRandom } from '@mptun/core';
import { SimError } from './errors.js';
import {
  DEFAULT_LINK_OPTIONS,
  queueLimitBytes,
  resolveLinkOptions,
  validateLinkChange,
  type LinkChange,
  type LinkOptions,
  type ResolvedLinkOptions,
} from './link-options.js';
import { PacketPhase, type DropCause, type Packet } from './packet.js';
import { Ring } from './ring.js';

// Local copies: the hot paths below read these per packet.
const QUEUED = PacketPhase.QUEUED;
const WIRE = PacketPhase.WIRE;
const HELD = PacketPhase.HELD;
const DEAD = PacketPhase.DEAD;

/** What a link needs from the event loop that drives it (the Network). */
export interface LinkHost {
  readonly now: number;
  /** Put a packet into the event heap at `packet.time`. */
  schedulePacket(packet: Packet): void;
  /** Put a scripted change into the event heap at `change.at`. */
  scheduleChange(link: Link, change: LinkChange): void;
  /** The packet reached the far end of `link`. */
  linkExit(link: Link, packet: Packet): void;
  /** `link` dropped the packet. */
  linkDrop(link: Link, packet: Packet, cause: DropCause): void;
  /** A generator for a link that was given no seed of its own. */
  forkRandom(): SeededRandom;
}

export interface LinkInit extends LinkOptions {
  /** For traces and error messages. */
  name?: string;
  /** Seed of this link's own generator; by default it is forked from the network's. */
  seed?: number;
}

export interface LinkDropCounts {
  queue: number;
  loss: number;
  burst: number;
  outage: number;
  mtu: number;
  middlebox: number;
}

export interface LinkStats {
  /** Packets offered to the link (whatever became of them). */
  sent: number;
  bytesSent: number;
  /** Packets that reached the far end, duplicates included. */
  delivered: number;
  bytesDelivered: number;
  /** Extra copies made by `duplicate`. */
  duplicated: number;
  /** Packets held back by `reorder`. */
  reordered: number;
  dropped: LinkDropCounts;
  /** Largest queue seen, bytes (the packet being serialized included). */
  peakQueueBytes: number;
  /** Queue now, bytes and packets. */
  queueBytes: number;
  queuePackets: number;
}

/**
 * ONE direction of a path: a drop-tail queue in front of a serializer at `rateBps`,
 * then propagation (`delayMs` + jitter), with random, burst and MTU loss, reordering,
 * duplication, middleboxes and scripted outages.
 *
 * The queue holds every accepted packet whose serialization has not finished. A packet
 * is refused when it would push the queue past its bound, except that an empty queue
 * always takes one packet (so a bound smaller than a packet still passes traffic).
 *
 * An outage drops what is offered, what is queued when it starts, and what is on the
 * wire (propagating) when it starts: a dead path is dead. Rate changes apply from the
 * next packet to start serialization; the one being serialized finishes at the old rate.
 *
 * Events: a link keeps at most one packet in the network's heap for its serializer (the
 * head of the queue) and one for its wire (the first in-order packet to arrive; the rest
 * wait in arrival order in a ring), plus any packets held back by reordering. So the heap
 * stays small however many packets are in flight.
 */
export class Link {
  private givenName: string | null;
  private opts: ResolvedLinkOptions;
  private queueLimit: number;
  private readonly fifo = new Ring<Packet>();
  /** In-order packets propagating, by nondecreasing arrival time; only the head is in the heap. */
  private readonly wire = new Ring<Packet>();
  private backlog = 0;
  private serving = false;
  /** Latest arrival scheduled for an in-order packet: jitter never reorders. */
  private lastArrival = -Infinity;
  /** Gilbert-Elliott state. */
  private bad = false;
  private up = true;
  /** Bumped when an outage starts; packets that left the queue before it are lost. */
  private downEpoch = 0;
  private rng: SeededRandom | null;
  private host: LinkHost | null = null;
  private pendingChanges: LinkChange[] = [];
  private readonly counts = {
    sent: 0,
    bytesSent: 0,
    delivered: 0,
    bytesDelivered: 0,
    duplicated: 0,
    reordered: 0,
    peakQueueBytes: 0,
  };
  private readonly drops: LinkDropCounts = { queue: 0, loss: 0, burst: 0, outage: 0, mtu: 0, middlebox: 0 };

  constructor(init: LinkInit = {}) {
    this.givenName = init.name ?? null;
    this.opts = resolveLinkOptions(DEFAULT_LINK_OPTIONS, init);
    this.queueLimit = queueLimitBytes(this.opts);
    this.rng = init.seed !== undefined ? new SeededRandom(init.seed) : null;
  }

  /** For traces: the name given, else one the network assigns when the link joins it. */
  get name(): string {
    return this.givenName ?? 'link';
  }

  /** The options in force now. */
  get options(): ResolvedLinkOptions {
    return this.opts;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Bytes queued now (the packet being serialized included). */
  get queueBytes(): number {
    return this.backlog;
  }

  /** The drop-tail bound in bytes at the current rate. */
  get queueLimitBytes(): number {
    return this.queueLimit;
  }

  get stats(): LinkStats {
    return {
      ...this.counts,
      dropped: { ...this.drops },
      queueBytes: this.backlog,
      queuePackets: this.fifo.size,
    };
  }

  /** Change options now (fields not given keep their values). */
  setOptions(patch: LinkOptions): void {
    this.opts = resolveLinkOptions(this.opts, patch);
    this.queueLimit = queueLimitBytes(this.opts);
  }

  /** Take the link down (dropping what it holds) or bring it back up, now. */
  setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (up) return;
    this.downEpoch++;
    // Everything queued or on the wire dies with the link. Packets held back by reordering
    // are in the heap on their own: the epoch tells them on arrival.
    for (let p = this.fifo.shift(); p !== undefined; p = this.fifo.shift()) {
      p.phase = DEAD;
      this.drop(p, 'outage');
    }
    for (let p = this.wire.shift(); p !== undefined; p = this.wire.shift()) {
      p.phase = DEAD;
      this.drop(p, 'outage');
    }
    this.backlog = 0;
    this.serving = false;
  }

  /** Script outages and option changes at absolute virtual times (ms). */
  schedule(changes: readonly LinkChange[]): void {
    for (const c of changes) validateLinkChange(c);
    for (const c of changes) {
      if (this.host !== null) this.host.scheduleChange(this, c);
      else this.pendingChanges.push(c);
    }
  }

  /** @internal Bind to the event loop that will drive this link (once); `defaultName` names an unnamed link. */
  attach(host: LinkHost, defaultName: string): void {
    if (this.host === host) return;
    if (this.host !== null) throw new SimError('BAD_ROUTE', `link ${this.name} already belongs to another network`);
    this.host = host;
    this.givenName ??= defaultName;
    if (this.rng === null) this.rng = host.forkRandom();
    const pending = this.pendingChanges;
    this.pendingChanges = [];
    for (const c of pending) host.scheduleChange(this, c);
  }

  /** @internal Whether `host` drives this link. */
  isAttachedTo(host: LinkHost): boolean {
    return this.host === host;
  }

  /** @internal Apply a scripted change whose time has come. */
  applyChange(change: LinkChange): void {
    if ('down' in change) this.setUp(false);
    else if ('up' in change) this.setUp(true);
    else this.setOptions(change.set);
  }

  /** @internal A packet enters the link at host.now. */
  offer(packet: Packet): void {
    const counts = this.counts;
    counts.sent++;
    counts.bytesSent += packet.bytes.length;
    if (!this.up) return this.drop(packet, 'outage');
    const o = this.opts;
    const transforms = o.transforms;
    for (let i = 0; i < transforms.length; i++) {
      const out = transforms[i]!(packet.bytes);
      if (out === null) return this.drop(packet, 'middlebox');
      packet.bytes = out;
    }
    const len = packet.bytes.length;
    if (len > o.mtu) return this.drop(packet, 'mtu');
    const rng = this.rng!;
    const ge = o.gilbertElliott;
    if (ge !== null) {
      // Decide this packet's fate in the current state, then let the chain move on.
      const lost = rng.next() < (this.bad ? ge.lossInBad : ge.lossInGood);
      if (this.bad ? rng.next() < ge.pBadToGood : rng.next() < ge.pGoodToBad) this.bad = !this.bad;
      if (lost) return this.drop(packet, 'burst');
    }
    if (o.loss > 0 && rng.next() < o.loss) return this.drop(packet, 'loss');
    if (this.backlog === 0 && o.rateBps === Infinity) {
      // Nothing to wait for and nothing to serialize: straight onto the wire.
      this.depart(packet, this.host!.now);
      return;
    }
    if (this.backlog > 0 && this.backlog + len > this.queueLimit) return this.drop(packet, 'queue');
    packet.phase = QUEUED;
    this.fifo.push(packet);
    this.backlog += len;
    if (this.backlog > counts.peakQueueBytes) counts.peakQueueBytes = this.backlog;
    if (!this.serving) this.startService(this.host!.now);
  }

  /** @internal One of this link's packets is due (see Packet.phase for which event). */
  fire(packet: Packet, now: number): void {
    switch (packet.phase) {
      case QUEUED:
        return this.serviceDone(packet, now);
      case WIRE: {
        this.wire.shift();
        const next = this.wire.peek();
        if (next !== undefined) this.host!.schedulePacket(next);
        return this.arrived(packet);
      }
      case HELD:
        return this.arrived(packet);
      default:
        return; // DEAD: dropped by an outage after it was scheduled
    }
  }

  private serviceDone(packet: Packet, now: number): void {
    this.fifo.shift();
    this.backlog -= packet.bytes.length;
    this.serving = false;
    this.depart(packet, now);
    if (this.fifo.size > 0) this.startService(now);
  }

  private arrived(packet: Packet): void {
    // A held packet that was on the wire when an outage started is lost.
    if (packet.epoch !== this.downEpoch) return this.drop(packet, 'outage');
    this.counts.delivered++;
    this.counts.bytesDelivered += packet.bytes.length;
    this.host!.linkExit(this, packet);
  }

  private startService(now: number): void {
    const head = this.fifo.peek()!;
    const rate = this.opts.rateBps;
    head.time = rate === Infinity ? now : now + (head.bytes.length * 8000) / rate;
    this.serving = true;
    this.host!.schedulePacket(head);
  }

  private depart(packet: Packet, now: number): void {
    const o = this.opts;
    const rng = this.rng!;
    const host = this.host!;
    let at = now + o.delayMs;
    if (o.jitterMs > 0) at += rng.next() * o.jitterMs;
    const held = o.reorder !== null && rng.next() < o.reorder.probability;
    if (held) {
      // Held back and exempt from the FIFO rule, so the packets behind it may pass.
      at += o.reorder!.extraDelayMs;
      this.counts.reordered++;
    } else if (at < this.lastArrival) {
      at = this.lastArrival; // jitter never lets a packet pass the one before it
    } else {
      this.lastArrival = at;
    }
    packet.time = at;
    packet.epoch = this.downEpoch;
    const copy = o.duplicate > 0 && rng.next() < o.duplicate ? packet.duplicate() : null;
    if (copy !== null) this.counts.duplicated++;
    if (held) {
      packet.phase = HELD;
      host.schedulePacket(packet);
      if (copy !== null) {
        copy.phase = HELD;
        host.schedulePacket(copy);
      }
      return;
    }
    packet.phase = WIRE;
    this.onWire(packet);
    if (copy !== null) {
      copy.phase = WIRE;
      this.onWire(copy); // same arrival time, right behind the original
    }
  }

  private onWire(packet: Packet): void {
    this.wire.push(packet);
    if (this.wire.size === 1) this.host!.schedulePacket(packet);
  }

  private drop(packet: Packet, cause: DropCause): void {
    this.drops[cause]++;
    this.host!.linkDrop(this, packet, cause);
  }
}
