import type { Driveable } from '@mptun/core';
import { SimError } from './errors.js';
import type { Link } from './link.js';
import { Network } from './network.js';
import type { DropCause, Packet } from './packet.js';

/** One end of a path: an endpoint and the pathId it knows the path by. */
export interface PathEnd {
  endpoint: Driveable;
  pathId: number;
}

export interface PathSpec {
  a: PathEnd;
  b: PathEnd;
  /** Links from a to b, in order. A Link object may appear in several paths (a shared bottleneck). */
  forward: readonly Link[];
  /** Links from b to a, in order. */
  backward: readonly Link[];
  name?: string;
}

export interface MeshPath {
  readonly index: number;
  readonly name: string;
  readonly a: PathEnd;
  readonly b: PathEnd;
  readonly forward: readonly Link[];
  readonly backward: readonly Link[];
}

/** What the onPacket hook sees: a segment sent, delivered, or dropped by a link. */
export interface PacketEvent {
  type: 'send' | 'deliver' | 'drop';
  time: number;
  /** Names of the sending and receiving endpoints. */
  from: string;
  to: string;
  /** Index of the mesh path. */
  path: number;
  /** The pathId the sender used. */
  pathId: number;
  /** The pathId the receiver gets it on. */
  toPathId: number;
  /** As sent (send), as delivered (deliver), as the dropping link held it (drop). */
  bytes: Uint8Array;
  /** For drops: why, and at which link. */
  dropped?: DropCause;
  link?: string;
}

export interface MeshOptions {
  /** Seeds the links' generators (those without their own seed). Default 1. */
  seed?: number;
  onPacket?: ((event: PacketEvent) => void) | null;
  /** Passes at one virtual instant before run() calls it a livelock. Default 100 000. */
  livelockIterations?: number;
  /** Segments transmitted at one virtual instant before run() calls it a livelock. Default 1 000 000. */
  livelockTransmits?: number;
}

export interface RunOptions {
  /** Stop when virtual time would pass this (ms); the clock is left at `until`. */
  until?: number;
  /** Bound on passes (an instant takes one or more). Default DEFAULT_MAX_STEPS. */
  maxSteps?: number;
  /**
   * Checked before the first pass and in every pass after deliveries and timeouts, before
   * transmissions are drained; true ends the run at that instant. It also sees the result
   * of every drain before the clock moves on. It may act on the endpoints (let an app
   * write, say): what that makes them send goes out at the same instant.
   */
  stopWhen?: () => boolean;
  /** Throw SimError STEP_LIMIT when the run ends on maxSteps, or (with stopWhen) ends before it held. */
  throwOnLimit?: boolean;
}

export interface RunResult {
  /** stopped: stopWhen held; until: the clock reached `until`; maxSteps: the bound; idle: nothing left to happen. */
  reason: 'stopped' | 'until' | 'maxSteps' | 'idle';
  now: number;
  steps: number;
}

export const DEFAULT_MAX_STEPS = 10_000_000;
const DEFAULT_LIVELOCK_ITERATIONS = 100_000;
const DEFAULT_LIVELOCK_TRANSMITS = 1_000_000;

/** A registered endpoint and the routes leaving it, by its own pathIds. */
class Slot {
  readonly routes = new Map<number, Direction>();
  constructor(
    readonly endpoint: Driveable,
    readonly name: string,
  ) {}
}

/** One direction of a path; it is the tag packets carry through the network. */
class Direction {
  constructor(
    readonly path: MeshPath,
    readonly from: Slot,
    readonly fromPathId: number,
    readonly to: Slot,
    readonly toPathId: number,
    readonly links: readonly Link[],
  ) {}
}

/**
 * Any number of sans-IO endpoints joined by paths of emulated links, on virtual time.
 * run() makes passes: deliver every due packet, fire due endpoint timeouts, check
 * stopWhen, drain every endpoint's pollTransmit into its paths. When the current instant
 * has nothing left to do, it jumps the clock to the next event (a link's end of
 * serialization or arrival, a scripted link change, or an endpoint's deadline).
 */
export class Mesh {
  readonly seed: number;
  onPacket: ((event: PacketEvent) => void) | null;
  private readonly net: Network<Direction>;
  private readonly slots: Slot[] = [];
  private readonly slotOf = new Map<Driveable, Slot>();
  private readonly pathList: MeshPath[] = [];
  private readonly linkList: Link[] = [];
  private readonly livelockIterations: number;
  private readonly livelockTransmits: number;
  private running = false;

  constructor(options: MeshOptions = {}) {
    this.seed = options.seed ?? 1;
    this.onPacket = options.onPacket ?? null;
    this.livelockIterations = positiveInteger('livelockIterations', options.livelockIterations ?? DEFAULT_LIVELOCK_ITERATIONS);
    this.livelockTransmits = positiveInteger('livelockTransmits', options.livelockTransmits ?? DEFAULT_LIVELOCK_TRANSMITS);
    this.net = new Network<Direction>({ seed: this.seed });
    this.net.onExit = (packet, now) => this.deliver(packet, now);
    this.net.onDrop = (packet, link, cause, now) => this.traceDrop(packet, link, cause, now);
  }

