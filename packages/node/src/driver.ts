/**
 * Drives one sans-IO Endpoint with the real world: the monotonic clock, one timer re-armed
 * only when the engine's deadline moves, and the path links that carry segments. Input and
 * timers only mark work; a single pump per event-loop turn handles it, so a burst of
 * datagrams is absorbed before anything is sent.
 *
 * A path's first segment may ride its handshake (sealed UDP, EarlySegmentSource): a client
 * reserves the path in the engine before its link is up (reserveLink), lets joins start on
 * it, and hands the first segment they send to the transport (takeEarlySegment); the rest
 * wait for attachLink, which also feeds the server's answer in first. A server registers
 * such a path at once (answerEarly) and returns the engine's answer for the response.
 */
import { performance } from 'node:perf_hooks';
import { randomFillSync } from 'node:crypto';
import { Endpoint, type Connection, type EndpointConfig, type EndpointEvent, type PathCloseInfo, type PathLink, type PathLivenessEvent, type PathShape, type RandomSource } from '@mptun/core';
import { tapped, type SegmentTap } from './segment-tap.js';

/** Receives the engine's events for one connection. */
export interface ConnectionHandler {
  onEngineEvent(ev: EndpointEvent): void;
}

interface LinkState {
  link: PathLink;
  /** Segments a reliable link refused for now, sent again on its drain (nothing is dropped there). */
  backlog: Uint8Array[];
  /** When a segment last arrived on this path (performance.now() ms); -Infinity before any. */
  lastHeard: number;
}

/** A path reserved while its handshake runs: what the engine sends on it waits here. */
interface ReservedPath {
  ends: Pick<PathLink, 'local' | 'remote'>;
  held: Uint8Array[];
}

/** Segments a reserved path holds at most; later ones are dropped (the engine sends them again). */
const MAX_HELD_SEGMENTS = 64;

/** Path options as addLink and reserveLink take them. */
export interface LinkOptions {
  fixedLocalPort?: boolean;
  listener?: string;
}

/** Largest TCP header with options: what a segment adds to its payload at most. */
const MAX_TCP_HEADER = 60;

/** The MSS of a path whose carrier takes segments of up to `maxSegment` bytes (headers and options at their largest). */
function mssFor(maxSegment: number): number {
  return Math.max(256, maxSegment - MAX_TCP_HEADER);
}

/** Randomness for keys, nonces and ISNs from the OS CSPRNG. */
export const osRandom: RandomSource = { fill: (buf) => void randomFillSync(buf) };

export class Driver {
  readonly endpoint: Endpoint;
  private readonly links = new Map<number, LinkState>();
  private readonly reserved = new Map<number, ReservedPath>();
  /** While answerEarly runs: the path whose first segment out is the answer, and that segment. */
  private capture: { pathId: number; first: Uint8Array | null } | null = null;
  private readonly handlers = new Map<Connection, ConnectionHandler>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private pumpQueued = false;
  private closed = false;
  /** A listener's new connection. */
  onIncoming: ((conn: Connection) => ConnectionHandler | null) | null = null;
  /** Sees every engine event before its connection's handler (path managers, address announcers). */
  onEvent: ((ev: EndpointEvent) => void) | null = null;
  /** A path went away (its link closed). */
  onPathClosed: ((pathId: number, link: PathLink, info: PathCloseInfo) => void) | null = null;
  /** Sees every segment sent and received (packet captures). */
  onSegment: SegmentTap | null = null;
  /** The first segment arrived on a path: the peer answered on it. */
  onFirstHeard: ((pathId: number) => void) | null = null;
  /** The peer stopped answering on a path under traffic, or was heard there again (Endpoint.pollPathEvent). */
  onPathLiveness: ((ev: PathLivenessEvent) => void) | null = null;

  constructor(config: Omit<EndpointConfig, 'random'> & { random?: RandomSource }) {
    this.endpoint = new Endpoint({ ...config, random: config.random ?? osRandom });
  }

  now(): number {
    return performance.now();
  }

  /** Wall-clock milliseconds since the Unix epoch at `now` on this driver's clock. */
  private wallClock(now: number): number {
    return performance.timeOrigin + now;
  }

  /** Carry segments of a path over `link`; returns the engine's pathId. */
  addLink(link: PathLink, opts: LinkOptions = {}): number {
    const pathId = this.openEnginePath(link, opts);
    this.wire(pathId, link);
    return pathId;
  }

  /** The engine's path for what `shape` will carry. */
  private openEnginePath(shape: Omit<PathShape, 'maxReceiveSegment'> & { maxReceiveSegment?: number }, opts: LinkOptions): number {
    return this.endpoint.openPath(shape.local, shape.remote, {
      // The SYN advertises what the path can deliver to us; we send what it carries now.
      mss: mssFor(shape.maxReceiveSegment ?? shape.maxSegment),
      sendMss: mssFor(shape.maxSegment),
      reliable: shape.reliable,
      authenticated: shape.authenticated,
      ...(opts.listener !== undefined ? { listener: opts.listener } : {}),
      ...(opts.fixedLocalPort ? { fixedLocalPort: shape.local.port } : {}),
    });
  }

