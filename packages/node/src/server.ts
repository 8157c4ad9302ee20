/**
 * MptcpServer: accepts paths on any mix of transports and addresses (several at once),
 * authenticates them, and hands each new MPTCP connection to the application. Its UDP
 * addresses (and those given as `announce`) are announced to every connection that came in
 * over UDP (ADD_ADDR, RFC 8684 §3.4.1), so clients join subflows to them. Behind a balancer,
 * connections that came in over WebSocket are told the `announce` addresses, which clients
 * dial over WebSocket at the same URL path.
 */
import type { Connection, EndpointConfig, PathLink, PathListener, TransportAddress } from '@mptun/core';
import { AddressAnnouncer, canonicalHost, type ServerAddress } from '@mptun/path-manager';
import { ReplayRecord, decodeKey, type CryptoBackend, type Keypair } from '@mptun/session';
import { Driver } from './driver.js';
import { MptunError } from './errors.js';
import { TypedEventEmitter } from './events.js';
import { resolveStrategy, type ProfileName } from './profiles.js';
import type { SegmentTap } from './segment-tap.js';
import { MptcpSocket } from './socket.js';
import { openReplayFile } from './replay-file.js';
import { openListener, type ListenSpec } from './transports.js';
import type { HandshakeDropReason } from '@mptun/transport-udp';

/** What every server takes, whatever its listeners. */
export interface ServerCommonOptions {
  /**
   * Sealed UDP listeners: path MTU discovery (RFC 8899), so paths grow past 1200-byte
   * datagrams where the socket can be kept from fragmenting (Linux). Default true.
   */
  pmtud?: boolean;
  /** Client public keys admitted (raw 32 bytes or base64). Or give isAllowed. */
  authorizedKeys?: Array<Uint8Array | string>;
  isAllowed?: (publicKey: Uint8Array) => boolean;
  crypto?: CryptoBackend;
  /**
   * File that keeps the newest handshake timestamp per client key across restarts (written
   * atomically, 0600). Without it the record lives in memory: still one for all listeners.
   */
  replayStateFile?: string;
  profile?: ProfileName;
  scheduler?: string;
  congestionControl?: string;
  engine?: Partial<Omit<EndpointConfig, 'random' | 'scheduler' | 'congestionControl'>>;
  /** Sees every segment sent and received on every path (e.g. to write a pcap). */
  onSegment?: SegmentTap;
  /**
   * Sealed UDP listeners: told of every path initiation dropped unanswered, with the reason
   * ('mac1'/'decrypt': made for another server key; 'not-allowed': client key not listed).
   */
  onHandshakeFailure?: (reason: HandshakeDropReason, source: TransportAddress) => void;
  /**
   * Addresses announced besides the UDP listen addresses: public ones of a server behind NAT.
   * Each is dialled by clients over the transport their connection came in on.
   */
  announce?: TransportAddress[];
  /** Announce the UDP listen addresses (not wildcard ones). Default true. */
  announceListenAddresses?: boolean;
  /**
   * Clients reach this server through a load balancer's shared address: every connection's
   * MP_CAPABLE carries the C bit (RFC 8684 §3.1), so clients open further paths only to the
   * announced addresses (give the server's own in `announce`), never to the shared one.
   */
  behindBalancer?: boolean;
  /**
   * This server's name behind an HTTP reverse proxy that clients cannot see past: every
   * WebSocket upgrade response carries it, and clients send it back on a connection's
   * further paths for the proxy to route on (@mptun/transport-ws affinity.ts). Routing only.
   */
  affinityToken?: string;
}

/** Listeners of any transport; sealed ones (udp, ws, wss) authenticate with the server's key pair. */
export interface SealedServerOptions extends ServerCommonOptions {
  listen: ListenSpec[];
  keypair: Keypair;
}

/** Only plain tcp-in-udp listeners: no keys. */
export interface PlainServerOptions extends ServerCommonOptions {
  listen: Array<ListenSpec & { transport: 'udp-plain' }>;
  keypair?: Keypair;
}

export type ServerOptions = SealedServerOptions | PlainServerOptions;

/** MptcpServer's events. */
export interface MptcpServerEvents {
  /** A new MPTCP connection, already authenticated; its first bytes (if any) are readable. */
  connection: [socket: MptcpSocket];
  /** Something went wrong that does not stop the server (e.g. the replay state could not be saved). */
  warning: [error: MptunError];
  /**
   * A client's path stopped answering under traffic (our data unacknowledged for an RTO, or
   * its data stopped and a probe went unanswered: Endpoint.pollPathEvent). Nothing closes.
   */
  'path-stalled': [path: { remoteAddress: string; remotePort: number; silentMs: number; cause: 'rto' | 'probe' }];
  /** That path answers again. */
  'path-resumed': [path: { remoteAddress: string; remotePort: number; stalledMs: number }];
}

