/**
 * Options of `wsTransport(init)`, their defaults, and the checks that turn bad values into a
 * typed error at construction rather than a confusing failure later.
 */
import type { ChannelLimits, CryptoBackend, Keypair, PathSessionTimers, ReplayRecord, TimestampClock } from '@mptun/session';
import { DATA_OVERHEAD_BYTES, INITIATION_BYTES } from '@mptun/session';
import { WsTransportError } from './errors.js';
import type { WsPathLinkOptions } from './ws-path-link.js';

/** How a wss:// client checks the server's certificate (node:tls options). */
export interface WsClientTlsOptions {
  /** Trusted CA certificates (PEM); a self-signed server certificate may be passed here. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** false accepts any certificate: the Noise handshake still authenticates the server. */
  rejectUnauthorized?: boolean;
  /** SNI and certificate name to check, when it differs from the URL's host. */
  servername?: string;
}

export interface WsTransportInit {
  /** Our static X25519 keypair (client and server). */
  keypair: Keypair;
  /** Client: the server's static public key, pinned. Required to connect(). */
  serverPublicKey?: Uint8Array;
  /** Server: whether a client static public key may open paths. Required to listen(). */
  isAllowed?: (clientPublicKey: Uint8Array) => boolean;
  /** Crypto backend; default `loadCrypto()` (sodium-native when it loads). */
  crypto?: CryptoBackend;
  /**
   * Server: the replay record of the server key, shared with every other listener of that
   * key (any transport) and persisted by the caller. Default: one record shared by this
   * transport's listeners.
   */
  replay?: ReplayRecord;
  /** Client: certificate checks for wss:// URLs. */
  tls?: WsClientTlsOptions;
  /**
   * Client: the handshake timestamp clock, shared with every other transport of the same
   * static key (the UDP transport takes the same option). Default: this transport's own.
   */
  timestampClock?: TimestampClock;
  /**
   * Largest segment one message carries, bytes (the sealed message adds
   * DATA_OVERHEAD_BYTES). Both ends should agree; a larger message closes the path.
   */
  maxSegment?: number;
  /**
   * Interval of liveness pings; a peer silent for a whole interval after a ping is reported
   * quiet (PathLink.onSilence: the client starts no connection on the path), so a dead peer
   * is noticed within two intervals. Default 1 s: within 2 s.
   */
  pingIntervalMs?: number;
  /**
   * A peer silent this long after a ping ends the path. Until then the WebSocket stays and
   * TCP keeps trying, so a connection rides out an outage or a stalled peer. Default 30 s,
   * as a sealed UDP path's idle timeout.
   */
  silenceLimitMs?: number;
  /**
   * Client paths under traffic: a peer that says nothing for this long is pinged at once, and
   * shown stalled (PathLink.onStall) if that goes unanswered as long again, so a path cut
   * mid-transfer shows down within twice this. 0: off. Default 300 ms. Servers do not use it.
   */
  trafficSilenceMs?: number;
  /**
   * Time allowed for TCP, TLS, the HTTP upgrade and the key exchange together (client), or
   * for an upgraded socket to complete the key exchange (server).
   */
  handshakeTimeoutMs?: number;
  /** send() returns false once this many bytes wait in the socket. */
  highWaterMark?: number;
  /** After send() returned false, onDrain fires when the backlog falls to this. */
  lowWaterMark?: number;
  /** How long a closing handshake may take before the socket is destroyed. */
  closeTimeoutMs?: number;
  /** Server: upgraded sockets allowed to be mid-handshake at once; more are refused (503). */
  maxPendingHandshakes?: number;
  /** Server: of those, at most this many from one client address (default 32); more are refused (503). */
  maxPendingHandshakesPerSource?: number;
  /** Key lifetimes of each path's SecureChannel (the client rekeys inside the WebSocket). */
  channelLimits?: Partial<ChannelLimits>;
  /** How often each path checks its keys and its backlog. */
  maintenanceIntervalMs?: number;
  /** Wall clock, ms since the Unix epoch (handshake timestamps, key ages). Default Date.now. */
  clock?: () => number;
}

/** Default segment size: see the measurements in this package's README. */
export const DEFAULT_MAX_SEGMENT = 16 * 1024;
export const MIN_MAX_SEGMENT = 512;
export const MAX_MAX_SEGMENT = 1024 * 1024;

