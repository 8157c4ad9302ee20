/** Options of udpTransport(init), their defaults and their checks. */
import type { ChannelLimits, CryptoBackend, InitiationResult, Keypair, ReplayRecord, TimestampClock } from '@mptun/session';
import type { TransportAddress } from '@mptun/core';
import { DATA_OVERHEAD_BYTES, decodeKey } from '@mptun/session';
import { TCP_IN_UDP_SAVING } from '@mptun/core';
import { UdpTransportError } from './errors.js';
import type { DatagramBatchSend } from './udp-batch.js';

/**
 * 'sealed' (default): each segment is encrypted and authenticated inside a Noise IK path
 * session. 'plain': no crypto, the tcp-in-udp layout, one subflow per path (see plain-path.ts).
 */
export type UdpMode = 'sealed' | 'plain';

/**
 * Why a sealed listener dropped an initiation: 'mac1' or 'decrypt' (made for another server
 * key), 'not-allowed' (a client key not on the list), 'replay', 'malformed', 'bad-key'.
 */
export type HandshakeDropReason = Extract<InitiationResult, { kind: 'drop' }>['reason'];

export interface UdpTransportInit {
  mode?: UdpMode;
  /** Our static keypair (sealed mode, both sides). */
  keypair?: Keypair;
  /** The server's static public key, pinned by the client (sealed mode, client). */
  serverPublicKey?: Uint8Array;
  /** Which client keys the server admits (sealed mode, server); or use authorizedKeys. */
  isAllowed?: (publicKey: Uint8Array) => boolean;
  /** The admitted client keys, raw or base64 (sealed mode, server). */
  authorizedKeys?: Iterable<Uint8Array | string>;
  /** Crypto backend; default loadCrypto() (sodium-native if it loads). */
  crypto?: CryptoBackend;
  /**
   * Sealed client: the handshake timestamps' clock. Share one between every transport of
   * one client key (paths to several server addresses), so no two initiations carry the
   * same stamp. Default: one of this transport's own.
   */
  timestampClock?: TimestampClock;
  /**
   * Sealed server: the replay record of the server key, shared with every other listener
   * of that key (any transport) and persisted by the caller. Default: one record shared by
   * this transport's listeners.
   */
  replay?: ReplayRecord;
  /**
   * Sealed server: told of every initiation dropped, with the reason and the sender. Nothing
   * is answered to such a datagram; this is for counting and logging only.
   */
  onHandshakeFailure?: (reason: HandshakeDropReason, source: TransportAddress) => void;
  /**
   * Sealed mode: sends a turn's run of equal-sized datagrams to one peer in one call
   * (udp-batch.ts), on sockets whose fd openSocket made. Default: none, one node:dgram send
   * per datagram. @mptun/node passes one on Linux (UDP_SEGMENT through libc).
   */
  batchSend?: DatagramBatchSend;
  /**
   * Largest UDP payload we send, bytes. Default 1200 (fits any IPv6 path with room to spare).
   * With pmtud it is the floor the search starts from.
   */
  maxSegment?: number;
  /**
   * Sealed mode: search for larger datagrams on each path (RFC 8899 DPLPMTUD) with padded
   * probes, and grow the path's segments to what is confirmed. Only where the socket does not
   * fragment (IP_MTU_DISCOVER = IP_PMTUDISC_PROBE, set by whoever makes it: openSocket),
   * or a probe would pass in fragments. Default false.
   */
  pmtud?: boolean;
  /**
   * The largest UDP payload the search probes. Default 1472 (Ethernet less the IPv4 and UDP
   * headers). Up to 65507 works on loopback, but there the server's live memory grew by
   * 111 MiB over the torture attacks with tunnels nobody reads, and stayed: not yet understood.
   */
  pmtudMaxPayload?: number;
  /** connect() gives up after this long without a handshake. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** A new initiation goes out this often until one is answered. Default 1 s. */
  handshakeRetryMs?: number;
  /**
   * Sealed mode: each side sends a keepalive after this long without sending anything.
   * Default 500 ms, so the peer's idle timeout can be short.
   */
  keepaliveMs?: number;
  /**
   * A path with nothing received for this long is closed, and the subflows on it end.
   * Default 30 s sealed, 60 s plain (plain paths send no keepalives).
   */
  idleTimeoutMs?: number;
  /**
   * Sealed client: after this long with nothing received the path reports the server quiet
   * (PathLink.onSilence: the client shows the path down and starts no connection on it)
   * and handshakes again on the same socket every handshakeRetryMs, without closing it:
   * when a cut-off path comes back the server takes that as a rekey and the subflows on the
   * path go on; a restarted server answers it as a new session. Default 2.5 s (a dead
   * server is noticed within 3 s; five keepalives fit in it, so two or three lost ones
   * say nothing).
   */
  silenceMs?: number;
  /** Above this many initiations per second the server answers with cookies first. Default 100. */
  cookieThreshold?: number;
  /** Rekey and key-expiry limits of the data channel. */
  channelLimits?: Partial<ChannelLimits>;
  /** Plain mode: at most this many remote addresses per listener. Default 1024. */
  maxPlainPaths?: number;
  /** Plain mode: at most this many paths (source ports) per remote IP address. Default 64. */
  maxPlainPathsPerSource?: number;
  /** Socket send and receive buffers asked of the kernel (it may cap them). Default 4 MiB. */
  socketBufferBytes?: number;
}

