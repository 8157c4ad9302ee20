/**
 * A TCP byte-stream relay with an emulated link in each direction, for WebSocket paths.
 *
 * Rate, delay, jitter (order kept) and outages apply; loss, burst loss, reordering,
 * duplication and MTU do not — a byte stream cannot lose or reorder bytes, and the TCP
 * underneath would hide it anyway. The links run in "stream" mode: nothing is dropped;
 * when a link holds more than its queue plus its bandwidth-delay product, the relay stops
 * reading from the sending side (TCP flow control does the rest). An outage freezes the
 * stream; with `resetOnDown`, it resets every connection instead and refuses new ones until
 * the path is up again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { LinkOptions } from '@mptun/sim';
import { formatHostPort, type HostPort } from './address.js';
import type { LinkClock } from './clock.js';
import { LinkemError } from './errors.js';
import { RealtimeLink, type UniformRandom } from './realtime-link.js';

export interface TcpRelayInit {
  name: string;
  listen: HostPort;
  target: HostPort;
  /** Local address for connections to the target; null lets the OS choose. */
  upstreamHost: string | null;
  /** Options for a byte stream (no loss, reordering, …: see streamOptions). */
  up: LinkOptions;
  down: LinkOptions;
  randomUp: UniformRandom;
  randomDown: UniformRandom;
  clock: LinkClock;
  resetOnDown: boolean;
}

export interface TcpRelayStats {
  /** Connections open now. */
  connections: number;
  accepted: number;
  /** Refused (reset at once) because the path was down with resetOnDown. */
  refused: number;
  /** Connections reset because the path went down with resetOnDown. */
  resetByOutage: number;
  /** Connections ended by an error on either side (the target refused, a peer reset, …). */
  failed: number;
}

/** Least and most a direction may hold before the relay stops reading from its source. */
const MIN_HIGH_WATER = 16 * 1024;
const MAX_HIGH_WATER = 32 * 1024 * 1024;
/** A chunk read from a socket is split so each piece takes about this long to serialize. */
const PIECE_MS = 2;
const MIN_PIECE = 1448;
const MAX_PIECE = 64 * 1024;
const NO_BYTES = new Uint8Array(0);

/** One direction of one connection: from `src` through the link to `dst`. */
class Flow {
  blockedByLink = false;
  blockedByDst = false;
  readonly dataTag: Tag;
  readonly endTag: Tag;
  constructor(
    readonly conn: Connection,
    readonly src: Socket,
    readonly dst: Socket,
    readonly link: RealtimeLink<Tag>,
  ) {
    this.dataTag = { flow: this, end: false };
    this.endTag = { flow: this, end: true };
  }
}

interface Tag {
  readonly flow: Flow;
  /** The source ended: end the destination once everything before has been delivered. */
  readonly end: boolean;
}

class Connection {
  closed = false;
  readonly upFlow: Flow;
  readonly downFlow: Flow;
  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    up: RealtimeLink<Tag>,
    down: RealtimeLink<Tag>,
  ) {
    this.upFlow = new Flow(this, client, upstream, up);
    this.downFlow = new Flow(this, upstream, client, down);
  }
}

export class TcpRelay {
  readonly protocol = 'tcp';
  readonly up: RealtimeLink<Tag>;
  readonly down: RealtimeLink<Tag>;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  /** Flows paused because their link is full, per link. */
  private readonly waiting = new Map<RealtimeLink<Tag>, Set<Flow>>();
  private bound: HostPort | null = null;
  private closed = false;
  private isUp = true;
  private readonly counters = { accepted: 0, refused: 0, resetByOutage: 0, failed: 0 };

