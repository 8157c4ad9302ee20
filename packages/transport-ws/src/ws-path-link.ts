/**
 * One authenticated WebSocket path, after its key exchange: each segment travels sealed in
 * one binary message (docs/architecture.md, wire format). The WebSocket's TCP already retransmits and
 * controls congestion, so the link is `reliable` and only adds backpressure from the
 * socket's backlog, liveness from ping/pong, and key rotation.
 */
import type { PathCloseInfo, PathLink, TransportAddress } from '@mptun/core';
import { MessageType, type SecureChannel } from '@mptun/session';
import type { WebSocket } from 'ws';
import { WsCloseCode, closeInfoFromWs } from './close-codes.js';
import { Heartbeat } from './heartbeat.js';
import type { KeyRotation } from './key-rotation.js';

export interface WsPathLinkOptions {
  readonly ws: WebSocket;
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly channel: SecureChannel;
  readonly rotation: KeyRotation;
  readonly maxSegment: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly pingIntervalMs: number;
  readonly maintenanceIntervalMs: number;
  readonly clock: () => number;
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
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly maxSegment: number;
  onClose: ((info: PathCloseInfo) => void) | null = null;
  onDrain: (() => void) | null = null;

  private readonly ws: WebSocket;
  private readonly channel: SecureChannel;
  private readonly rotation: KeyRotation;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  private readonly clock: () => number;
  private readonly heartbeat: Heartbeat;
  private maintenanceTimer: NodeJS.Timeout | null;
  /** send() said false and onDrain has not fired since. */
  private blocked = false;
  private ended = false;
  private closeInfo: PathCloseInfo | null = null;
  private segmentHandler: ((segment: Uint8Array) => void) | null = null;
  /** Segments that arrived before the owner set onSegment (right after the handshake). */
  private unread: Uint8Array[] = [];
  private unreadBytes = 0;
  private readonly maxUnreadBytes: number;

  constructor(opts: WsPathLinkOptions) {
    this.ws = opts.ws;
    this.local = opts.local;
    this.remote = opts.remote;
    this.channel = opts.channel;
    this.rotation = opts.rotation;
    this.maxSegment = opts.maxSegment;
    this.highWaterMark = opts.highWaterMark;
    this.lowWaterMark = opts.lowWaterMark;
    this.clock = opts.clock;
    this.maxUnreadBytes = opts.highWaterMark;
    this.ws.on('message', this.handleMessage);
    this.ws.on('close', this.handleClose);
    this.ws.on('error', this.handleError);
    this.heartbeat = new Heartbeat(this.ws, opts.pingIntervalMs, () =>
      this.end(WsCloseCode.PEER_GONE, 'no answer to ping', true),
    );
    this.maintenanceTimer = setInterval(this.maintain, opts.maintenanceIntervalMs);
    this.maintenanceTimer.unref();
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
    return this.rotation.count;
  }

  send(segment: Uint8Array): boolean {
    if (this.ended || this.blocked || segment.length > this.maxSegment || segment.length === 0) return false;
    if (this.ws.bufferedAmount >= this.highWaterMark) {
      this.blocked = true;
      return false;
    }
    let message: Uint8Array;
    try {
      message = this.channel.seal(segment);
    } catch {
      // Only ERR_MPTUN_KEY_EXHAUSTED: every key aged out without a rekey.
      this.end(WsCloseCode.KEYS_EXPIRED, 'session keys expired', true);
      return false;
    }
    this.ws.send(message, BINARY, this.afterWrite);
    return true;
  }

  close(): void {
    this.end(WsCloseCode.NORMAL, 'path closed', true);
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
    if (data[0] === MessageType.Data) {
      const segment = this.channel.open(data);
      // The stream is ordered and reliable: a message that fails to open was forged or damaged.
      if (segment === null) {
        this.end(WsCloseCode.BAD_MESSAGE, 'message failed authentication', true);
        return;
      }
      if (segment.length > 0) this.deliver(segment); // empty: a keepalive
      return;
    }
    const reply = this.rotation.handle(data, this.clock());
    if (reply === false) {
      this.end(WsCloseCode.BAD_MESSAGE, 'unexpected handshake message', true);
      return;
    }
    if (reply !== null) this.ws.send(reply, BINARY, this.afterWrite);
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

  private readonly maintain = (): void => {
    if (this.ended) return;
    const now = this.clock();
    if (!this.channel.maintain(now)) {
      this.end(WsCloseCode.KEYS_EXPIRED, 'session keys expired', true);
      return;
    }
    const initiation = this.rotation.poll(now);
    if (initiation !== null) this.ws.send(initiation, BINARY, this.afterWrite);
    this.afterWrite(); // a safety net: the backlog may have drained with no write of ours pending
  };

  /** Ends the path once: stops timers, zeroes keys, closes the socket, tells the owner. */
  private end(wsCode: number, reason: string, bySelf: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.heartbeat.stop();
    if (this.maintenanceTimer !== null) clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = null;
    this.rotation.destroy();
    this.channel.destroy();
    this.ws.off('message', this.handleMessage);
    // The 'error' listener stays: ws may still report the socket's last error.
    if (bySelf && this.ws.readyState === this.ws.OPEN) {
      // Our reasons are short ASCII: a close frame carries at most 123 bytes (RFC 6455 §5.5).
      // A peer that never answers it is cut off after closeTimeout by ws itself.
      this.ws.close(wsCode, reason.slice(0, 123));
    }
    this.closeInfo = closeInfoFromWs(wsCode, reason, bySelf);
    const onClose = this.onClose;
    this.segmentHandler = null;
    this.unread = [];
    this.unreadBytes = 0;
    this.onDrain = null;
    this.onClose = null;
    onClose?.(this.closeInfo);
  }
}
