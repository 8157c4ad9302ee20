/**
 * A datagram relay with an emulated link in each direction.
 *
 * Clients send to the listening address; for each client source address the relay opens
 * its own upstream socket towards the target, so the target sees one distinct peer per
 * client (as behind a NAT) and answers go back to the right client. Mappings idle for
 * `idleTimeoutMs` are closed; at most `maxMappings` exist at once.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { formatHostPort, type HostPort } from './address.js';
import type { LinkClock } from './clock.js';
import { LinkemError } from './errors.js';
import { RealtimeLink, type UniformRandom } from './realtime-link.js';
import type { LinkOptions } from '@mptun/sim';

export interface UdpRelayInit {
  name: string;
  /** Where clients send (port 0: any free port). */
  listen: HostPort;
  /** The real server; its host must be an IP address (resolve names first). */
  target: HostPort;
  /** Local address the upstream sockets bind to; null lets the OS choose. */
  upstreamHost: string | null;
  up: LinkOptions;
  down: LinkOptions;
  randomUp: UniformRandom;
  randomDown: UniformRandom;
  clock: LinkClock;
  idleTimeoutMs: number;
  maxMappings: number;
}

export interface UdpRelayStats {
  mappings: number;
  /** Datagrams from new clients refused because maxMappings were open. */
  refusedClients: number;
  /** Datagrams on an upstream socket that did not come from the target (ignored). */
  strayDatagrams: number;
  /** Socket errors seen (sends that failed, and the like). */
  socketErrors: number;
}

/** One client's source address and the socket that speaks for it to the target. */
class Mapping {
  lastActive: number;
  closed = false;
  constructor(
    readonly key: string,
    readonly address: string,
    readonly port: number,
    readonly socket: Socket,
    now: number,
  ) {
    this.lastActive = now;
  }
}

export class UdpRelay {
  readonly protocol = 'udp';
  readonly up: RealtimeLink<Mapping>;
  readonly down: RealtimeLink<Mapping>;
  private readonly listenSocket: Socket;
  private readonly mappings = new Map<string, Mapping>();
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private bound: HostPort | null = null;
  private closed = false;
  private readonly counters = { refusedClients: 0, strayDatagrams: 0, socketErrors: 0 };
  private readonly family: 'udp4' | 'udp6';

  constructor(private readonly init: UdpRelayInit) {
    if (isIP(init.target.host) === 0) {
      throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `path ${init.name}: target host must be an IP address, got ${init.target.host}`);
    }
    this.family = isIP(init.target.host) === 6 ? 'udp6' : 'udp4';
    this.up = new RealtimeLink<Mapping>({
      name: `${init.name} up`,
      options: init.up,
      random: init.randomUp,
      clock: init.clock,
      deliver: (bytes, mapping) => this.sendUpstream(bytes, mapping),
    });
    this.down = new RealtimeLink<Mapping>({
      name: `${init.name} down`,
      options: init.down,
      random: init.randomDown,
      clock: init.clock,
      deliver: (bytes, mapping) => this.sendToClient(bytes, mapping),
    });
    const listenFamily = isIP(init.listen.host) === 6 ? 'udp6' : 'udp4';
    this.listenSocket = createSocket({ type: listenFamily });
    this.listenSocket.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
  }

  /** Bind the listening socket; resolves with the address actually bound. */
  async start(): Promise<HostPort> {
    const socket = this.listenSocket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new LinkemError('ERR_LINKEM_BIND', `path ${this.init.name}: cannot listen on udp ${formatHostPort(this.init.listen)}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.bind(this.init.listen.port, this.init.listen.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', () => this.counters.socketErrors++);
    const a = socket.address();
    this.bound = { host: a.address, port: a.port };
    // Sweep idle mappings a few times per timeout; unref'd: it alone keeps nothing alive.
    const every = Math.max(50, Math.min(this.init.idleTimeoutMs / 4, 30_000));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
    return this.bound;
  }

  /** The address clients send to (after start). */
  get address(): HostPort {
    return this.bound ?? this.init.listen;
  }

  get stats(): UdpRelayStats {
    return { mappings: this.mappings.size, ...this.counters };
  }

  /** Both directions go down (dropping what they hold) or come back up. */
  setUp(up: boolean): void {
    this.up.setUp(up);
    this.down.setUp(up);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.up.close();
    this.down.close();
    const closing: Promise<void>[] = [];
    for (const m of this.mappings.values()) closing.push(this.closeMapping(m));
    if (this.bound !== null) closing.push(closeSocket(this.listenSocket));
    else this.listenSocket.close(); // never bound: nothing to wait for
    await Promise.all(closing);
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let mapping = this.mappings.get(key);
    const now = this.init.clock.now();
    if (mapping === undefined) {
      if (this.mappings.size >= this.init.maxMappings) {
        this.counters.refusedClients++;
        return;
      }
      mapping = this.openMapping(key, rinfo, now);
    }
    mapping.lastActive = now;
    this.up.offer(msg, mapping);
  }

  private openMapping(key: string, rinfo: RemoteInfo, now: number): Mapping {
    const socket = createSocket({ type: this.family });
    const mapping = new Mapping(key, rinfo.address, rinfo.port, socket, now);
    socket.on('error', () => this.counters.socketErrors++);
    socket.on('message', (msg, from) => this.fromTarget(msg, from, mapping));
    // Sends made before the bind completes wait in Node's queue, so no datagram is lost.
    socket.bind(0, this.init.upstreamHost ?? undefined);
    this.mappings.set(key, mapping);
    return mapping;
  }

  private fromTarget(msg: Buffer, from: RemoteInfo, mapping: Mapping): void {
    if (mapping.closed) return;
    const target = this.init.target;
    if (from.port !== target.port || from.address !== target.host) {
      this.counters.strayDatagrams++;
      return;
    }
    mapping.lastActive = this.init.clock.now();
    this.down.offer(msg, mapping);
  }

  private sendUpstream(bytes: Uint8Array, mapping: Mapping): void {
    if (mapping.closed) return;
    try {
      mapping.socket.send(bytes, this.init.target.port, this.init.target.host);
    } catch {
      this.counters.socketErrors++;
    }
  }

  private sendToClient(bytes: Uint8Array, mapping: Mapping): void {
    if (mapping.closed || this.closed) return;
    try {
      this.listenSocket.send(bytes, mapping.port, mapping.address);
    } catch {
      this.counters.socketErrors++;
    }
  }

  private sweep(): void {
    const idleBefore = this.init.clock.now() - this.init.idleTimeoutMs;
    for (const m of this.mappings.values()) {
      if (m.lastActive < idleBefore) void this.closeMapping(m);
    }
  }

  private closeMapping(m: Mapping): Promise<void> {
    m.closed = true; // datagrams of this client still inside the links are discarded on delivery
    this.mappings.delete(m.key);
    return closeSocket(m.socket);
  }
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
