/**
 * MptcpServer: accepts paths on any mix of transports and addresses (several at once),
 * authenticates them, and hands each new MPTCP connection to the application.
 */
import type { EndpointConfig, PathListener } from '@mptun/core';
import { ReplayRecord, decodeKey, type CryptoBackend, type Keypair } from '@mptun/session';
import { Driver } from './driver.js';
import { MptunError } from './errors.js';
import { TypedEventEmitter } from './events.js';
import { resolveStrategy, type ProfileName } from './profiles.js';
import type { SegmentTap } from './segment-tap.js';
import { MptcpSocket } from './socket.js';
import { openReplayFile } from './replay-file.js';
import { openListener, type ListenSpec } from './transports.js';

/** What every server takes, whatever its listeners. */
export interface ServerCommonOptions {
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
}

export class MptcpServer extends TypedEventEmitter<MptcpServerEvents> {
  readonly driver: Driver;
  private pathListeners: PathListener[] = [];
  private readonly sockets = new Set<MptcpSocket>();
  private readonly strategy;
  private accepting = false;

  constructor(private readonly options: ServerOptions, onConnection?: (socket: MptcpSocket) => void) {
    super();
    this.strategy = resolveStrategy(options);
    this.driver = new Driver({ scheduler: this.strategy.schedulerFactory, congestionControl: this.strategy.ccFactory, ...options.engine });
    this.driver.endpoint.listen();
    this.driver.onSegment = options.onSegment ?? null;
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
      queueMicrotask(() => this.emit('connection', socket));
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
        });
        l.onPath = (link) => {
          this.driver.addLink(link, { fixedLocalPort: false });
          this.driver.schedulePump();
        };
        opened.push(l);
      }
    } catch (e) {
      await Promise.allSettled(opened.map((l) => l.close()));
      throw e;
    }
    this.pathListeners = opened;
    this.accepting = true;
    return opened.map((l, i) => ({ transport: this.options.listen[i]!.transport, host: l.local.host, port: l.local.port }));
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  connections(): MptcpSocket[] {
    return [...this.sockets];
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
