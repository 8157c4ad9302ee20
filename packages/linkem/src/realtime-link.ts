/**
 * One direction of an emulated path, in real time: the simulator's link model (a drop-tail
 * queue in front of a serializer at `rateBps`, then propagation with delay and jitter,
 * random and burst loss, reordering, duplication, MTU, outages) driven by a clock and ONE
 * timer, re-armed to the next thing due.
 *
 * Each wakeup does everything that is due by then — finishes every serialization whose end
 * has passed, delivers every packet whose arrival has passed — so at high rates one timer
 * tick moves a batch, and a late timer never slows the link down: serialization times are
 * computed from when the previous packet finished, not from when we noticed. Node timers
 * count whole milliseconds, so at high rates packets leave in bursts of about a millisecond
 * of traffic; the average rate stays exact.
 *
 * Two modes:
 * - "datagram": packets may be dropped (loss, burst, queue overflow, MTU, outage). A path
 *   that goes down drops what is queued and what is on the wire.
 * - "stream" (a TCP byte stream): nothing is ever dropped and order is kept. The caller
 *   applies backpressure by watching `heldBytes`; an outage freezes the link until it
 *   comes back up, then what waited moves on.
 */
import type { SeededRandom } from '@mptun/core';
import {
  DEFAULT_LINK_OPTIONS,
  EventHeap,
  queueLimitBytes,
  resolveLinkOptions,
  Ring,
  type DropCause,
  type LinkDropCounts,
  type LinkOptions,
  type ResolvedLinkOptions,
  type TimedEvent,
} from '@mptun/sim';
import { systemClock, type LinkClock, type TimerHandle } from './clock.js';

export type LinkMode = 'datagram' | 'stream';

/** Why a packet was dropped: the simulator's causes, plus the emulator's memory cap. */
export type RealtimeDropCause = DropCause | 'overflow';

export interface RealtimeDropCounts extends LinkDropCounts {
  /** Refused because the link already held `maxHeldBytes` (queue plus propagation). */
  overflow: number;
}

export interface RealtimeLinkStats {
  up: boolean;
  /** Packets (chunks, for a stream) offered, whatever became of them. */
  sent: number;
  bytesSent: number;
  /** Delivered at the far end, duplicates included. */
  delivered: number;
  bytesDelivered: number;
  duplicated: number;
  reordered: number;
  dropped: RealtimeDropCounts;
  /** Waiting for or in serialization now. */
  queueBytes: number;
  queuePackets: number;
  peakQueueBytes: number;
  /** Serialized, propagating (delay, jitter, reordering). */
  inFlightBytes: number;
  /** How many times the link's timer was armed (it is never armed twice at once). */
  timerArms: number;
}

/** What a RandomSource-like generator must give: uniform floats in [0, 1). */
export type UniformRandom = Pick<SeededRandom, 'next'>;

export interface RealtimeLinkInit<T> {
  /** For logs. */
  name?: string;
  mode?: LinkMode;
  options?: LinkOptions;
  random: UniformRandom;
  clock?: LinkClock;
  /** A packet reached the far end. `tag` is what was offered with it. */
  deliver(bytes: Uint8Array, tag: T): void;
  /** Datagram mode: most bytes the link holds (queue plus propagation) before it drops. */
  maxHeldBytes?: number;
}

/** Default cap on what one direction holds in memory, whatever the rate and delay. */
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024 * 1024;

class Item<T> implements TimedEvent {
  /** End of serialization while queued; arrival time once departed. */
  time = 0;
  seq = 0;
  constructor(
    public bytes: Uint8Array,
    readonly tag: T,
  ) {}
}

export class RealtimeLink<T> {
  readonly name: string;
  readonly mode: LinkMode;
  private opts: ResolvedLinkOptions;
  private queueLimit: number;
  private readonly random: UniformRandom;
  private readonly clock: LinkClock;
  private readonly deliverFn: (bytes: Uint8Array, tag: T) => void;
  private readonly maxHeld: number;

  /** Accepted, not yet serialized; the head is being serialized until `serviceEnd`. */
  private readonly fifo = new Ring<Item<T>>();
  private serviceEnd = 0;
  private queued = 0;
  /** Departed in order, by nondecreasing arrival time. */
  private readonly wire = new Ring<Item<T>>();
  /** Departed and held back by reordering: may arrive after later packets. */
  private readonly held = new EventHeap<Item<T>>();
  private heldSeq = 0;
  private inFlight = 0;
  /** Latest in-order arrival so far: jitter never reorders. */
  private lastArrival = -Infinity;
  /** Gilbert-Elliott state. */
  private bad = false;
  private up = true;
  private closed = false;

