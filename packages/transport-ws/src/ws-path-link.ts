/**
 * One WebSocket path and its PathSession (@mptun/session): the session runs the key
 * exchange, rekeys and key expiry; this class adapts the socket. Each segment travels
 * sealed in one binary message (docs/architecture.md, wire format). The WebSocket's TCP already
 * retransmits and controls congestion, so the link is `reliable` and only adds
 * backpressure from the socket's backlog and liveness from ping/pong.
 *
 * A link exists from the first handshake message; it becomes a path (onUp) only when the
 * session is up: on the client when the server's response authenticates, on the server
 * when the client's first sealed message proves it holds the keys (key confirmation). A
 * link that ends before that reports through onEarlyEnd, never onClose.
 */
import type { PathCloseInfo, PathLink, TransportAddress } from '@mptun/core';
import { MessageType, SessionDriver, type PathDownReason, type PathSession } from '@mptun/session';
import type { WebSocket } from 'ws';
import { WsCloseCode, closeInfoFromWs } from './close-codes.js';
import { Heartbeat } from './heartbeat.js';

export interface WsPathLinkOptions {
  readonly ws: WebSocket;
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  /** Client: the server's affinity token from its upgrade response (affinity.ts), if it sent one. */
  readonly affinity?: string | null;
  readonly session: PathSession;
  /**
   * Server: runs a rekey initiation that arrived on this path through the shared
   * responder and hands it to `session.acceptRekey`; false when it is not a proper rekey.
   * Absent on the client, which never receives initiations.
   */
  readonly rekey?: (message: Uint8Array, now: number, session: PathSession) => boolean;
  readonly maxSegment: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly pingIntervalMs: number;
  readonly silenceLimitMs: number;
  /** Client paths: the heartbeat's traffic rule (heartbeat.ts); 0 or absent: off. */
  readonly trafficSilenceMs?: number;
  readonly maintenanceIntervalMs: number;
  readonly clock: () => number;
  /** The session is up: the link is now a path. */
  readonly onUp: (link: WsPathLink) => void;
  /** The link ended before it was up (wsCode: the close code sent or received). */
  readonly onEarlyEnd: (wsCode: number, reason: string, bySelf: boolean) => void;
}

/** The WebSocket close code for each way a session ends by itself. */
function wsCodeOfDown(reason: PathDownReason): number {
  switch (reason) {
    case 'handshake-timeout':
    case 'unconfirmed':
      return WsCloseCode.HANDSHAKE_TIMEOUT;
    case 'keys-expired':
      return WsCloseCode.KEYS_EXPIRED;
    case 'peer-gone':
      return WsCloseCode.PEER_GONE;
  }
}

const BINARY = { binary: true } as const;

/** ws's error codes for frames that break RFC 6455, and the close code each gets. */
function wsCodeOfError(err: Error & { code?: string }): number {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return WsCloseCode.MESSAGE_TOO_BIG;
  if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) return WsCloseCode.PROTOCOL_ERROR;
  return WsCloseCode.ABNORMAL; // the socket itself failed (reset, timeout)
}

export class WsPathLink implements PathLink {
  readonly kind = 'ws' as const;
  readonly reliable = true;
  /** The path session (Noise IK) proved the peer's key before any segment is handed on. */
  readonly authenticated = true;
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly maxSegment: number;
  /** Client: the token the server named itself with (routing only, never authenticated). */
  readonly affinity: string | null;
  onClose: ((info: PathCloseInfo) => void) | null = null;
  onDrain: (() => void) | null = null;
  /** The peer went quiet while TCP keeps trying (PathLink.onSilence), or was heard again. */
  onSilence: ((silent: boolean, reason: string) => void) | null = null;
  /** Under traffic the peer stopped answering its ping, or was heard again (PathLink.onStall). */
  onStall: ((stalled: boolean, silentMs: number) => void) | null = null;