export class MptcpServer extends TypedEventEmitter<MptcpServerEvents> {
  readonly driver: Driver;
  private pathListeners: PathListener[] = [];
  private readonly sockets = new Set<MptcpSocket>();
  private readonly strategy;
  private accepting = false;
  /** Draining: new connections are told of no address (see stopAnnouncing). */
  private announcing = true;
  /** What connections that came in over UDP are told; over WebSocket (behind a balancer only). */
  private readonly announcer = new AddressAnnouncer();
  private readonly wsAnnouncer = new AddressAnnouncer();
  /** The transport of each path that came in over a listener. */
  private readonly pathKinds = new Map<number, 'udp' | 'ws'>();
  /** The announcer of each connection announced to, chosen by the transport of its first path. */
  private readonly announcedBy = new WeakMap<Connection, AddressAnnouncer>();

  constructor(private readonly options: ServerOptions, onConnection?: (socket: MptcpSocket) => void) {
    super();
    this.strategy = resolveStrategy(options);
    this.driver = new Driver({
      scheduler: this.strategy.schedulerFactory,
      congestionControl: this.strategy.ccFactory,
      ...options.engine,
      ...(options.behindBalancer ? { refuseJoinsToInitialAddress: true } : {}),
    });
    this.driver.endpoint.listen();
    this.driver.onSegment = options.onSegment ?? null;
    this.driver.onEvent = (ev) => {
      if (ev.type === 'incoming' && this.announcing) {
        const first = ev.connection.subflows()[0];
        const kind = first ? this.pathKinds.get(first.pathId) : undefined;
        if (kind === 'udp') this.announcedBy.set(ev.connection, this.announcer);
        else if (kind === 'ws' && options.behindBalancer) this.announcedBy.set(ev.connection, this.wsAnnouncer);
      }
      this.announcedBy.get(ev.connection)?.handleEvent(ev);
    };
    this.driver.onPathClosed = (pathId) => this.pathKinds.delete(pathId);
    this.driver.onPathLiveness = (ev) => {
      const remote = this.driver.linkOf(ev.pathId)?.remote;
      if (!remote) return;
      const path = { remoteAddress: remote.host, remotePort: remote.port };
      if (ev.type === 'path-stalled') this.emit('path-stalled', { ...path, silentMs: ev.silentMs, cause: ev.cause });
      else this.emit('path-resumed', { ...path, stalledMs: ev.stalledMs });
    };
    if (onConnection) this.on('connection', onConnection);
    this.driver.onIncoming = (conn) => {
      if (!this.accepting) return null;
      const socket = new MptcpSocket(this.driver, conn, null, {
        scheduler: this.strategy.scheduler,
        congestionControl: this.strategy.congestionControl,
        profile: options.profile,
        multipath: true,
      });
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Emitted after the engine's event is handled, so 'data' listeners see the 0-RTT bytes.
      // The peer may reset the connection in the same turn, before the application could
      // listen for 'error': such a socket is not handed out, and its error is not thrown.
      const beforeHandedOut = (): void => {};
      socket.on('error', beforeHandedOut);
      queueMicrotask(() => {
        if (socket.destroyed) return;
        socket.off('error', beforeHandedOut);
        this.emit('connection', socket);
      });
      return socket;
    };
  }

