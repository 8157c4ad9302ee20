import type { CcFactory } from './cc/controller.js';
import type { RandomSource } from './random.js';
import type { SchedulerFactory } from './sched/scheduler.js';

/** Everything an Endpoint can be tuned with. Only `random`, `scheduler` and `congestionControl` are required. */
export interface EndpointConfig {
  /** Source of keys, nonces and ISNs: seeded in tests, a CSPRNG in production. */
  random: RandomSource;
  scheduler: SchedulerFactory;
  congestionControl: CcFactory;
  /** Largest segment payload, bytes (the transport's room minus headers). */
  mss?: number;
  /** Connection-level receive buffer, bytes (RFC 8684 §3.3.4 window): the most it grows to. */
  receiveBuffer?: number;
  /**
   * The receive buffer a connection starts with (default: receiveBuffer). It grows toward
   * receiveBuffer, to twice what the application read in one round trip of the slowest path
   * (ReceivePath's auto-tuning): an application that stops reading keeps the buffer it had.
   */
  receiveBufferStart?: number;
  /** Bytes the application may have written and not yet had acknowledged. */
  sendBuffer?: number;
  /**
   * Of those, bytes not yet handed to any subflow (default: no limit but sendBuffer), like
   * Linux's TCP_NOTSENT_LOWAT. Data in flight is acknowledged even by a peer that stops
   * reading, so a stalled connection holds at most this much, while a moving one may keep
   * up to sendBuffer in flight.
   */
  sendUnsentLimit?: number;
  /**
   * Bytes all connections together may hold in send and receive buffers (Infinity: no
   * limit). As it fills, receive windows and what write() takes shrink toward zero.
   */
  bufferBudget?: number;
  /** Ask for DSS checksums (RFC 8684 §3.3.1); used when either side asks. */
  checksums?: boolean;
  /** Accept peers that do not speak MPTCP, as plain TCP (RFC 8684 §3.7). */
  allowFallback?: boolean;
  /** Let the first bytes of a connection ride its SYN (0-RTT, as RFC 8803 does). */
  synData?: boolean;
  initialRtoMs?: number;
  minRtoMs?: number;
  maxRtoMs?: number;
  maxSynRetries?: number;
  /**
   * Client: when the first SYN goes unanswered, race another MP_CAPABLE SYN on the next path
   * given to connect() (each further timeout adds one more), and keep whichever answers first.
   */
  raceHandshake?: boolean;
  /** Consecutive RTOs before a subflow is given up. */
  maxRetries?: number;
  potentiallyFailedAfter?: number;
  delayedAckMs?: number;
  /** Probe a subflow the peer has been silent on for this long (and give it up after maxRetries probes); 0 = never. */
  keepaliveMs?: number;
  /** Close a connection that moved no data either way for this long; 0 = never. */
  idleTimeoutMs?: number;
  /**
   * Half-open connections kept at once per listener (PathOptions.listener), so a SYN flood on
   * one listener cannot take the room another needs.
   */
  maxHalfOpen?: number;
  /** Half-open connections kept at once per source address and listener. */
  maxHalfOpenPerSource?: number;
  /** Connections an endpoint keeps at once. */
  maxConnections?: number;
  /** Every subflow runs in reliable-link mode (a WebSocket carries it). */
  reliableLink?: boolean;
  /**
   * Our MP_CAPABLE carries the C bit (RFC 8684 §3.1): the peer must not open subflows to the
   * address its first subflow reached, only to addresses we announce. Set by a server reached
   * through a load balancer's shared address, where a join there may land on another server.
   */
  refuseJoinsToInitialAddress?: boolean;
  /**
   * Watch each datagram path under traffic and report when the peer stops answering there
   * (Endpoint.pollPathEvent; path-liveness.ts): after an RTO without acknowledgement, or a
   * keepalive probe unanswered after the peer's data stopped. Reports only; closes nothing.
   */
  pathLiveness?: boolean;
}

export type ResolvedConfig = Required<EndpointConfig>;

export function resolveConfig(c: EndpointConfig): ResolvedConfig {
  return {
    mss: 1200,
    receiveBuffer: 4 * 1024 * 1024,
    receiveBufferStart: Infinity,
    sendBuffer: 4 * 1024 * 1024,
    sendUnsentLimit: Infinity,
    bufferBudget: Infinity,
    checksums: false,
    allowFallback: true,
    synData: true,
    initialRtoMs: 1000, // RFC 6298 §2.1
    minRtoMs: 200, // Linux's floor rather than RFC 6298's 1 s: paths here are often short
    maxRtoMs: 60_000,
    maxSynRetries: 6,
    raceHandshake: true,
    maxRetries: 8,
    potentiallyFailedAfter: 1,
    delayedAckMs: 20,
    keepaliveMs: 0,
    idleTimeoutMs: 0,
    maxHalfOpen: 1024,
    maxHalfOpenPerSource: 64,
    maxConnections: 65536,
    reliableLink: false,
    refuseJoinsToInitialAddress: false,
    pathLiveness: true,
    ...c,
  };
}
