/**
 * One direction of an emulated path, in real time: the simulator's link model (LinkModel
 * in @mptun/sim: queue, serializer, delay, jitter, loss, bursts, reordering, duplication,
 * MTU, outages) driven by a clock and ONE timer, re-armed to the model's next deadline.
 *
 * Each wakeup does everything that is due by then, so at high rates one timer tick moves a
 * batch, and a late timer never slows the link down (the model chains serialization times
 * from when the previous packet finished). Node timers count whole milliseconds, so at high
 * rates packets leave in bursts of about a millisecond of traffic; the average rate stays exact.
 *
 * Modes (see LinkModel): "datagram" drops; "stream" (a TCP byte stream) never drops and
 * freezes while down; the caller applies backpressure by watching `heldBytes`.
 */
import {
  LinkModel,
  LinkModelDriver,
  type DropCause,
  type LinkDropCounts,
  type LinkMode,
  type LinkModelCounts,
  type LinkOptions,
  type UniformRandom,
} from '@mptun/sim';
import { systemClock, type LinkClock, type TimerHandle } from './clock.js';

export type { LinkMode, UniformRandom };

/** Why a packet was dropped: the model's causes, 'overflow' being the emulator's memory cap. */
export type RealtimeDropCause = DropCause;
export type RealtimeDropCounts = LinkDropCounts;

export interface RealtimeLinkStats extends LinkModelCounts {
  up: boolean;
  /** Waiting for or in serialization now. */
  queueBytes: number;
  queuePackets: number;
  /** Serialized, propagating (delay, jitter, reordering). */
  inFlightBytes: number;
  /** How many times the link's timer was armed (it is never armed twice at once). */
  timerArms: number;
}

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

/** A packet inside the model, with what was offered beside it. */
export class RealtimeItem<T> {
  time = 0;
  seq = 0;
  constructor(
    public bytes: Uint8Array,
    readonly tag: T,
  ) {}
}

export class RealtimeLink<T> extends LinkModelDriver<RealtimeItem<T>> {
  readonly name: string;
  readonly mode: LinkMode;
  protected readonly model: LinkModel<RealtimeItem<T>>;
  private readonly clock: LinkClock;
  private closed = false;
  /** Inside run(): a call from a delivery leaves the rest to the loop already running. */
  private running = false;

  private timer: TimerHandle | null = null;
  private timerDeadline = Infinity;
  private timerArms = 0;
  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerDeadline = Infinity;
    this.run(this.clock.now());
  };

  constructor(init: RealtimeLinkInit<T>) {
    super();
    this.name = init.name ?? 'link';
    this.mode = init.mode ?? 'datagram';
    this.clock = init.clock ?? systemClock;
    const deliver = init.deliver;
    this.model = new LinkModel<RealtimeItem<T>>({
      mode: this.mode,
      options: init.options ?? {},
      random: init.random,
      maxHeldBytes: init.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
      deliver: (item) => deliver(item.bytes, item.tag),
      duplicate: (item) => new RealtimeItem(item.bytes.slice(), item.tag),
    });
  }

  get stats(): RealtimeLinkStats {
    const m = this.model;
    return {
      up: m.isUp,
      ...m.counters,
      queueBytes: m.queueBytes,
      queuePackets: m.queuePackets,
      inFlightBytes: m.inFlightBytes,
      timerArms: this.timerArms,
    };
  }

  /**
   * Change options now (fields not given keep their values). A packet being serialized
   * finishes at the old rate; the ones behind it use the new one. Packets already on the
   * wire keep their arrival times.
   */
  setOptions(patch: LinkOptions): void {
    this.model.setOptions(patch);
    if (!this.closed) this.kick();
  }

  /** Take the link down or bring it back up, now. */
  setUp(up: boolean): void {
    if (this.closed || up === this.model.isUp) return;
    this.model.setUp(up, this.clock.now());
    this.kick();
  }

  /**
   * A packet (or, for a stream, a chunk) enters the link now. Returns false when it was
   * dropped on entry. The link keeps a reference to `bytes` until delivery.
   */
  offer(bytes: Uint8Array, tag: T): boolean {
    if (this.closed) return false;
    const accepted = this.model.offer(new RealtimeItem(bytes, tag), this.clock.now());
    this.kick();
    return accepted;
  }

  /**
   * Stop: the timer is cleared and everything still inside is discarded undelivered.
   * Further offers are refused.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarm();
    this.model.discardAll();
  }

  /** Discard everything inside without delivering it or counting it as dropped (a stream reset). */
  discardAll(): void {
    this.model.discardAll();
  }

  /** Do everything due by `now`, then arm the timer for what comes next. */
  private run(now: number): void {
    if (this.closed || this.running) return;
    this.running = true;
    try {
      this.model.advance(now);
    } finally {
      this.running = false;
    }
    if (!this.closed) this.arm(now);
  }

  /** Run now if something is already due, else make sure the timer is set for it. */
  private kick(): void {
    if (this.running) return;
    const now = this.clock.now();
    if (this.model.nextDeadline() <= now) this.run(now);
    else this.arm(now);
  }

  /** Make sure the timer fires by the next deadline; one timer per link, never more. */
  private arm(now: number): void {
    const deadline = this.model.nextDeadline();
    if (deadline === Infinity) return this.disarm();
    if (this.timer !== null && this.timerDeadline <= deadline) return; // an earlier wakeup re-arms
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    // Whole milliseconds, rounded up, so the wakeup never comes before the deadline.
    this.timer = this.clock.setTimer(this.onTimer, Math.max(1, Math.ceil(deadline - now)));
    this.timerDeadline = deadline;
    this.timerArms++;
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerDeadline = Infinity;
  }
}