  /**
   * A client path whose handshake is under way: the engine knows it from now (subflows may
   * start on it), and what it sends is held until attachLink. Returns the pathId.
   */
  reserveLink(shape: PathShape, opts: LinkOptions = {}): number {
    const pathId = this.openEnginePath(shape, opts);
    this.reserved.set(pathId, { ends: { local: shape.local, remote: shape.remote }, held: [] });
    return pathId;
  }

  /** Runs the engine now; the first segment it sent on reserved `pathId` (to ride the handshake), or null. */
  takeEarlySegment(pathId: number): Uint8Array | null {
    const r = this.reserved.get(pathId);
    if (!r) return null;
    this.pump();
    return r.held[0] ?? null;
  }

  /**
   * The reserved path's link is up. The server's answer to the first segment (the link's
   * earlyAnswer) goes to the engine first; the segments held go out after it, less the
   * first one when it was answered (it rode the handshake). Returns the pathId.
   */
  attachLink(pathId: number, link: PathLink): number {
    const r = this.reserved.get(pathId);
    if (!r) throw new Error(`path ${pathId} is not reserved`);
    this.reserved.delete(pathId);
    this.wire(pathId, link);
    const answer = link.earlyAnswer ?? null;
    const held = answer !== null && answer.length > 0 ? r.held.slice(1) : r.held;
    if (answer !== null && answer.length > 0) link.onSegment!(answer);
    for (const bytes of held) this.transmit(pathId, bytes);
    this.schedulePump();
    return pathId;
  }

  /** A reserved path will not come up (its handshake failed, or it is no longer wanted): its subflows end. */
  dropReserved(pathId: number): void {
    if (!this.reserved.delete(pathId)) return;
    this.endpoint.closePath(this.now(), pathId);
    this.schedulePump();
  }

  /**
   * A server's path whose first segment came in its handshake (PathListener.onEarlyPath):
   * registers the link, hands the engine the segment, and returns the engine's first
   * segment back on that path (the answer that rides the response), or null.
   */
  answerEarly(link: PathLink, segment: Uint8Array, opts: LinkOptions = {}): { pathId: number; answer: Uint8Array | null } {
    const pathId = this.addLink(link, opts);
    this.capture = { pathId, first: null };
    try {
      link.onSegment!(segment);
      this.pump();
      return { pathId, answer: this.capture.first };
    } finally {
      this.capture = null;
    }
  }

  /** Hands the link of a path its handlers. */
  private wire(pathId: number, link: PathLink): void {
    const state: LinkState = { link, backlog: [], lastHeard: -Infinity };
    this.links.set(pathId, state);
    link.onSegment = (segment) => {
      const first = state.lastHeard === -Infinity;
      state.lastHeard = this.now();
      this.onSegment?.(tapped(this.wallClock(state.lastHeard), 'received', pathId, link, segment));
      this.endpoint.handleSegment(state.lastHeard, pathId, segment);
      if (first) this.onFirstHeard?.(pathId);
      this.schedulePump();
    };
    // Path MTU discovery moved the largest datagram (RFC 8899): the subflows follow.
    link.onMaxSegment = (maxSegment) => {
      if (!this.links.has(pathId)) return;
      this.endpoint.setPathMss(pathId, mssFor(maxSegment));
      this.schedulePump();
    };
    link.onDrain = () => {
      this.flushBacklog(state);
      this.schedulePump();
    };
    link.onClose = (info) => {
      if (!this.links.has(pathId)) return;
      this.links.delete(pathId);
      this.endpoint.closePath(this.now(), pathId);
      this.onPathClosed?.(pathId, link, info);
      this.schedulePump();
    };
  }

  /** The path's carrier reports its peer quiet (PathLink.onSilence) or heard again: tell the engine. */
  setPathQuiet(pathId: number, quiet: boolean): void {
    if (!this.links.has(pathId)) return;
    this.endpoint.setPathQuiet(pathId, quiet);
    this.schedulePump();
  }

  /** When the peer was last heard on `pathId` (ms on this driver's clock); -Infinity if never. */
  lastHeard(pathId: number): number {
    return this.links.get(pathId)?.lastHeard ?? -Infinity;
  }

  /**
   * Close a path's link; its subflows end and their data moves to other paths. What the
   * engine has queued leaves first (an abort's RST with MP_FASTCLOSE, RFC 8684 §3.5, would
   * otherwise die with the link), and the link closes once this turn's sends are done.
   */
  removeLink(pathId: number): void {
    const state = this.links.get(pathId);
    if (!state) return;
    const now = this.now();
    this.transmitQueued(now);
    this.links.delete(pathId);
    this.endpoint.closePath(now, pathId);
    state.link.onSegment = null;
    state.link.onClose = null;
    setImmediate(() => state.link.close());
    this.schedulePump();
  }

  /** Hands every segment the engine has ready to its link, now. */
  private transmitQueued(now: number): void {
    for (let t = this.endpoint.pollTransmit(now); t; t = this.endpoint.pollTransmit(now)) this.send(t.pathId, t.bytes);
  }

