/**
 * Drives one sans-IO Endpoint with the real world: the monotonic clock, one timer re-armed
 * only when the engine's deadline moves, and the path links that carry segments. Input and
 * timers only mark work; a single pump per event-loop turn handles it, so a burst of
 * datagrams is absorbed before anything is sent.
 */
import { performance } from 'node:perf_hooks';
import { randomFillSync } from 'node:crypto';
import { Endpoint, type Connection, type EndpointConfig, type EndpointEvent, type PathCloseInfo, type PathLink, type PathLivenessEvent, type RandomSource } from '@mptun/core';
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
  addLink(link: PathLink, opts: { fixedLocalPort?: boolean; listener?: string } = {}): number {
    const pathId = this.endpoint.openPath(link.local, link.remote, {
      // The SYN advertises what the path can deliver to us; we send what it carries now.
      mss: mssFor(link.maxReceiveSegment ?? link.maxSegment),
      sendMss: mssFor(link.maxSegment),
      reliable: link.reliable,
      authenticated: link.authenticated,
      ...(opts.listener !== undefined ? { listener: opts.listener } : {}),
      ...(opts.fixedLocalPort ? { fixedLocalPort: link.local.port } : {}),
    });
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
    return pathId;
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
    if (!state) return;
    this.onSegment?.(tapped(this.wallClock(this.now()), 'sent', pathId, state.link, bytes));
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