  /** Virtual time, ms. */
  get now(): number {
    return this.net.now;
  }

  get paths(): readonly MeshPath[] {
    return this.pathList;
  }

  /** Every distinct link used by some path, in order of first use. */
  get links(): readonly Link[] {
    return this.linkList;
  }

  /** Register an endpoint under a name (endpoints first seen in addPath get `ep<n>`). */
  addEndpoint(endpoint: Driveable, name?: string): string {
    if (this.slotOf.has(endpoint)) throw new SimError('BAD_ROUTE', 'endpoint already added to this mesh');
    const slot = new Slot(endpoint, name ?? `ep${this.slots.length}`);
    this.slots.push(slot);
    this.slotOf.set(endpoint, slot);
    return slot.name;
  }

  /** The name an endpoint is traced under. */
  endpointName(endpoint: Driveable): string {
    const slot = this.slotOf.get(endpoint);
    if (slot === undefined) throw new SimError('BAD_ROUTE', 'endpoint is not in this mesh');
    return slot.name;
  }

  /**
   * Join a.endpoint (by a.pathId) and b.endpoint (by b.pathId). The endpoints must
   * already know those pathIds; the mesh only carries what they transmit on them.
   */
  addPath(spec: PathSpec): MeshPath {
    if (spec.forward.length === 0 || spec.backward.length === 0) {
      throw new SimError('BAD_ROUTE', 'a path needs at least one link in each direction');
    }
    const slotA = this.slotOf.get(spec.a.endpoint) ?? this.slotFor(spec.a.endpoint);
    const slotB = this.slotOf.get(spec.b.endpoint) ?? this.slotFor(spec.b.endpoint);
    for (const [slot, pathId] of [
      [slotA, spec.a.pathId],
      [slotB, spec.b.pathId],
    ] as const) {
      if (!Number.isInteger(pathId)) throw new SimError('BAD_ROUTE', `pathId must be an integer, got ${pathId}`);
      if (slot.routes.has(pathId)) throw new SimError('BAD_ROUTE', `${slot.name} already has a path with pathId ${pathId}`);
    }
    if (slotA === slotB && spec.a.pathId === spec.b.pathId) {
      throw new SimError('BAD_ROUTE', `a loop path needs two different pathIds on ${slotA.name}`);
    }
    const index = this.pathList.length;
    const path: MeshPath = {
      index,
      name: spec.name ?? `path${index}`,
      a: { ...spec.a },
      b: { ...spec.b },
      forward: [...spec.forward],
      backward: [...spec.backward],
    };
    for (const link of [...path.forward, ...path.backward]) {
      this.net.attach(link);
      if (!this.linkList.includes(link)) this.linkList.push(link);
    }
    slotA.routes.set(path.a.pathId, new Direction(path, slotA, path.a.pathId, slotB, path.b.pathId, path.forward));
    slotB.routes.set(path.b.pathId, new Direction(path, slotB, path.b.pathId, slotA, path.a.pathId, path.backward));
    this.pathList.push(path);
    return path;
  }