  linkOf(pathId: number): PathLink | undefined {
    return this.links.get(pathId)?.link;
  }

  pathIds(): number[] {
    return [...this.links.keys()];
  }

  attach(conn: Connection, handler: ConnectionHandler): void {
    this.handlers.set(conn, handler);
  }

  /** Ask for a pump at the end of this event-loop turn. */
  schedulePump(): void {
    if (this.pumpQueued || this.closed) return;
    this.pumpQueued = true;
    setImmediate(() => this.pump());
  }

  /** Run the engine: due timers, transmissions, events; then re-arm the timer. */
  pump(): void {
    this.pumpQueued = false;
    if (this.closed) return;
    const now = this.now();
    if (this.timerAt <= now) {
      this.timerAt = Infinity;
      this.endpoint.handleTimeout(now);
    }
    // Events may make the application write, which makes more to transmit: a few rounds.
    for (let round = 0; round < 8; round++) {
      let sent = 0;
      for (let t = this.endpoint.pollTransmit(now); t; t = this.endpoint.pollTransmit(now)) {
        this.send(t.pathId, t.bytes);
        sent++;
      }
      let events = 0;
      for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
        this.dispatch(ev);
        events++;
      }
      for (let ev = this.endpoint.pollPathEvent(); ev; ev = this.endpoint.pollPathEvent()) {
        if (this.links.has(ev.pathId)) this.onPathLiveness?.(ev);
        events++;
      }
      if (sent === 0 && events === 0) break;
    }
    this.armTimer(now);
  }

  private send(pathId: number, bytes: Uint8Array): void {
    const state = this.links.get(pathId);
    if (!state) {
      const r = this.reserved.get(pathId);
      if (!r) return;
      this.onSegment?.(tapped(this.wallClock(this.now()), 'sent', pathId, r.ends, bytes));
      if (r.held.length < MAX_HELD_SEGMENTS) r.held.push(bytes.slice());
      return;
    }
    this.onSegment?.(tapped(this.wallClock(this.now()), 'sent', pathId, state.link, bytes));
    if (this.capture !== null && this.capture.pathId === pathId && this.capture.first === null) {
      this.capture.first = bytes.slice();
      return;
    }
    this.transmit(pathId, bytes);
  }

  /** Puts a segment tapped already on its link. */
  private transmit(pathId: number, bytes: Uint8Array): void {
    const state = this.links.get(pathId);
    if (!state) return;
    if (state.backlog.length > 0) {
      state.backlog.push(bytes);
      return;
    }
    // A datagram path drops what it cannot send (the engine retransmits); a reliable one
    // must not lose a segment, so it waits here for the link's drain.
    if (!state.link.send(bytes) && state.link.reliable) state.backlog.push(bytes);
  }

  private flushBacklog(state: LinkState): void {
    while (state.backlog.length > 0) {
      if (!state.link.send(state.backlog[0]!)) return;
      state.backlog.shift();
    }
  }

  private dispatch(ev: EndpointEvent): void {
    this.onEvent?.(ev);
    let handler = this.handlers.get(ev.connection);
    if (!handler && ev.type === 'incoming') {
      handler = this.onIncoming?.(ev.connection) ?? undefined;
      if (handler) this.handlers.set(ev.connection, handler);
      else ev.connection.abort(this.now());
    }
    handler?.onEngineEvent(ev);
    if (ev.type === 'closed') this.handlers.delete(ev.connection);
  }

  private armTimer(now: number): void {
    const at = this.endpoint.pollTimeout();
    const want = at === null ? Infinity : at;
    // A timer may fire a little before its deadline by performance.now() (libuv measures from
    // the loop's cached time, which lags while a turn is busy): then pump() ran no timeouts,
    // and the same deadline must be armed again, or the engine would wait for traffic forever.
    if (want === this.timerAt && (this.timer !== null || want === Infinity)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = want;
    if (want === Infinity) return;
    // Timers have 1 ms resolution: round up so we never wake before the deadline.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, Math.max(0, Math.ceil(want - now)));
    this.timer.unref();
  }

  /** Number of connections the engine holds. */
  get connectionCount(): number {
    let n = 0;
    for (const _ of this.endpoint.connections()) n++;
    return n;
  }

  /**
   * Abort every connection (their resets go out first), then close every link and the
   * timer. Resolves once the links are closed.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const now = this.now();
    for (const conn of [...this.endpoint.connections()]) conn.abort(now);
    // Let the aborts' resets out before the links go.
    this.transmitQueued(now);
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) this.dispatch(ev);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const links = [...this.links];
    this.links.clear();
    for (const pathId of this.reserved.keys()) this.endpoint.closePath(now, pathId);
    this.reserved.clear();
    this.handlers.clear();
    for (const [pathId, state] of links) {
      state.link.onSegment = null;
      state.link.onClose = null;
      this.endpoint.closePath(now, pathId);
    }
    // The resets above are on their way out; close the links once this turn's sends are done.
    return new Promise((resolve) =>
      setImmediate(() => {
        for (const [, state] of links) state.link.close();
        resolve();
      }),
    );
  }
}