export const DEFAULT_UDP_OPTIONS = {
  mode: 'sealed' as UdpMode,
  maxSegment: 1200,
  handshakeTimeoutMs: 10_000,
  handshakeRetryMs: 1_000,
  keepaliveMs: 500,
  idleTimeoutMs: 30_000,
  silenceMs: 2_500,
  plainIdleTimeoutMs: 60_000,
  cookieThreshold: 100,
  maxPlainPaths: 1024,
  maxPlainPathsPerSource: 64,
  socketBufferBytes: 4 * 1024 * 1024,
};

export interface ResolvedOptions {
  mode: UdpMode;
  keypair: Keypair | undefined;
  serverPublicKey: Uint8Array | undefined;
  isAllowed: ((publicKey: Uint8Array) => boolean) | undefined;
  crypto: CryptoBackend | undefined;
  replay: ReplayRecord | undefined;
  onHandshakeFailure: ((reason: HandshakeDropReason, source: TransportAddress) => void) | undefined;
  batchSend: DatagramBatchSend | undefined;
  /** Largest UDP payload (with pmtud: the floor). */
  maxPayload: number;
  /** The largest UDP payload the path MTU search probes; 0 when it does not run. */
  pmtudMaxPayload: number;
  handshakeTimeoutMs: number;
  handshakeRetryMs: number;
  keepaliveMs: number;
  idleTimeoutMs: number;
  silenceMs: number;
  cookieThreshold: number;
  channelLimits: Partial<ChannelLimits>;
  maxPlainPaths: number;
  maxPlainPathsPerSource: number;
  socketBufferBytes: number;
  /** How often a path or listener checks its timers. */
  tickMs: number;
}

/** Largest UDP payload a datagram can carry (65535 minus the UDP header). RFC 768 */
const MAX_UDP_PAYLOAD = 65_507;

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', `${name} must be a positive number`);
  return v;
}

export function resolveOptions(init: UdpTransportInit): ResolvedOptions {
  const d = DEFAULT_UDP_OPTIONS;
  const mode = init.mode ?? d.mode;
  if (mode !== 'sealed' && mode !== 'plain') throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', `unknown mode ${String(mode)}`);
  const maxPayload = positive('maxSegment', init.maxSegment, d.maxSegment);
  if (!Number.isInteger(maxPayload) || maxPayload > MAX_UDP_PAYLOAD || maxPayload <= DATA_OVERHEAD_BYTES + 20) {
    throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', `maxSegment must be an integer in ${DATA_OVERHEAD_BYTES + 21}..${MAX_UDP_PAYLOAD}`);
  }
  const keepaliveMs = positive('keepaliveMs', init.keepaliveMs, d.keepaliveMs);
  const idleTimeoutMs = positive('idleTimeoutMs', init.idleTimeoutMs, mode === 'plain' ? d.plainIdleTimeoutMs : d.idleTimeoutMs);
  const handshakeRetryMs = positive('handshakeRetryMs', init.handshakeRetryMs, d.handshakeRetryMs);
  const silenceMs = positive('silenceMs', init.silenceMs, d.silenceMs);
  return {
    mode,
    keypair: init.keypair,
    serverPublicKey: init.serverPublicKey,
    isAllowed: init.isAllowed ?? allowList(init.authorizedKeys),
    crypto: init.crypto,
    replay: init.replay,
    onHandshakeFailure: init.onHandshakeFailure,
    batchSend: init.batchSend,
    maxPayload,
    pmtudMaxPayload: mode === 'sealed' && init.pmtud === true ? pmtudCap(init.pmtudMaxPayload, maxPayload) : 0,
    handshakeTimeoutMs: positive('handshakeTimeoutMs', init.handshakeTimeoutMs, d.handshakeTimeoutMs),
    handshakeRetryMs,
    keepaliveMs,
    idleTimeoutMs,
    silenceMs,
    cookieThreshold: positive('cookieThreshold', init.cookieThreshold, d.cookieThreshold),
    channelLimits: init.channelLimits ?? {},
    maxPlainPaths: positive('maxPlainPaths', init.maxPlainPaths, d.maxPlainPaths),
    maxPlainPathsPerSource: positive('maxPlainPathsPerSource', init.maxPlainPathsPerSource, d.maxPlainPathsPerSource),
    socketBufferBytes: positive('socketBufferBytes', init.socketBufferBytes, d.socketBufferBytes),
    tickMs: Math.max(5, Math.min(1000, keepaliveMs / 2, idleTimeoutMs / 4, silenceMs / 4, handshakeRetryMs)),
  };
}

