/**
 * MptcpSocket: one MPTCP connection as a Node Duplex stream, with the RFC 6897 basic API
 * (enable, add/remove local addresses, subflow list, connection id) and the advanced one
 * its appendix A asks for (profile, scheduler, backup, subflow statistics and events).
 */
import { Duplex, type Readable } from 'node:stream';
import type { Connection, EndpointEvent, PeerReset, SubflowCloseReason, SubflowView } from '@mptun/core';
import type { ConnectionHandler, Driver } from './driver.js';
import { MptunError } from './errors.js';
import { typedEvents } from './events.js';

/** What the socket needs from whoever owns the paths (a client agent or a server). */
export interface PathOwner {
  /** Open (or reuse) a path from `localHost` and join this connection over it. */
  addLocalAddress(socket: MptcpSocket, localHost: string, backup: boolean): Promise<void>;
  /** Close this connection's subflows that leave from `localHost`. */
  removeLocalAddress(socket: MptcpSocket, localHost: string): void;
  /** The connection ended: paths it alone used may go. */
  released(socket: MptcpSocket): void;
}

/** TCP_MULTIPATH_SUBFLOWS (RFC 6897 §5.3.3) with the statistics of appendix A. */
export interface SubflowInfo {
  id: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  backup: boolean;
  peerBackup: boolean;
  srttMs: number;
  /** Largest payload per segment now: the path's (path MTU discovery moves it) bounded by the peer's MSS option. */
  mssBytes: number;
  cwndBytes: number;
  bytesInFlight: number;
  bytesSent: number;
  bytesReceived: number;
  bytesRetransmitted: number;
  segmentsSent: number;
  segmentsReceived: number;
  retransmissions: number;
  rtoCount: number;
  lossEvents: number;
}

export interface SocketInfo {
  scheduler: string;
  congestionControl: string;
  profile: string | undefined;
  multipath: boolean;
}

/** MptcpSocket's events: a Duplex's, and the connection's and its subflows' (RFC 6897 appendix A). */
export interface MptcpSocketEvents {
  close: [];
  data: [chunk: Buffer];
  drain: [];
  end: [];
  error: [error: Error];
  finish: [];
  pause: [];
  pipe: [source: Readable];
  readable: [];
  resume: [];
  unpipe: [source: Readable];
  /** The MPTCP connection is established. */
  connect: [];
  'subflow-up': [subflow: SubflowInfo];
  /** `peerReset`: the peer's RST said why with MP_TCPRST (reason code, T = transient; RFC 8684 §3.6). */
  'subflow-down': [subflow: { id: number; reason: SubflowCloseReason; peerReset?: PeerReset }];
  /** A subflow's backup priority changed (MP_PRIO). */
  'subflow-change': [subflow: SubflowInfo];
  /** The peer announced an address (ADD_ADDR). */
  'address-added': [address: { addressId: number; host: string; port: number | undefined }];
  /** The peer withdrew addresses (REMOVE_ADDR). */
  'address-removed': [removed: { addressIds: number[] }];
}

/** Duplex with event methods that take only MptcpSocketEvents' names (not Duplex's catch-all); the stream hooks are MptcpSocket's. */
const TypedDuplex = typedEvents<typeof Duplex, '_write' | '_read' | '_final' | '_destroy'>(Duplex);

export class MptcpSocket extends TypedDuplex<MptcpSocketEvents> implements ConnectionHandler {
  private pendingWrite: Uint8Array | null = null;
  private pendingCallback: ((err?: Error | null) => void) | null = null;
  /** Length of the chunk _write is working on (the stream counts all of it until its callback). */
  private pendingChunkLength = 0;
  private readWanted = false;
  private peerEnded = false;
  private ended = false;
  private established = false;
  private finalPending: ((err?: Error | null) => void) | null = null;
  private conn: Connection | null = null;
  private readonly history = new Map<SubflowView, { local: string; remote: string }>();

