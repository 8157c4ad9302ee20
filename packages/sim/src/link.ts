import { SeededRandom } from '@mptun/core';
import { SimError } from './errors.js';
import { validateLinkChange, type LinkChange, type LinkOptions } from './link-options.js';
import { LinkModel, LinkModelDriver, type LinkDropCounts, type LinkModelCounts } from './link-model.js';
import type { DropCause, Packet } from './packet.js';

/** The network's wake-up call for a link, in its event heap. */
export interface LinkWake {
  time: number;
  seq: number;
  readonly link: Link;
}

/** What a link needs from the event loop that drives it (the Network). */
export interface LinkHost {
  readonly now: number;
  /** Put `wake` into the event heap at `wake.time` (the host sets its seq). */
  scheduleWake(wake: LinkWake): void;
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

export type { LinkDropCounts };

export interface LinkStats extends LinkModelCounts {
  /** Queue now, bytes and packets. */
  queueBytes: number;
  queuePackets: number;
}

/**
 * ONE direction of a path in virtual time: the link model (link-model.ts: queue,
 * serializer, delay, jitter, loss, bursts, reordering, duplication, middleboxes,
 * outages) driven from the network's event heap. The link keeps at most one live
 * wake-up in the heap, at the model's next deadline; each wake-up does everything due
 * then. So the heap stays small however many packets are in flight.
 */
export class Link extends LinkModelDriver<Packet> {
  private givenName: string | null;
  protected readonly model: LinkModel<Packet>;
  private rng: SeededRandom | null;
  private host: LinkHost | null = null;
  private pendingChanges: LinkChange[] = [];
  /** The wake-up in the heap that counts; an earlier one replaces it, and stale ones are ignored. */
  private wake: LinkWake | null = null;
  /** A fired wake-up, reused for the next one. */
  private spareWake: LinkWake | null = null;

  constructor(init: LinkInit = {}) {
    super();
    this.givenName = init.name ?? null;
    this.rng = init.seed !== undefined ? new SeededRandom(init.seed) : null;
    this.model = new LinkModel<Packet>({
      options: init,
      // The generator is forked from the network's when the link joins it (see attach).
      random: { next: () => this.rng!.next() },
      deliver: (packet) => this.host!.linkExit(this, packet),
      dropped: (packet, cause) => this.host!.linkDrop(this, packet, cause),
      duplicate: (packet) => packet.duplicate(),
    });
  }

  /** For traces: the name given, else one the network assigns when the link joins it. */
  get name(): string {
    return this.givenName ?? 'link';
  }

  get stats(): LinkStats {
    const m = this.model;
    return { ...m.counters, queueBytes: m.queueBytes, queuePackets: m.queuePackets };
  }

  /** Change options now (fields not given keep their values). */
  setOptions(patch: LinkOptions): void {
    this.model.setOptions(patch);
    if (this.host !== null) this.rearm();
  }

  /** Take the link down (dropping what it holds) or bring it back up, now. */
  setUp(up: boolean): void {
    this.model.setUp(up, this.host?.now ?? 0);
    if (this.host !== null) this.rearm();
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
    this.model.offer(packet, this.host!.now);
    this.rearm();
  }

  /** @internal A wake-up of this link is due. */
  fire(wake: LinkWake, now: number): void {
    if (wake !== this.wake) return; // replaced by an earlier one that already ran
    this.wake = null;
    this.spareWake = wake;
    this.model.advance(now);
    this.rearm();
  }

  /** Keep one wake-up in the heap, at the model's next deadline. */
  private rearm(): void {
    const at = this.model.nextDeadline();
    if (at === Infinity) return;
    if (this.wake !== null && this.wake.time <= at) return;
    let wake = this.spareWake;
    if (wake !== null) {
      this.spareWake = null;
      wake.time = at;
    } else {
      wake = { time: at, seq: 0, link: this };
    }
    this.wake = wake;
    this.host!.scheduleWake(wake);
  }
}
