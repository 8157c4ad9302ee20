/**
 * The link model: ONE direction of a path, sans-IO. A drop-tail queue in front of a
 * serializer at `rateBps`, then propagation (`delayMs` + jitter), with random, burst
 * (Gilbert-Elliott) and MTU loss, middlebox transforms, reordering, duplication and
 * outages. It owns no clock and no timer: the caller passes `now` to every call, asks
 * `nextDeadline()` when something is next due, and calls `advance(now)` then. Randomness
 * comes from the generator it is given. The simulator's Link drives it from its event
 * heap in virtual time; linkem's RealtimeLink drives it from the real clock with one timer.
 *
 * The queue holds every accepted packet whose serialization has not finished. A packet is
 * refused when it would push the queue past its bound, except that an empty queue always
 * takes one packet (so a bound smaller than a packet still passes traffic). Serialization
 * times chain from when the previous packet finished, not from when `advance` was called,
 * so a late caller never slows the link down. Rate changes apply from the next packet to
 * start serialization; the one being serialized finishes at the old rate.
 *
 * Two modes:
 * - "datagram": packets may be dropped (loss, burst, queue, MTU, middlebox, outage,
 *   overflow). An outage drops what is offered, queued or propagating: a dead path is dead.
 * - "stream" (a TCP byte stream): nothing is dropped and order is kept; the caller applies
 *   backpressure by watching `heldBytes`. An outage freezes the link until it comes back.
 */
import type { SeededRandom } from '@mptun/core';
import { EventHeap } from './heap.js';
import {
  DEFAULT_LINK_OPTIONS,
  queueLimitBytes,
  resolveLinkOptions,
  type LinkOptions,
  type ResolvedLinkOptions,
} from './link-options.js';
import type { DropCause } from './packet.js';
import { Ring } from './ring.js';

export type LinkMode = 'datagram' | 'stream';

/** What the model keeps of a packet; the driver's own packet objects carry these fields. */
export interface LinkItem {
  /** The payload; a middlebox transform may replace it. */
  bytes: Uint8Array;
  /** Set by the model: end of serialization while queued, arrival time once departed. */
  time: number;
  /** Set by the model: tie-breaker among packets held back by reordering. */
  seq: number;
}

/** What a generator must give: uniform floats in [0, 1). */
export type UniformRandom = Pick<SeededRandom, 'next'>;

export type LinkDropCounts = Record<DropCause, number>;

export interface LinkModelCounts {
  /** Packets (chunks, for a stream) offered, whatever became of them. */
  sent: number;
  bytesSent: number;
  /** Reached the far end, duplicates included. */
  delivered: number;
  bytesDelivered: number;
  /** Extra copies made by `duplicate`. */
  duplicated: number;
  /** Packets held back by `reorder`. */
  reordered: number;
  /** Largest queue seen, bytes (the packet being serialized included). */
  peakQueueBytes: number;
  dropped: LinkDropCounts;
}

export interface LinkModelInit<M extends LinkItem> {
  mode?: LinkMode;
  options?: LinkOptions;
  random: UniformRandom;
  /** Datagram mode: most bytes the link holds (queue plus propagation) before it drops. */
  maxHeldBytes?: number;
  /** A packet reached the far end at `now`. It may call back into the model. */
  deliver(item: M, now: number): void;
  /** The link dropped a packet (its cause is counted either way). */
  dropped?(item: M, cause: DropCause, now: number): void;
  /** A copy that travels independently (duplication). */
  duplicate(item: M): M;
}

export class LinkModel<M extends LinkItem> {
  readonly mode: LinkMode;
  private opts: ResolvedLinkOptions;
  private queueLimit: number;
  private readonly random: UniformRandom;
  private readonly maxHeld: number;
  private readonly deliverFn: (item: M, now: number) => void;
  private readonly droppedFn: ((item: M, cause: DropCause, now: number) => void) | null;
  private readonly duplicateFn: (item: M) => M;

  /** Accepted, not yet serialized; the head is being serialized until `serviceEnd`. */
  private readonly fifo = new Ring<M>();
  private serviceEnd = 0;
  private queued = 0;
  /** Departed in order, by nondecreasing arrival time. */
  private readonly wire = new Ring<M>();
  /** Departed and held back by reordering: may arrive after later packets. */
  private readonly held = new EventHeap<M>();
  private heldSeq = 0;
  private inFlight = 0;
  /** Latest in-order arrival so far: jitter never reorders. */
  private lastArrival = -Infinity;
  /** Gilbert-Elliott state. */
  private bad = false;
  private up = true;
  private advancing = false;

  private readonly counts = { sent: 0, bytesSent: 0, delivered: 0, bytesDelivered: 0, duplicated: 0, reordered: 0, peakQueueBytes: 0 };
  private readonly drops: LinkDropCounts = { queue: 0, loss: 0, burst: 0, outage: 0, mtu: 0, middlebox: 0, overflow: 0 };