  /**
   * A socket may exist before its connection (a client waiting for its first path): writes
   * wait in the stream until bind() gives it one.
   */
  constructor(
    private readonly driver: Driver,
    connection: Connection | null,
    private readonly owner: PathOwner | null,
    readonly info: SocketInfo,
    opts: { highWaterMark?: number } = {},
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: opts.highWaterMark, writableHighWaterMark: opts.highWaterMark });
    if (connection) this.bind(connection);
  }

  /** The MPTCP connection (throws before bind()). */
  get connection(): Connection {
    if (!this.conn) throw new MptunError('ERR_MPTUN_NOT_CONNECTED', 'the connection has not started yet');
    return this.conn;
  }

  get isBound(): boolean {
    return this.conn !== null;
  }

  /**
   * Bytes written to this socket that the peer has not acknowledged yet (DATA_ACK, RFC 8684
   * §3.3.2): those still in the stream's buffer, and those the connection holds.
   */
  get uploadBuffered(): number {
    const taken = this.pendingCallback ? this.pendingChunkLength - (this.pendingWrite?.length ?? 0) : 0;
    return this.writableLength - taken + (this.conn?.bufferedBytes ?? 0);
  }

  /** Bytes of ours the peer has acknowledged at the data level (DATA_ACK, RFC 8684 §3.3.2); 0 before the connection starts. */
  get bytesAcknowledged(): number {
    return this.conn?.sndUna ?? 0;
  }

  bind(connection: Connection): void {
    this.conn = connection;
    this.established = connection.state === 'established';
    this.driver.attach(connection, this);
    if (this.pendingWrite) this.flushWrite();
    if (this.finalPending) this._final(this.finalPending);
    if (this.readWanted) this.pullData();
  }

  // --- Duplex ---------------------------------------------------------------------------

  _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.pendingWrite = chunk;
    this.pendingChunkLength = chunk.length;
    this.pendingCallback = callback;
    this.flushWrite();
  }

  private flushWrite(): void {
    if (!this.conn) return;
    while (this.pendingWrite) {
      const n = this.connection.write(this.pendingWrite);
      if (n === 0) break; // wait for 'writable'
      this.pendingWrite = n === this.pendingWrite.length ? null : this.pendingWrite.subarray(n);
    }
    if (this.connection.state === 'closed' && this.pendingWrite) {
      const cb = this.pendingCallback;
      this.pendingWrite = null;
      this.pendingCallback = null;
      const code = this.conn.error ?? 'ERR_MPTUN_CLOSED';
      cb?.(new MptunError(code, code === 'ERR_MPTUN_CLOSED' ? 'the connection is closed' : `the connection ended: ${code}`));
      return;
    }
    if (!this.pendingWrite && this.pendingCallback) {
      const cb = this.pendingCallback;
      this.pendingCallback = null;
      cb();
    }
    this.driver.schedulePump();
  }

  _read(): void {
    this.readWanted = true;
    this.pullData();
  }

  private pullData(): void {
    if (!this.conn) return;
    let took = false;
    while (this.readWanted) {
      const d = this.connection.read();
      if (!d) break;
      took = true;
      this.readWanted = this.push(d);
    }
    if (!this.ended && this.peerEnded && this.connection.readableBytes === 0) {
      this.ended = true;
      this.push(null);
    }
    if (took) this.driver.schedulePump(); // the window opened: let the peer know
  }

  _final(callback: (err?: Error | null) => void): void {
    if (!this.conn) {
      this.finalPending = callback;
      return;
    }
    this.finalPending = null;
    // RFC 8684 §3.3.3: DATA_FIN after everything written.
    this.connection.shutdown();
    this.driver.schedulePump();
    callback();
  }

  _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Both directions ended: the engine finishes the DATA_FIN exchange on its own and
    // reports 'closed' later. Anything else is an abort: MP_FASTCLOSE, as TCP would RST.
    const graceful = !err && this.writableFinished && this.readableEnded;
    if (this.conn && this.conn.state !== 'closed' && !graceful) {
      this.conn.abort(this.driver.now());
      this.driver.schedulePump();
    }
    if (!this.conn || this.conn.state === 'closed') this.owner?.released(this);
    callback(err);
  }

  // --- Engine events ----------------------------------------------------------------------

  onEngineEvent(ev: EndpointEvent): void {
    this.remember();
    switch (ev.type) {
      case 'connected':
        this.established = true;
        this.emit('connect');
        break;
      case 'readable':
        this.pullData();
        break;
      case 'writable':
        this.flushWrite();
        break;
      case 'end':
        this.peerEnded = true;
        this.pullData();
        break;
      case 'closed':
        if (ev.error) {
          this.destroy(new MptunError(ev.error.code, ev.error.message));
        } else {
          this.peerEnded = true;
          this.pullData();
          if (!this.destroyed && this.writableFinished) this.destroy();
        }
        this.owner?.released(this);
        break;
      case 'subflow-up': {
        if (!this.established && this.connection.state === 'established') {
          this.established = true;
        }
        const up = this.subflowInfo(ev.subflowId);
        if (up) this.emit('subflow-up', up);
        break;
      }
      case 'subflow-down':
        this.emit('subflow-down', ev.peerReset ? { id: ev.subflowId, reason: ev.reason, peerReset: ev.peerReset } : { id: ev.subflowId, reason: ev.reason });
        break;
      case 'subflow-change': {
        const changed = this.subflowInfo(ev.subflowId);
        if (changed) this.emit('subflow-change', changed);
        break;
      }
      case 'address-added':
        this.emit('address-added', { addressId: ev.addressId, host: ev.host, port: ev.port });
        break;
      case 'address-removed':
        this.emit('address-removed', { addressIds: ev.addressIds });
        break;
      case 'incoming':
        break;
    }
  }

  // --- RFC 6897 basic API -----------------------------------------------------------------

  /** TCP_MULTIPATH_CONNID (RFC 6897 §5.3.4): our token for this connection. */
  get connectionId(): number | undefined {
    return this.conn?.token;
  }

  /** TCP_MULTIPATH_ENABLE (RFC 6897 §5.3.1): false means one path and plain fallback semantics. */
  get multipath(): boolean {
    return this.info.multipath && !(this.conn?.fallback ?? false);
  }

  /** TCP_MULTIPATH_ADD (RFC 6897 §5.3.2): use another local address for this connection. */
  async addLocalAddress(host: string, opts: { backup?: boolean } = {}): Promise<void> {
    if (!this.owner) throw new MptunError('ERR_MPTUN_UNSUPPORTED', 'only the connecting side can add local addresses');
    if (!this.info.multipath) throw new MptunError('ERR_MPTUN_MULTIPATH_DISABLED', 'multipath is disabled on this connection');
    await this.owner.addLocalAddress(this, host, opts.backup ?? false);
  }

  /** TCP_MULTIPATH_REMOVE (RFC 6897 §5.3.2): stop using a local address. */
  removeLocalAddress(host: string): void {
    if (!this.owner) throw new MptunError('ERR_MPTUN_UNSUPPORTED', 'only the connecting side can remove local addresses');
    this.owner.removeLocalAddress(this, host);
  }

  /**
   * Every subflow the connection has had, closed ones included (the engine forgets those),
   * with its counters as they ended: what each path carried over the connection's life.
   */
  subflowHistory(): SubflowInfo[] {
    this.remember();
    return [...this.history].map(([sf, ends]) => ({ ...this.describe(sf), localAddress: ends.local, remoteAddress: ends.remote }));
  }

  /** Note the subflows live now, with their addresses (their paths may be gone later). */
  private remember(): void {
    if (!this.conn) return;
    for (const sf of this.conn.subflows()) {
      if (this.history.has(sf)) continue;
      const p = this.driver.endpoint.pathInfo(sf.pathId);
      if (p) this.history.set(sf, { local: p.local.host, remote: p.remote.host });
    }
  }

  /** TCP_MULTIPATH_SUBFLOWS (RFC 6897 §5.3.3): the established subflows' address pairs and statistics. */
  subflows(): SubflowInfo[] {
    return this.conn ? this.conn.subflows().map((sf) => this.describe(sf)) : [];
  }

  /** The first subflow's addresses (RFC 6897 §4.2: what getsockname/getpeername return). */
  get localAddress(): string | undefined {
    return this.firstPath()?.local.host;
  }

  get localPort(): number | undefined {
    return this.firstPath()?.local.port;
  }

  get remoteAddress(): string | undefined {
    return this.firstPath()?.remote.host;
  }

  get remotePort(): number | undefined {
    return this.firstPath()?.remote.port;
  }

  /**
   * The peer's static public key, as the session of the connection's first path proved it
   * (on a server: the client's key over sealed UDP or WebSocket); undefined on plain paths.
   * Kept once known, so it stays the same when that first subflow later ends.
   */
  get peerKey(): Uint8Array | undefined {
    if (this.provenKey === undefined) {
      const sf = this.conn?.subflows()[0];
      const key = sf ? this.driver.linkOf(sf.pathId)?.peerKey : null;
      if (key) this.provenKey = key;
    }
    return this.provenKey;
  }

  private provenKey: Uint8Array | undefined;

  // --- RFC 6897 appendix A ----------------------------------------------------------------

  /** Mark the subflows leaving from `localHost` backup (MP_PRIO) or not. */
  setBackup(localHost: string, backup: boolean): void {
    if (!this.conn) return;
    for (const sf of this.conn.subflows()) {
      if (this.driver.endpoint.pathInfo(sf.pathId)?.local.host === localHost) this.connection.setBackup(sf.id, backup);
    }
    this.driver.schedulePump();
  }

  get scheduler(): string {
    return this.info.scheduler;
  }

  get congestionControl(): string {
    return this.info.congestionControl;
  }

  get profile(): string | undefined {
    return this.info.profile;
  }

  private firstPath() {
    const sf = this.conn?.subflows()[0];
    return sf ? this.driver.endpoint.pathInfo(sf.pathId) : undefined;
  }

  /** The subflow's description; undefined once the connection no longer lists it. */
  private subflowInfo(id: number): SubflowInfo | undefined {
    const sf = this.connection.subflows().find((s) => s.id === id);
    return sf ? this.describe(sf) : undefined;
  }

  private describe(sf: SubflowView): SubflowInfo {
    const p = this.driver.endpoint.pathInfo(sf.pathId);
    return {
      id: sf.id,
      localAddress: p?.local.host ?? '',
      localPort: sf.localPort,
      remoteAddress: p?.remote.host ?? '',
      remotePort: sf.remotePort,
      state: sf.state,
      backup: sf.backup,
      peerBackup: sf.peerBackup,
      srttMs: sf.srtt,
      mssBytes: sf.mss,
      cwndBytes: Number.isFinite(sf.cwnd) ? sf.cwnd : -1,
      bytesInFlight: sf.bytesInFlight,
      ...sf.stats,
    };
  }
}