/** The default cap of the path MTU search (pmtudMaxPayload): an Ethernet path's 1500 less 28. */
const DEFAULT_PMTUD_CAP = 1472;

function pmtudCap(value: number | undefined, floor: number): number {
  const v = value ?? DEFAULT_PMTUD_CAP;
  if (!Number.isInteger(v) || v < floor || v > MAX_UDP_PAYLOAD) {
    throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', `pmtudMaxPayload must be an integer in ${floor}..${MAX_UDP_PAYLOAD}`);
  }
  return v;
}

/** Datagrams of the largest size the peer may send us that the socket's receive buffer must hold at once. */
const RECEIVE_BUFFER_DATAGRAMS = 16;

/**
 * The largest segment a sealed path may receive (what the SYN advertises): the search's cap,
 * bounded so the socket's receive buffer holds RECEIVE_BUFFER_DATAGRAMS of them (a kernel that
 * caps buffers at 208 KiB would otherwise drop most of a burst of 64 KiB datagrams); the
 * fixed limit without a search.
 */
export function searchCap(o: ResolvedOptions, receiveBufferBytes: number): number {
  const fits = Math.floor(receiveBufferBytes / RECEIVE_BUFFER_DATAGRAMS);
  return segmentLimit('sealed', Math.max(o.maxPayload, Math.min(o.pmtudMaxPayload, fits)));
}

/** The largest segment a path carries, given the UDP payload limit. */
export function segmentLimit(mode: UdpMode, maxPayload: number): number {
  // Sealed: header and tag around the segment. Plain: the payload is 8 bytes shorter than the segment.
  return mode === 'sealed' ? maxPayload - DATA_OVERHEAD_BYTES : maxPayload + TCP_IN_UDP_SAVING;
}

function allowList(keys: Iterable<Uint8Array | string> | undefined): ((publicKey: Uint8Array) => boolean) | undefined {
  if (keys === undefined) return undefined;
  const allowed = new Set<string>();
  for (const key of keys) {
    const raw = typeof key === 'string' ? decodeKey(key) : key;
    allowed.add(Buffer.from(raw).toString('hex'));
  }
  return (publicKey) => allowed.has(Buffer.from(publicKey).toString('hex'));
}

export function requireSealedClient(o: ResolvedOptions): { keypair: Keypair; serverPublicKey: Uint8Array } {
  if (o.keypair === undefined) throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', 'sealed mode needs keypair');
  if (o.serverPublicKey === undefined) throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', 'a sealed client needs serverPublicKey');
  return { keypair: o.keypair, serverPublicKey: o.serverPublicKey };
}

export function requireSealedServer(o: ResolvedOptions): { keypair: Keypair; isAllowed: (publicKey: Uint8Array) => boolean } {
  if (o.keypair === undefined) throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', 'sealed mode needs keypair');
  if (o.isAllowed === undefined) {
    throw new UdpTransportError('ERR_MPTUN_BAD_CONFIG', 'a sealed server needs isAllowed or authorizedKeys');
  }
  return { keypair: o.keypair, isAllowed: o.isAllowed };
}