  constructor(private readonly init: TcpRelayInit) {
    const deliver = (bytes: Uint8Array, tag: Tag): void => this.deliver(bytes, tag);
    this.up = new RealtimeLink<Tag>({ name: `${init.name} up`, mode: 'stream', options: init.up, random: init.randomUp, clock: init.clock, deliver });
    this.down = new RealtimeLink<Tag>({ name: `${init.name} down`, mode: 'stream', options: init.down, random: init.randomDown, clock: init.clock, deliver });
    this.waiting.set(this.up, new Set());
    this.waiting.set(this.down, new Set());
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  async start(): Promise<HostPort> {
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new LinkemError('ERR_LINKEM_BIND', `path ${this.init.name}: cannot listen on tcp ${formatHostPort(this.init.listen)}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host: this.init.listen.host, port: this.init.listen.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', () => this.counters.failed++);
    const a = server.address();
    if (a === null || typeof a === 'string') throw new LinkemError('ERR_LINKEM_BIND', `path ${this.init.name}: no TCP address after listen`);
    this.bound = { host: a.address, port: a.port };
    return this.bound;
  }

  get address(): HostPort {
    return this.bound ?? this.init.listen;
  }

  get stats(): TcpRelayStats {
    return { connections: this.connections.size, ...this.counters };
  }

  /** Down: the stream stalls (or, with resetOnDown, every connection is reset). Up: it flows again. */
  setUp(up: boolean): void {
    if (this.closed || up === this.isUp) return;
    this.isUp = up;
    if (!up && this.init.resetOnDown) {
      for (const conn of [...this.connections]) {
        this.counters.resetByOutage++;
        this.abort(conn, true);
      }
      this.up.discardAll();
      this.down.discardAll();
    }
    this.up.setUp(up);
    this.down.setUp(up);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up.close();
    this.down.close();
    const serverClosed = this.bound === null ? Promise.resolve() : new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of [...this.connections]) this.abort(conn, false);
    await serverClosed;
  }

  private accept(client: Socket): void {
    if (this.closed) {
      client.destroy();
      return;
    }
    if (!this.isUp && this.init.resetOnDown) {
      this.counters.refused++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    this.counters.accepted++;
    const t = this.init.target;
    const upstream = connect({ host: t.host, port: t.port, allowHalfOpen: true, ...(this.init.upstreamHost !== null ? { localAddress: this.init.upstreamHost } : {}) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const conn = new Connection(client, upstream, this.up, this.down);
    this.connections.add(conn);
    client.on('data', (chunk: Buffer) => this.forward(conn.upFlow, chunk));
    upstream.on('data', (chunk: Buffer) => this.forward(conn.downFlow, chunk));
    // A FIN travels through the link behind the bytes sent before it.
    client.on('end', () => this.up.offer(NO_BYTES, conn.upFlow.endTag));
    upstream.on('end', () => this.down.offer(NO_BYTES, conn.downFlow.endTag));
    const onError = (): void => {
      if (!conn.closed) this.counters.failed++;
      this.abort(conn, true);
    };
    client.on('error', onError);
    upstream.on('error', onError);
    const onClose = (): void => {
      if (client.destroyed && upstream.destroyed) this.forget(conn);
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  }

  private forward(flow: Flow, chunk: Buffer): void {
    if (flow.conn.closed) return;
    const link = flow.link;
    const piece = pieceBytes(link);
    if (chunk.length <= piece) link.offer(chunk, flow.dataTag);
    else for (let at = 0; at < chunk.length; at += piece) link.offer(chunk.subarray(at, at + piece), flow.dataTag);
    if (link.heldBytes > highWater(link) && !flow.blockedByLink) {
      flow.blockedByLink = true;
      this.waiting.get(link)!.add(flow);
      this.updateFlow(flow);
    }
  }

  private deliver(bytes: Uint8Array, tag: Tag): void {
    const flow = tag.flow;
    const dst = flow.dst;
    if (!flow.conn.closed && !dst.destroyed && !dst.writableEnded) {
      if (tag.end) {
        dst.end();
      } else if (!dst.write(bytes) && !flow.blockedByDst) {
        flow.blockedByDst = true;
        this.updateFlow(flow);
        dst.once('drain', () => {
          flow.blockedByDst = false;
          this.updateFlow(flow);
        });
      }
    }
    const link = flow.link;
    const waiting = this.waiting.get(link)!;
    if (waiting.size > 0 && link.heldBytes <= highWater(link) / 2) {
      for (const f of waiting) {
        f.blockedByLink = false;
        this.updateFlow(f);
      }
      waiting.clear();
    }
  }

  private updateFlow(flow: Flow): void {
    if (flow.conn.closed || flow.src.destroyed) return;
    if (flow.blockedByLink || flow.blockedByDst) flow.src.pause();
    else flow.src.resume();
  }

  /** End a connection at once: with `reset`, both peers see a TCP reset. */
  private abort(conn: Connection, reset: boolean): void {
    if (conn.closed) return;
    for (const socket of [conn.client, conn.upstream]) {
      if (socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.forget(conn);
  }

  private forget(conn: Connection): void {
    conn.closed = true;
    this.connections.delete(conn);
    for (const flow of [conn.upFlow, conn.downFlow]) this.waiting.get(flow.link)!.delete(flow);
  }
}

/** Bytes the link may hold before sources pause: its queue plus what its delay keeps in flight. */
function highWater(link: RealtimeLink<Tag>): number {
  const o = link.options;
  const inFlight = (o.rateBps * (o.delayMs + o.jitterMs)) / 8000;
  const want = link.queueLimitBytes + (Number.isNaN(inFlight) ? 0 : inFlight);
  return Math.min(MAX_HIGH_WATER, Math.max(MIN_HIGH_WATER, want));
}

function pieceBytes(link: RealtimeLink<Tag>): number {
  const rate = link.options.rateBps;
  if (rate === Infinity) return Infinity;
  return Math.min(MAX_PIECE, Math.max(MIN_PIECE, Math.round((rate * PIECE_MS) / 8000)));
}
