import { SeededRandom } from '@mptun/core';
import { SimError } from './errors.js';
import { EventHeap } from './heap.js';
import type { Link, LinkHost, LinkWake } from './link.js';
import type { LinkChange } from './link-options.js';
import { Packet, type DropCause } from './packet.js';

/** A scripted link change waiting in the heap. */
interface ChangeEvent {
  time: number;
  seq: number;
  readonly link: Link;
  readonly change: LinkChange;
}

type NetEvent = LinkWake | ChangeEvent;

export interface NetworkOptions {
  /** Seeds every link that has no seed of its own. Default 1. */
  seed?: number;
}

/**
 * The event core: virtual time, one heap of pending events (a link's next wake-up:
 * an end of serialization or an arrival; scripted link changes) and the links they belong to. It carries packets
 * along routes of links; what happens at the end of a route is the owner's business
 * (`onExit`). Mesh builds endpoints on top of it; tests can drive it directly.
 */
export class Network<T = unknown> implements LinkHost {
  readonly seed: number;
  private readonly rng: SeededRandom;
  private readonly heap = new EventHeap<NetEvent>();
  private time = 0;
  private nextSeq = 0;
  private linksAttached = 0;
  /** A packet reached the end of its route. */
  onExit: ((packet: Packet<T>, now: number) => void) | null = null;
  /** A link dropped a packet. */
  onDrop: ((packet: Packet<T>, link: Link, cause: DropCause, now: number) => void) | null = null;

  constructor(options: NetworkOptions = {}) {
    this.seed = options.seed ?? 1;
    this.rng = new SeededRandom(this.seed);
  }

  get now(): number {
    return this.time;
  }

  /** Events waiting in the heap. */
  get pendingEvents(): number {
    return this.heap.size;
  }

  /** Make this network drive `link` (done implicitly by send). Unnamed links become link0, link1, … */
  attach(link: Link): void {
    if (link.isAttachedTo(this)) return;
    link.attach(this, `link${this.linksAttached}`);
    this.linksAttached++;
  }

  /** Put bytes onto the first link of `route` now. */
  send(route: readonly Link[], bytes: Uint8Array, tag: T): void {
    const first = route[0];
    if (first === undefined) throw new SimError('BAD_ROUTE', 'a route needs at least one link');
    for (let i = 0; i < route.length; i++) {
      const link = route[i]!;
      if (!link.isAttachedTo(this)) this.attach(link);
    }
    first.offer(new Packet(bytes, tag, route, this.time));
  }

  /** Time of the earliest pending event, or Infinity when there is none. */
  nextEventTime(): number {
    const top = this.heap.peek();
    return top === undefined ? Infinity : top.time;
  }

  /** Fire every event due at or before now; returns how many fired. */
  processDue(): number {
    const heap = this.heap;
    const now = this.time;
    let fired = 0;
    for (let top = heap.peek(); top !== undefined && top.time <= now; top = heap.peek()) {
      heap.pop();
      fired++;
      if ('change' in top) top.link.applyChange(top.change);
      else top.link.fire(top, now);
    }
    return fired;
  }

  /** Move virtual time forward to `t` (events are not fired: see processDue). */
  advanceTo(t: number): void {
    if (!(t >= this.time)) throw new SimError('BAD_OPTION', `time cannot go back (now ${this.time} ms, asked ${t} ms)`);
    this.time = t;
  }

  /** Fire events in time order up to and including `t`, then leave the clock at `t`. */
  runUntil(t: number): void {
    if (!(t >= this.time)) throw new SimError('BAD_OPTION', `time cannot go back (now ${this.time} ms, asked ${t} ms)`);
    this.processDue();
    for (let next = this.nextEventTime(); next <= t; next = this.nextEventTime()) {
      this.time = next;
      this.processDue();
    }
    this.time = t;
  }

  // ---- LinkHost ----

  /** @internal */
  scheduleWake(wake: LinkWake): void {
    wake.seq = this.nextSeq++;
    this.heap.push(wake);
  }

  /** @internal */
  scheduleChange(link: Link, change: LinkChange): void {
    // A change scripted for the past applies at once (at the next processDue).
    this.heap.push({ time: Math.max(change.at, this.time), seq: this.nextSeq++, link, change });
  }

  /** @internal */
  linkExit(_link: Link, packet: Packet): void {
    const next = packet.hop + 1;
    const route = packet.route;
    if (next < route.length) {
      packet.hop = next;
      route[next]!.offer(packet);
      return;
    }
    if (this.onExit !== null) this.onExit(packet as Packet<T>, this.time);
  }

  /** @internal */
  linkDrop(link: Link, packet: Packet, cause: DropCause): void {
    if (this.onDrop !== null) this.onDrop(packet as Packet<T>, link, cause, this.time);
  }

  /** @internal */
  forkRandom(): SeededRandom {
    return this.rng.fork();
  }
}
