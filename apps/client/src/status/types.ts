/**
 * The shapes the status API serves (GET /api/status and GET /api/history) and the terminal
 * view and dashboard read. Rates are bytes per second; times are milliseconds.
 */
import type { PathState } from '@mptun/node';

export interface PathStatus {
  /** Display name: an interface name if one was given, else the local address. */
  name: string;
  localAddress: string;
  /** The path's transport(s), e.g. "udp" or "udp+ws" when one address has several. */
  transport: string;
  /**
   * up: the server answered on it; connecting: open, no answer yet; down: failed or closed
   * (downReason says why); idle: a plain path with no connection on it now.
   */
  state: PathState;
  /** state === 'up'. */
  up: boolean;
  /** Why the path is down (the last error opening it, or that the server went quiet); null unless down. */
  downReason: string | null;
  backup: boolean;
  /** Mean smoothed RTT of the path's live subflows; null when none has a sample. */
  rttMs: number | null;
  /**
   * Largest segment payload the path's live subflows send now, bytes: path MTU discovery
   * raises it above the 1200-byte datagram floor on sealed UDP. null without a live subflow.
   */
  mssBytes: number | null;
  upBps: number;
  downBps: number;
  /** Retransmitted segments / segments sent, over the rate window (0..1). */
  lossRate: number;
  bytesUp: number;
  bytesDown: number;
  retransmissions: number;
}

export interface ConnectionStatus {
  /** The MPTCP connection id (RFC 6897 §5.3.2); null before the connection has started. */
  id: number | null;
  target: string;
  bytesUp: number;
  bytesDown: number;
  /** Live subflows. */
  subflows: number;
  ageMs: number;
}

/** The client app's own figures. */
export interface ClientSummary {
  version: string;
  /** The server as configured ("host:port"), and the transport paths use. */
  server: string;
  transport: string;
  /** What the app listens on, e.g. "socks 127.0.0.1:1080", "forward 127.0.0.1:8080 -> intranet:80". */
  listeners: string[];
  uptimeMs: number;
  /** Connections opened since start, and the bytes they carried (open ones included). */
  connectionsTotal: number;
  bytesUp: number;
  bytesDown: number;
  /** Upload bytes the client holds now: read from applications, not yet acknowledged by the server. */
  bufferedUpBytes: number;
  /** Of those, the bytes in the tunnel connections' send buffers (sent or about to be, not yet acknowledged). */
  unacknowledgedUpBytes: number;
}

export interface StatusSnapshot {
  time: number;
  paths: PathStatus[];
  connections: ConnectionStatus[];
  /** Present when served by the client app. */
  client?: ClientSummary;
}

/** One path's values per sample, as parallel arrays (oldest first). */
export interface PathSeries {
  t: number[];
  upBps: number[];
  downBps: number[];
  rttMs: Array<number | null>;
  lossRate: number[];
}

export interface StatusHistory {
  intervalMs: number;
  historyMs: number;
  paths: Array<{ name: string; localAddress: string } & PathSeries>;
}