  constructor(init: LinkModelInit<M>) {
    this.mode = init.mode ?? 'datagram';
    this.opts = resolveLinkOptions(DEFAULT_LINK_OPTIONS, init.options ?? {});
    this.queueLimit = limitOf(this.opts);
    this.random = init.random;
    this.maxHeld = init.maxHeldBytes ?? Infinity;
    this.deliverFn = init.deliver;
    this.droppedFn = init.dropped ?? null;
    this.duplicateFn = init.duplicate;
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
    return this.queued;
  }

  get queuePackets(): number {
    return this.fifo.size;
  }

  /** Bytes serialized and propagating. */
  get inFlightBytes(): number {
    return this.inFlight;
  }

  /** Bytes inside the link: queued plus propagating. */
  get heldBytes(): number {
    return this.queued + this.inFlight;
  }

  /** The drop-tail bound in bytes at the current rate (Infinity when there is no rate). */
  get queueLimitBytes(): number {
    return this.queueLimit;
  }

  get counters(): LinkModelCounts {
    return { ...this.counts, dropped: { ...this.drops } };
  }

  /** Change options now (fields not given keep their values). Departed packets keep their arrival times. */
  setOptions(patch: LinkOptions): void {
    this.opts = resolveLinkOptions(this.opts, patch);
    this.queueLimit = limitOf(this.opts);
  }

  /** Take the link down or bring it back up at `now`. */
  setUp(up: boolean, now: number): void {
    if (up === this.up) return;
    this.up = up;
    if (this.mode === 'stream') {
      if (!up) return; // frozen: everything waits where it is
      // The head restarts its serialization: the time it had is gone.
      const head = this.fifo.peek();
      if (head !== undefined) this.serviceEnd = now + this.txTime(head.bytes.length);
      return;
    }
    if (up) return;
    for (let p = this.fifo.shift(); p !== undefined; p = this.fifo.shift()) this.drop(p, 'outage', now);
    for (let p = this.wire.shift(); p !== undefined; p = this.wire.shift()) this.drop(p, 'outage', now);
    for (let p = this.held.pop(); p !== undefined; p = this.held.pop()) this.drop(p, 'outage', now);
    this.queued = 0;
    this.inFlight = 0;
  }

  /**
   * A packet (or, for a stream, a chunk) enters the link at `now`. Returns false when it was
   * dropped on entry. Nothing is delivered from inside this call: see `advance`.
   */
  offer(item: M, now: number): boolean {
    const counts = this.counts;
    counts.sent++;
    counts.bytesSent += item.bytes.length;
    // Serializations that ended by now leave first, so the queue bound sees the queue of now.
    this.serializeDue(now);
    const o = this.opts;
    if (this.mode === 'datagram') {
      if (!this.up) return this.drop(item, 'outage', now);
      const transforms = o.transforms;
      for (let i = 0; i < transforms.length; i++) {
        const out = transforms[i]!(item.bytes);
        if (out === null) return this.drop(item, 'middlebox', now);
        item.bytes = out;
      }
      if (item.bytes.length > o.mtu) return this.drop(item, 'mtu', now);
      const ge = o.gilbertElliott;
      if (ge !== null) {
        // Decide this packet in the current state, then let the chain move on.
        const rng = this.random;
        const lost = rng.next() < (this.bad ? ge.lossInBad : ge.lossInGood);
        if (this.bad ? rng.next() < ge.pBadToGood : rng.next() < ge.pGoodToBad) this.bad = !this.bad;
        if (lost) return this.drop(item, 'burst', now);
      }
      if (o.loss > 0 && this.random.next() < o.loss) return this.drop(item, 'loss', now);
      if (this.queued + this.inFlight + item.bytes.length > this.maxHeld) return this.drop(item, 'overflow', now);
    }
    const len = item.bytes.length;
    if (this.fifo.size === 0 && o.rateBps === Infinity && this.up) {
      this.depart(item, now); // nothing to wait for and nothing to serialize: straight onto the wire
      return true;
    }
    if (this.mode === 'datagram' && this.queued > 0 && this.queued + len > this.queueLimit) return this.drop(item, 'queue', now);
    this.fifo.push(item);
    this.queued += len;
    if (this.queued > counts.peakQueueBytes) counts.peakQueueBytes = this.queued;
    if (this.fifo.size === 1 && this.up) this.serviceEnd = now + this.txTime(len);
    return true;
  }