  /** Drive the endpoints; always bounded (maxSteps defaults to DEFAULT_MAX_STEPS). */
  run(options: RunOptions = {}): RunResult {
    if (this.running) throw new SimError('BAD_OPTION', 'run() called from inside a run (an endpoint callback?)');
    const until = options.until ?? Infinity;
    if (typeof until !== 'number' || !(until >= this.now)) {
      throw new SimError('BAD_OPTION', `until must be a time >= now (${this.now} ms), got ${String(until)}`);
    }
    const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    if (!Number.isInteger(maxSteps) || maxSteps < 0) {
      throw new SimError('BAD_OPTION', `maxSteps must be an integer >= 0, got ${String(maxSteps)}`);
    }
    const stopWhen = options.stopWhen ?? null;
    const net = this.net;
    const slots = this.slots;
    let steps = 0;
    let passesHere = 0; // passes since virtual time last moved
    let transmitsHere = 0; // segments sent since virtual time last moved
    let lastActive: Slot | null = null;
    this.running = true;
    try {
      if (stopWhen !== null && stopWhen()) return this.end('stopped', steps, options);
      if (maxSteps === 0) return this.end('maxSteps', steps, options);
      for (;;) {
        // One pass over the current instant.
        steps++;
        const now = net.now;
        net.processDue();
        for (let i = 0; i < slots.length; i++) {
          const slot = slots[i]!;
          if (this.deadline(slot) <= now) {
            lastActive = slot;
            slot.endpoint.handleTimeout(now);
          }
        }
        // Before the drain, so that whatever stopWhen makes endpoints do (an app writing,
        // say) goes out at this same instant.
        if (stopWhen !== null && stopWhen()) return this.end('stopped', steps, options);
        const transmitsBefore = transmitsHere;
        for (let i = 0; i < slots.length; i++) {
          const slot = slots[i]!;
          const endpoint = slot.endpoint;
          for (let tx = endpoint.pollTransmit(now); tx !== null; tx = endpoint.pollTransmit(now)) {
            lastActive = slot;
            if (++transmitsHere > this.livelockTransmits) {
              throw this.livelock(`${transmitsHere} segments sent at one instant`, slot);
            }
            this.transmit(slot, tx.pathId, tx.bytes, now);
          }
        }
        // The clock still stands at the instant just processed.
        if (steps >= maxSteps) return this.end('maxSteps', steps, options);
        let next = net.nextEventTime();
        for (let i = 0; i < slots.length; i++) {
          const deadline = this.deadline(slots[i]!);
          if (deadline < next) next = deadline;
        }
        // stopWhen must see what the drain did (endpoints may change state in pollTransmit,
        // sending or not) before the clock moves on: with an observer, an instant takes at
        // least two passes and ends with one that sends nothing.
        if (stopWhen !== null && (passesHere === 0 || transmitsHere !== transmitsBefore)) next = now;
        if (next <= now) {
          if (++passesHere > this.livelockIterations) {
            throw this.livelock(`${passesHere} passes without time advancing`, lastActive);
          }
          continue;
        }
        if (next > until) {
          // Nothing happens before `until`: let the clock run out to it.
          net.advanceTo(until);
          return this.end(stopWhen !== null && stopWhen() ? 'stopped' : 'until', steps, options);
        }
        if (next === Infinity) return this.end('idle', steps, options);
        net.advanceTo(next);
        passesHere = 0;
        transmitsHere = 0;
      }
    } finally {
      this.running = false;
    }
  }

  private slotFor(endpoint: Driveable): Slot {
    this.addEndpoint(endpoint);
    return this.slotOf.get(endpoint)!;
  }

  private deadline(slot: Slot): number {
    const t = slot.endpoint.pollTimeout();
    if (t === null) return Infinity;
    if (typeof t !== 'number' || Number.isNaN(t)) {
      throw new SimError('BAD_TIMEOUT', `${slot.name}.pollTimeout() returned ${String(t)} (seed ${this.seed})`);
    }
    return t;
  }

  private transmit(slot: Slot, pathId: number, bytes: Uint8Array, now: number): void {
    const dir = slot.routes.get(pathId);
    if (dir === undefined) {
      throw new SimError('NO_ROUTE', `${slot.name} transmitted on pathId ${pathId}, which no path uses (t=${now} ms, seed ${this.seed})`);
    }
    const hook = this.onPacket;
    if (hook !== null) {
      hook({ type: 'send', time: now, from: slot.name, to: dir.to.name, path: dir.path.index, pathId, toPathId: dir.toPathId, bytes });
    }
    this.net.send(dir.links, bytes, dir);
  }

  private deliver(packet: Packet<Direction>, now: number): void {
    const dir = packet.tag;
    const hook = this.onPacket;
    if (hook !== null) {
      hook({
        type: 'deliver',
        time: now,
        from: dir.from.name,
        to: dir.to.name,
        path: dir.path.index,
        pathId: dir.fromPathId,
        toPathId: dir.toPathId,
        bytes: packet.bytes,
      });
    }
    dir.to.endpoint.handleSegment(now, dir.toPathId, packet.bytes);
  }

  private traceDrop(packet: Packet<Direction>, link: Link, cause: DropCause, now: number): void {
    const hook = this.onPacket;
    if (hook === null) return;
    const dir = packet.tag;
    hook({
      type: 'drop',
      time: now,
      from: dir.from.name,
      to: dir.to.name,
      path: dir.path.index,
      pathId: dir.fromPathId,
      toPathId: dir.toPathId,
      bytes: packet.bytes,
      dropped: cause,
      link: link.name,
    });
  }

  private end(reason: RunResult['reason'], steps: number, options: RunOptions): RunResult {
    const unmet = reason === 'maxSteps' || (reason !== 'stopped' && options.stopWhen !== undefined);
    if (options.throwOnLimit === true && unmet) {
      const what = options.stopWhen !== undefined ? ' before stopWhen held' : '';
      throw new SimError(
        'STEP_LIMIT',
        `simulation ended (${reason}) at t=${this.now} ms after ${steps} steps${what}; seed ${this.seed}`,
      );
    }
    return { reason, now: this.now, steps };
  }

  private livelock(what: string, slot: Slot | null): SimError {
    const who = slot !== null ? ` (last active endpoint: ${slot.name})` : '';
    return new SimError('LIVELOCK', `livelock at t=${this.now} ms: ${what}${who}; seed ${this.seed}`);
  }
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new SimError('BAD_OPTION', `${name} must be an integer >= 1, got ${String(v)}`);
  return v;
}