  private readonly ws: WebSocket;
  private readonly session: PathSession;
  private readonly driver: SessionDriver;
  private readonly rekey: WsPathLinkOptions['rekey'];
  private readonly onUp: WsPathLinkOptions['onUp'];
  private readonly onEarlyEnd: WsPathLinkOptions['onEarlyEnd'];
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  private readonly clock: () => number;
  private readonly heartbeat: Heartbeat;
  private maintenanceTimer: NodeJS.Timeout | null;
  /** The socket holds this turn's messages until the turn ends (corkTurn). */
  private corked = false;
  /** send() said false and onDrain has not fired since. */
  private blocked = false;
  private ended = false;
  /** The session came up: the owner holds this link as a path. */
  private wasUp = false;
  private closeInfo: PathCloseInfo | null = null;
  private segmentHandler: ((segment: Uint8Array) => void) | null = null;
  /** Segments that arrived before the owner set onSegment (right after the handshake). */
  private unread: Uint8Array[] = [];
  private unreadBytes = 0;
  private readonly maxUnreadBytes: number;

  /** The peer's static key, proved by the path session (null before the handshake). */
  get peerKey(): Uint8Array | null {
    return this.session.peerPublicKey;
  }

  constructor(opts: WsPathLinkOptions) {
    this.ws = opts.ws;
    this.local = opts.local;
    this.remote = opts.remote;
    this.affinity = opts.affinity ?? null;
    this.session = opts.session;
    this.rekey = opts.rekey;
    this.onUp = opts.onUp;
    this.onEarlyEnd = opts.onEarlyEnd;
    this.maxSegment = opts.maxSegment;
    this.highWaterMark = opts.highWaterMark;
    this.lowWaterMark = opts.lowWaterMark;
    this.clock = opts.clock;
    this.maxUnreadBytes = opts.highWaterMark;
    this.ws.on('message', this.handleMessage);
    this.ws.on('close', this.handleClose);
    this.ws.on('error', this.handleError);
    this.heartbeat = new Heartbeat(this.ws, opts.pingIntervalMs, opts.silenceLimitMs, {
      quiet: (silent, why) => {
        if (!this.ended) this.onSilence?.(silent, why);
      },
      gone: (why) => this.end(WsCloseCode.PEER_GONE, why, true),
      stalled: (stalled, silentMs) => {
        if (!this.ended) this.onStall?.(stalled, silentMs);
      },
    }, opts.trafficSilenceMs ?? 0);
    this.driver = new SessionDriver(this.session, {
      now: this.clock,
      setTimer: (delayMs, fire) => {
        const timer = setTimeout(fire, delayMs);
        timer.unref(); // the socket, not this timer, is what keeps a process alive
        return () => clearTimeout(timer);
      },
      transmit: (message) => this.ws.send(message, BINARY, this.afterWrite),
      onUp: () => {
        this.wasUp = true;
        this.onUp(this);
      },
      onDown: (reason, message) => this.end(wsCodeOfDown(reason), message, true),
    });
    this.maintenanceTimer = setInterval(this.maintain, opts.maintenanceIntervalMs);
    this.maintenanceTimer.unref();
    this.driver.start(); // the initiation (client) or the response (server)
  }

  /**
   * Called for every segment that arrives. Segments that came before it was set are kept
   * (up to highWaterMark bytes) and handed over when it is set: the peer may send at once
   * after the handshake, before a connect() caller has had a chance to attach.
   */
  get onSegment(): ((segment: Uint8Array) => void) | null {
    return this.segmentHandler;
  }

  set onSegment(handler: ((segment: Uint8Array) => void) | null) {
    this.segmentHandler = handler;
    while (this.segmentHandler !== null && this.unread.length > 0 && !this.ended) {
      const segment = this.unread.shift()!;
      this.unreadBytes -= segment.length;
      this.segmentHandler(segment);
    }
  }

  get bufferedAmount(): number {
    return this.ended ? 0 : this.ws.bufferedAmount;
  }

  /** True once the path ended; `closeReason` then says why. */
  get closed(): boolean {
    return this.ended;
  }

  get closeReason(): PathCloseInfo | null {
    return this.closeInfo;
  }

  /** Completed key rotations on this path. */
  get rekeyCount(): number {
    return this.session.rekeyCount;
  }

  send(segment: Uint8Array): boolean {
    if (this.ended || this.blocked || !this.session.isUp || segment.length > this.maxSegment || segment.length === 0) return false;
    if (this.ws.bufferedAmount >= this.highWaterMark) {
      this.blocked = true;
      return false;
    }
    this.corkTurn();
    if (!this.driver.send(segment)) {
      // Up, yet no key may send: every key aged out without a rekey.
      this.end(WsCloseCode.KEYS_EXPIRED, 'session keys expired', true);
      return false;
    }
    return true;
  }