  /** Start every listener; resolves with their bound addresses. */
  async listen(): Promise<Array<{ transport: string; host: string; port: number }>> {
    const isAllowed = this.options.isAllowed ?? allowList(this.options.authorizedKeys);
    // One replay record for the server key: what one listener accepted, none accepts again.
    const replay = this.options.replayStateFile
      ? openReplayFile(this.options.replayStateFile, (err) => this.emit('warning', new MptunError('ERR_MPTUN_BAD_OPTION', `cannot save the replay state: ${err.message}`)))
      : new ReplayRecord();
    const opened: PathListener[] = [];
    try {
      for (const spec of this.options.listen) {
        const l = await openListener(spec, {
          ...(this.options.keypair ? { keypair: this.options.keypair } : {}),
          ...(isAllowed ? { isAllowed } : {}),
          ...(this.options.crypto ? { crypto: this.options.crypto } : {}),
          replay,
          ...(this.options.onHandshakeFailure ? { onHandshakeFailure: this.options.onHandshakeFailure } : {}),
          ...(this.options.affinityToken !== undefined ? { affinityToken: this.options.affinityToken } : {}),
          ...(this.options.pmtud !== undefined ? { pmtud: this.options.pmtud } : {}),
        });
        const kind = spec.transport === 'udp' || spec.transport === 'udp-plain' ? 'udp' : 'ws';
        // Half-open handshakes are budgeted per listener: a flood on one leaves the others room.
        const listener = `${spec.transport} ${l.local.host}:${l.local.port}`;
        const known = (pathId: number, link: PathLink): void => {
          link.onSilence = (silent) => this.driver.setPathQuiet(pathId, silent);
          this.pathKinds.set(pathId, kind);
        };
        // Paths whose first segment came in their handshake: in the engine before they are up.
        const early = new WeakSet<PathLink>();
        l.onEarlyPath = (link, segment) => {
          const { pathId, answer } = this.driver.answerEarly(link, segment, { fixedLocalPort: false, listener });
          known(pathId, link);
          early.add(link);
          return answer;
        };
        l.onPath = (link) => {
          if (!early.delete(link)) known(this.driver.addLink(link, { fixedLocalPort: false, listener }), link);
          this.driver.schedulePump();
        };
        opened.push(l);
      }
    } catch (e) {
      await Promise.allSettled(opened.map((l) => l.close()));
      throw e;
    }
    this.pathListeners = opened;
    const bound = opened.map((l, i) => ({ transport: this.options.listen[i]!.transport, host: l.local.host, port: l.local.port }));
    for (const a of announcedAddresses(bound, this.options)) this.announcer.add(a);
    for (const a of announcedAddresses([], this.options)) this.wsAnnouncer.add(a);
    this.accepting = true;
    return bound;
  }

  /** The addresses announced to each connection that came in over UDP (ADD_ADDR), with their ids. */
  announcedAddresses(): ServerAddress[] {
    return this.announcer.addresses();
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  connections(): MptcpSocket[] {
    return [...this.sockets];
  }

  /**
   * Announce nothing to connections that arrive from now on (a server draining: no client
   * should open further paths to it). Connections already told keep their addresses.
   */
  stopAnnouncing(): void {
    this.announcing = false;
  }

  /** Stop accepting; connections already open carry on until they end or close() is called. */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
  }

  /** Close listeners, abort connections, release every socket and timer. */
  async close(): Promise<void> {
    this.accepting = false;
    for (const s of [...this.sockets]) s.destroy();
    await this.driver.close();
    await Promise.allSettled(this.pathListeners.map((l) => l.close()));
    this.pathListeners = [];
  }
}

/**
 * RFC 8684 §3.4.1: ids 1..255 for the UDP listen addresses that name one address (a wildcard
 * one says nothing a client can dial) and the configured public ones, each once.
 */
function announcedAddresses(bound: Array<{ transport: string; host: string; port: number }>, o: ServerOptions): ServerAddress[] {
  const out: ServerAddress[] = [];
  const seen = new Set<string>();
  const add = (host: string, port: number): void => {
    const h = canonicalHost(host);
    if (h === null || h === '0.0.0.0' || h === '::' || seen.has(`${h}|${port}`) || out.length >= 255) return;
    seen.add(`${h}|${port}`);
    out.push({ addressId: out.length + 1, host: h, port });
  };
  if (o.announceListenAddresses !== false) for (const b of bound) if (b.transport === 'udp' || b.transport === 'udp-plain') add(b.host, b.port);
  for (const a of o.announce ?? []) {
    if (canonicalHost(a.host) === null) throw new MptunError('ERR_MPTUN_BAD_OPTION', `announce: "${a.host}" is not a literal IPv4 or IPv6 address`);
    add(a.host, a.port);
  }
  return out;
}

function allowList(keys: Array<Uint8Array | string> | undefined): ((pk: Uint8Array) => boolean) | undefined {
  if (!keys) return undefined;
  const set = new Set<string>();
  for (const k of keys) {
    const raw = typeof k === 'string' ? decodeKey(k) : k;
    if (raw.length !== 32) throw new MptunError('ERR_MPTUN_BAD_KEY', 'an authorized key must be 32 bytes');
    set.add(Buffer.from(raw).toString('hex'));
  }
  return (pk) => set.has(Buffer.from(pk).toString('hex'));
}