  private timer: TimerHandle | null = null;
  private timerDeadline = Infinity;
  private running = false;
  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerDeadline = Infinity;
    this.run(this.clock.now());
  };

  private readonly counts = { sent: 0, bytesSent: 0, delivered: 0, bytesDelivered: 0, duplicated: 0, reordered: 0, peakQueueBytes: 0, timerArms: 0 };
  private readonly drops: RealtimeDropCounts = { queue: 0, loss: 0, burst: 0, outage: 0, mtu: 0, middlebox: 0, overflow: 0 };

  constructor(init: RealtimeLinkInit<T>) {
    this.name = init.name ?? 'link';
    this.mode = init.mode ?? 'datagram';
    this.opts = resolveLinkOptions(DEFAULT_LINK_OPTIONS, init.options ?? {});
    this.queueLimit = limitOf(this.opts);
    this.random = init.random;
    this.clock = init.clock ?? systemClock;
    this.deliverFn = init.deliver;
    this.maxHeld = init.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
  }

  get options(): ResolvedLinkOptions {
    return this.opts;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Bytes inside the link: queued plus propagating. */
  get heldBytes(): number {
    return this.queued + this.inFlight;
  }

  /** The drop-tail bound in bytes at the current rate (Infinity when there is no rate). */
  get queueLimitBytes(): number {
    return this.queueLimit;
  }

  get stats(): RealtimeLinkStats {
    const { timerArms, ...counts } = this.counts;
    return {
      up: this.up,
      ...counts,
      dropped: { ...this.drops },
      queueBytes: this.queued,
      queuePackets: this.fifo.size,
      inFlightBytes: this.inFlight,
      timerArms,
    };
  }

  /**
   * Change options now (fields not given keep their values). A packet being serialized
   * finishes at the old rate; the ones behind it use the new one. Packets already on the
   * wire keep their arrival times.
   */
  setOptions(patch: LinkOptions): void {
    this.opts = resolveLinkOptions(this.opts, patch);
    this.queueLimit = limitOf(this.opts);
    if (!this.closed) this.kick();
  }

  /** Take the link down or bring it back up, now. */
  setUp(up: boolean): void {
    if (this.closed || up === this.up) return;
    this.up = up;
    const now = this.clock.now();
    if (this.mode === 'stream') {
      if (!up) return this.disarm(); // frozen: everything waits where it is
      // The head restarts its serialization: the time it had is gone.
      const head = this.fifo.peek();
      if (head !== undefined) this.serviceEnd = now + this.txTime(head.bytes.length);
      this.kick();
      return;
    }
    if (up) return;
    // A dead path is dead: what it holds is lost, as in the simulator's Link.
    this.dropAll('outage');
    this.disarm();
  }

  /**
   * A packet (or, for a stream, a chunk) enters the link now. Returns false when it was
   * dropped on entry. The link keeps a reference to `bytes` until delivery.
   */
  offer(bytes: Uint8Array, tag: T): boolean {
    if (this.closed) return false;
    const counts = this.counts;
    counts.sent++;
    counts.bytesSent += bytes.length;
    const o = this.opts;
    const now = this.clock.now();
    let data = bytes;
    if (this.mode === 'datagram') {
      if (!this.up) return this.drop('outage');
      const transforms = o.transforms;
      for (let i = 0; i < transforms.length; i++) {
        const out = transforms[i]!(data);
        if (out === null) return this.drop('middlebox');
        data = out;
      }
      if (data.length > o.mtu) return this.drop('mtu');
      const ge = o.gilbertElliott;
      if (ge !== null) {
        // Decide this packet in the current state, then let the chain move on (as sim's Link).
        const lost = this.random.next() < (this.bad ? ge.lossInBad : ge.lossInGood);
        if (this.bad ? this.random.next() < ge.pBadToGood : this.random.next() < ge.pGoodToBad) this.bad = !this.bad;
        if (lost) return this.drop('burst');
      }
      if (o.loss > 0 && this.random.next() < o.loss) return this.drop('loss');
      if (this.queued + this.inFlight + data.length > this.maxHeld) return this.drop('overflow');
    }
    const item = new Item(data, tag);
    const len = data.length;
    if (this.fifo.size === 0 && o.rateBps === Infinity && this.up) {
      this.depart(item, now); // nothing to serialize: straight onto the wire
    } else {
      // Drop-tail; an empty queue always takes one packet, however small the bound.
      if (this.mode === 'datagram' && this.queued > 0 && this.queued + len > this.queueLimit) return this.drop('queue');
      this.fifo.push(item);
      this.queued += len;
      if (this.queued > counts.peakQueueBytes) counts.peakQueueBytes = this.queued;
      if (this.fifo.size === 1 && this.up) this.serviceEnd = now + this.txTime(len);
    }
    if (!this.running) {
      if (this.nextDeadline() <= now) this.run(now);
      else this.arm(now);
    }
    return true;
  }

  /**
   * Stop: the timer is cleared and everything still inside is discarded undelivered.
   * Further offers are refused.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarm();
    this.discardAll();
  }

  /** Discard everything inside without delivering it or counting it as dropped (a stream reset). */
  discardAll(): void {
    while (this.fifo.shift() !== undefined);
    while (this.wire.shift() !== undefined);
    this.held.clear();
    this.queued = 0;
    this.inFlight = 0;
  }

  /** Do everything due by `now`, then arm the timer for what comes next. */
  private run(now: number): void {
    if (this.closed || this.running) return;
    if (this.mode === 'stream' && !this.up) return;
    this.running = true;
    try {
      for (;;) {
        this.serializeDue(now);
        // Deliver in arrival order across the in-order wire and the held-back packets.
        const w = this.wire.peek();
        const h = this.held.peek();
        let item: Item<T>;
        if (w !== undefined && w.time <= now && (h === undefined || w.time <= h.time)) item = this.wire.shift()!;
        else if (h !== undefined && h.time <= now) item = this.held.pop()!;
        else break;
        const len = item.bytes.length;
        this.inFlight -= len;
        this.counts.delivered++;
        this.counts.bytesDelivered += len;
        // User code: it may offer more, change options, go down or close the link.
        this.deliverFn(item.bytes, item.tag);
        if (this.closed || (this.mode === 'stream' && !this.up)) return;
      }
    } finally {
      this.running = false;
    }
    this.arm(now);
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

  /** The packet left the serializer at `at`: schedule its arrival. */
  private depart(item: Item<T>, at: number): void {
    const o = this.opts;
    let arrival = at + o.delayMs;
    if (o.jitterMs > 0) arrival += this.random.next() * o.jitterMs;
    const len = item.bytes.length;
    if (this.mode === 'datagram') {
      const heldBack = o.reorder !== null && this.random.next() < o.reorder.probability;
      const copy = o.duplicate > 0 && this.random.next() < o.duplicate ? new Item(item.bytes.slice(), item.tag) : null;
      if (copy !== null) this.counts.duplicated++;
      if (heldBack) {
        // Exempt from the FIFO rule: the packets behind it may pass it.
        this.counts.reordered++;
        item.time = arrival + o.reorder!.extraDelayMs;
        item.seq = this.heldSeq++;
        this.held.push(item);
        this.inFlight += len;
        if (copy !== null) {
          copy.time = item.time;
          copy.seq = this.heldSeq++;
          this.held.push(copy);
          this.inFlight += len;
        }
        return;
      }
      this.onWire(item, arrival);
      if (copy !== null) this.onWire(copy, arrival); // right behind the original
      return;
    }
    this.onWire(item, arrival);
  }

  private onWire(item: Item<T>, arrival: number): void {
    // Jitter never lets a packet pass the one in front of it.
    if (arrival < this.lastArrival) arrival = this.lastArrival;
    else this.lastArrival = arrival;
    item.time = arrival;
    this.wire.push(item);
    this.inFlight += item.bytes.length;
  }

  private nextDeadline(): number {
    let t = Infinity;
    if (this.fifo.size > 0 && this.up) t = this.serviceEnd;
    const w = this.wire.peek();
    if (w !== undefined && w.time < t) t = w.time;
    const h = this.held.peek();
    if (h !== undefined && h.time < t) t = h.time;
    return t;
  }

  /** Make sure the timer fires by the next deadline; one timer per link, never more. */
  private arm(now: number): void {
    if (this.mode === 'stream' && !this.up) return;
    const deadline = this.nextDeadline();
    if (deadline === Infinity) return this.disarm();
    if (this.timer !== null && this.timerDeadline <= deadline) return; // an earlier wakeup re-arms
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    // Whole milliseconds, rounded up, so the wakeup never comes before the deadline.
    this.timer = this.clock.setTimer(this.onTimer, Math.max(1, Math.ceil(deadline - now)));
    this.timerDeadline = deadline;
    this.counts.timerArms++;
  }

  /** Re-evaluate after an option change: a deadline may have moved. */
  private kick(): void {
    if (this.running) return;
    const now = this.clock.now();
    if (this.nextDeadline() <= now) this.run(now);
    else this.arm(now);
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerDeadline = Infinity;
  }

  private dropAll(cause: RealtimeDropCause): void {
    this.drops[cause] += this.fifo.size + this.wire.size + this.held.size;
    this.discardAll();
  }

  private txTime(len: number): number {
    const rate = this.opts.rateBps;
    return rate === Infinity ? 0 : (len * 8000) / rate; // bytes × 8 bit ÷ (bit/s) × 1000 ms/s
  }

  private drop(cause: RealtimeDropCause): false {
    this.drops[cause]++;
    return false;
  }
}

function limitOf(o: ResolvedLinkOptions): number {
  // Without a rate nothing queues; a bound in ms would be ms × Infinity anyway.
  return o.rateBps === Infinity ? Infinity : queueLimitBytes(o);
}