  close(): void {
    this.end(WsCloseCode.NORMAL, 'path closed', true);
  }

  /**
   * Holds this turn's messages in the socket and writes them in one writev once the turn's
   * sends are done (the engine sends a burst of segments per event-loop turn): one syscall
   * per burst, not one per message. ws corks around each frame too; corks nest, so the
   * socket writes when this outer one is released. The socket is ws's own (`_socket`, not
   * in its types); without one (not yet open, or a future ws) messages go out as before.
   */
  private corkTurn(): void {
    if (this.corked) return;
    const socket = (this.ws as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
    if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
    socket.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      socket.uncork!();
    });
  }

  /** Runs after every write of ours completes: the moment to see whether the backlog drained. */
  private readonly afterWrite = (): void => {
    if (!this.blocked || this.ended || this.ws.bufferedAmount > this.lowWaterMark) return;
    this.blocked = false;
    this.onDrain?.();
  };

  private readonly handleMessage = (data: Buffer, isBinary: boolean): void => {
    if (this.ended) return;
    this.heartbeat.markAlive();
    if (!isBinary) {
      this.end(WsCloseCode.UNSUPPORTED_DATA, 'binary messages only', true);
      return;
    }
    if (data[0] === MessageType.Initiation) {
      // Only a server takes initiations here, and only as a rekey of this path's keys.
      if (this.rekey === undefined || !this.session.isUp || !this.rekey(data, this.clock(), this.session)) {
        this.end(WsCloseCode.BAD_MESSAGE, 'unexpected handshake message', true);
        return;
      }
      this.driver.flush(); // the response
      return;
    }
    const got = this.driver.receive(data);
    // The stream is ordered and reliable: a message the session does not take was forged,
    // damaged or out of place.
    if (got === false) {
      if (!this.ended) this.end(WsCloseCode.BAD_MESSAGE, 'message failed authentication', true);
      return;
    }
    if (got instanceof Uint8Array && got.length > 0) this.deliver(got); // empty: a keepalive or confirmation
  };

  private deliver(segment: Uint8Array): void {
    if (this.segmentHandler !== null) {
      this.segmentHandler(segment);
      return;
    }
    if (this.unreadBytes + segment.length > this.maxUnreadBytes) {
      this.end(WsCloseCode.UNREAD_OVERFLOW, 'segments arrive but nobody reads them', true);
      return;
    }
    this.unread.push(segment);
    this.unreadBytes += segment.length;
  }

  private readonly handleClose = (code: number, reason: Buffer): void => {
    this.end(code, reason.toString('utf8'), false);
  };

  private readonly handleError = (err: Error): void => {
    // ws already started closing; report why now rather than at the socket's end.
    this.end(wsCodeOfError(err), err.message, true);
  };

  /**
   * A periodic look at the session with the (possibly injected) clock, beside its own
   * deadline timer, and a safety net for a backlog that drained with no write pending.
   */
  private readonly maintain = (): void => {
    if (this.ended) return;
    this.driver.flush();
    this.afterWrite();
  };

  /** Ends the path once: stops timers, zeroes keys, closes the socket, tells the owner. */
  private end(wsCode: number, reason: string, bySelf: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.heartbeat.stop();
    if (this.maintenanceTimer !== null) clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = null;
    this.driver.close();
    this.ws.off('message', this.handleMessage);
    // The 'error' listener stays: ws may still report the socket's last error.
    if (bySelf && this.ws.readyState === this.ws.OPEN) {
      // Our reasons are short ASCII: a close frame carries at most 123 bytes (RFC 6455 §5.5).
      // A peer that never answers it is cut off after closeTimeout by ws itself.
      this.ws.close(wsCode, reason.slice(0, 123));
    }
    this.closeInfo = closeInfoFromWs(wsCode, reason, bySelf);
    if (!this.wasUp) {
      this.onClose = null;
      this.onEarlyEnd(wsCode, reason, bySelf);
      return;
    }
    const onClose = this.onClose;
    this.segmentHandler = null;
    this.unread = [];
    this.unreadBytes = 0;
    this.onDrain = null;
    this.onClose = null;
    onClose?.(this.closeInfo);
  }
}