export interface ResolvedOptions {
  readonly keypair: Keypair;
  readonly serverPublicKey: Uint8Array | undefined;
  readonly isAllowed: ((clientPublicKey: Uint8Array) => boolean) | undefined;
  readonly tls: WsClientTlsOptions;
  readonly maxSegment: number;
  /** maxPayload of every WebSocket: the largest sealed segment or handshake message. */
  readonly maxMessage: number;
  readonly pingIntervalMs: number;
  readonly silenceLimitMs: number;
  readonly trafficSilenceMs: number;
  readonly handshakeTimeoutMs: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly closeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerSource: number;
  readonly channelLimits: Partial<ChannelLimits>;
  readonly maintenanceIntervalMs: number;
  readonly clock: () => number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1, max = 2 ** 31 - 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new WsTransportError('ERR_MPTUN_BAD_CONFIG', `${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

/** How often a WebSocket path pings its peer: a dead server is noticed within 2 s. */
export const DEFAULT_PING_INTERVAL_MS = 1_000;
/** How long a silent peer keeps its WebSocket path. */
export const DEFAULT_SILENCE_LIMIT_MS = 30_000;
/** A client path under traffic whose peer says nothing this long is pinged, and shown stalled after as long again. */
export const DEFAULT_TRAFFIC_SILENCE_MS = 300;

export function resolveOptions(init: WsTransportInit): ResolvedOptions {
  if (init === null || typeof init !== 'object' || init.keypair === undefined) {
    throw new WsTransportError('ERR_MPTUN_BAD_CONFIG', 'wsTransport needs a keypair');
  }
  const maxSegment = positiveInteger('maxSegment', init.maxSegment, DEFAULT_MAX_SEGMENT, MIN_MAX_SEGMENT, MAX_MAX_SEGMENT);
  const highWaterMark = positiveInteger('highWaterMark', init.highWaterMark, Math.max(512 * 1024, 8 * maxSegment));
  const lowWaterMark = positiveInteger('lowWaterMark', init.lowWaterMark, highWaterMark >>> 2, 0, highWaterMark - 1);
  const pingIntervalMs = positiveInteger('pingIntervalMs', init.pingIntervalMs, DEFAULT_PING_INTERVAL_MS, 10);
  const silenceLimitMs = positiveInteger('silenceLimitMs', init.silenceLimitMs, Math.max(DEFAULT_SILENCE_LIMIT_MS, pingIntervalMs), pingIntervalMs);
  return {
    keypair: init.keypair,
    serverPublicKey: init.serverPublicKey,
    isAllowed: init.isAllowed,
    tls: init.tls ?? {},
    maxSegment,
    maxMessage: Math.max(maxSegment + DATA_OVERHEAD_BYTES, INITIATION_BYTES),
    pingIntervalMs,
    silenceLimitMs,
    trafficSilenceMs: positiveInteger('trafficSilenceMs', init.trafficSilenceMs, DEFAULT_TRAFFIC_SILENCE_MS, 0),
    handshakeTimeoutMs: positiveInteger('handshakeTimeoutMs', init.handshakeTimeoutMs, 5_000, 10),
    highWaterMark,
    lowWaterMark,
    closeTimeoutMs: positiveInteger('closeTimeoutMs', init.closeTimeoutMs, 2_000, 10),
    maxPendingHandshakes: positiveInteger('maxPendingHandshakes', init.maxPendingHandshakes, 1024),
    maxPendingHandshakesPerSource: positiveInteger('maxPendingHandshakesPerSource', init.maxPendingHandshakesPerSource, 32),
    channelLimits: init.channelLimits ?? {},
    maintenanceIntervalMs: positiveInteger('maintenanceIntervalMs', init.maintenanceIntervalMs, 1_000, 10),
    clock: init.clock ?? Date.now,
  };
}

/**
 * The path session's timings on a WebSocket: one initiation (TCP loses nothing), and no
 * sealed keepalives or idle timer of its own (ping/pong watches the peer, heartbeat.ts).
 */
export function sessionTimers(opts: ResolvedOptions): PathSessionTimers {
  return {
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
    handshakeRetryMs: null,
    keepaliveMs: null,
    idleTimeoutMs: null,
    channelLimits: opts.channelLimits,
  };
}

/** What every WsPathLink takes from the options, client or server. */
export function linkTuning(
  opts: ResolvedOptions,
): Pick<WsPathLinkOptions, 'maxSegment' | 'highWaterMark' | 'lowWaterMark' | 'pingIntervalMs' | 'silenceLimitMs' | 'maintenanceIntervalMs' | 'clock'> {
  return {
    maxSegment: opts.maxSegment,
    highWaterMark: opts.highWaterMark,
    lowWaterMark: opts.lowWaterMark,
    pingIntervalMs: opts.pingIntervalMs,
    silenceLimitMs: opts.silenceLimitMs,
    maintenanceIntervalMs: opts.maintenanceIntervalMs,
    clock: opts.clock,
  };
}