  /**
   * Do everything due by `now`: finish serializations, deliver arrivals in arrival order.
   * Deliveries may offer more, change options, take the link down or discard it; a call
   * made from inside a delivery returns at once and the outer call carries on.
   */
  advance(now: number): void {
    if (this.advancing) return;
    this.advancing = true;
    try {
      for (;;) {
        if (this.mode === 'stream' && !this.up) return;
        this.serializeDue(now);
        // Deliver in arrival order across the in-order wire and the held-back packets.
        const w = this.wire.peek();
        const h = this.held.peek();
        let item: M;
        if (w !== undefined && w.time <= now && (h === undefined || w.time <= h.time)) item = this.wire.shift()!;
        else if (h !== undefined && h.time <= now) item = this.held.pop()!;
        else return;
        const len = item.bytes.length;
        this.inFlight -= len;
        this.counts.delivered++;
        this.counts.bytesDelivered += len;
        this.deliverFn(item, now);
      }
    } finally {
      this.advancing = false;
    }
  }

  /** When `advance` next has something to do; Infinity when nothing is pending. */
  nextDeadline(): number {
    if (this.mode === 'stream' && !this.up) return Infinity;
    let t = Infinity;
    if (this.fifo.size > 0 && this.up) t = this.serviceEnd;
    const w = this.wire.peek();
    if (w !== undefined && w.time < t) t = w.time;
    const h = this.held.peek();
    if (h !== undefined && h.time < t) t = h.time;
    return t;
  }

  /** Discard everything inside without delivering it or counting it as dropped (a stream reset, a close). */
  discardAll(): void {
    while (this.fifo.shift() !== undefined);
    while (this.wire.shift() !== undefined);
    this.held.clear();
    this.queued = 0;
    this.inFlight = 0;
  }

  /** Finish every serialization that has ended by `now`; each departs at the instant it ended. */
  private serializeDue(now: number): void {
    while (this.fifo.size > 0 && this.serviceEnd <= now && this.up) {
      const item = this.fifo.shift()!;
      this.queued -= item.bytes.length;
      const end = this.serviceEnd;
      const next = this.fifo.peek();
      if (next !== undefined) this.serviceEnd = end + this.txTime(next.bytes.length);
      this.depart(item, end);
    }
  }

  /** The packet left the serializer at `at`: decide its arrival. */
  private depart(item: M, at: number): void {
    const o = this.opts;
    let arrival = at + o.delayMs;
    if (o.jitterMs > 0) arrival += this.random.next() * o.jitterMs;
    if (this.mode === 'stream') return this.onWire(item, arrival);
    const heldBack = o.reorder !== null && this.random.next() < o.reorder.probability;
    const copy = o.duplicate > 0 && this.random.next() < o.duplicate ? this.duplicateFn(item) : null;
    if (copy !== null) this.counts.duplicated++;
    if (heldBack) {
      // Exempt from the FIFO rule: the packets behind it may pass it.
      this.counts.reordered++;
      this.hold(item, arrival + o.reorder!.extraDelayMs);
      if (copy !== null) this.hold(copy, item.time);
      return;
    }
    this.onWire(item, arrival);
    if (copy !== null) this.onWire(copy, arrival); // right behind the original
  }

  private hold(item: M, arrival: number): void {
    item.time = arrival;
    item.seq = this.heldSeq++;
    this.held.push(item);
    this.inFlight += item.bytes.length;
  }

  private onWire(item: M, arrival: number): void {
    // Jitter never lets a packet pass the one in front of it.
    if (arrival < this.lastArrival) arrival = this.lastArrival;
    else this.lastArrival = arrival;
    item.time = arrival;
    this.wire.push(item);
    this.inFlight += item.bytes.length;
  }

  private txTime(len: number): number {
    const rate = this.opts.rateBps;
    return rate === Infinity ? 0 : (len * 8000) / rate; // bytes × 8 bit ÷ (bit/s) × 1000 ms/s
  }

  private drop(item: M, cause: DropCause, now: number): false {
    this.drops[cause]++;
    if (this.droppedFn !== null) this.droppedFn(item, cause, now);
    return false;
  }
}

/**
 * The read side every driver of a LinkModel shows (the simulator's Link, linkem's
 * RealtimeLink): the options in force and what is inside now.
 */
export abstract class LinkModelDriver<M extends LinkItem> {
  protected abstract readonly model: LinkModel<M>;

  /** The options in force now. */
  get options(): ResolvedLinkOptions {
    return this.model.options;
  }

  get isUp(): boolean {
    return this.model.isUp;
  }

  /** Bytes queued now (the packet being serialized included). */
  get queueBytes(): number {
    return this.model.queueBytes;
  }

  /** Bytes inside the link: queued plus propagating. */
  get heldBytes(): number {
    return this.model.heldBytes;
  }

  /** The drop-tail bound in bytes at the current rate (Infinity when there is no rate). */
  get queueLimitBytes(): number {
    return this.model.queueLimitBytes;
  }
}

function limitOf(o: ResolvedLinkOptions): number {
  // Without a rate nothing queues; a bound in ms would be ms × Infinity anyway.
  return o.rateBps === Infinity ? Infinity : queueLimitBytes(o);
}
