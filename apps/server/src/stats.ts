/**
 * Counters of a running server, and the Prometheus metrics made from them (prom-client,
 * read at scrape time). Names follow the Prometheus conventions: base units (seconds,
 * bytes), `_total` on counters, and labels with a bounded set of values (reasons, the
 * server's own listen addresses; never a client's address).
 */
import { byLabel, counterOf, gaugeOf, registerSubflowMetrics, type Registry, type SubflowCounters } from '@mptun/local-http';
import type { Socket } from 'node:net';
import type { MptcpSocket } from '@mptun/node';

export interface ServerStats {
  open: number;
  total: number;
  /** Refusals by reason: not_allowed, busy, host_unreachable, connection_refused, timeout, bad_request, general_failure, draining. */
  refused: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  /** Tunnel requests that never arrived whole or were malformed, by reason (relay.ts RequestFailure). */
  headerFailures: Record<string, number>;
  /** Path handshakes refused, by reason (unauthorized_key: a client key not on the list). */
  handshakeFailures: Record<string, number>;
  /** Told to drain: new connections are refused with DRAINING. */
  draining: boolean;
}

export function emptyStats(): ServerStats {
  return { open: 0, total: 0, refused: {}, bytesUp: 0, bytesDown: 0, headerFailures: {}, handshakeFailures: {}, draining: false };
}

/**
 * What the open connections buffer, by where it waits: the engines' send buffers and
 * unread received data, the MPTCP sockets' stream buffers, and the stream buffers of the
 * relays' TCP sockets to their targets.
 */
export function bufferedBytes(sockets: readonly MptcpSocket[], targets: Iterable<Socket> = []): { send: number; receive: number; stream: number; target: number } {
  const out = { send: 0, receive: 0, stream: 0, target: 0 };
  for (const s of sockets) {
    out.send += s.connection.bufferedBytes;
    out.receive += s.connection.readableBytes;
    out.stream += s.writableLength + s.readableLength;
  }
  for (const t of targets) out.target += t.writableLength + t.readableLength;
  return out;
}

/** The server's metrics on `registry`; `sockets` lists the open MPTCP connections, `targets` the relays' TCP sockets. */
export function registerServerMetrics(registry: Registry, stats: ServerStats, sockets: () => MptcpSocket[], subflows: SubflowCounters, targets: () => Iterable<Socket> = () => []): void {
  gaugeOf(registry, 'mptun_connections_open', 'Relayed connections open now.', () => stats.open);
  gaugeOf(registry, 'mptun_draining', '1 once the server was told to drain (SIGUSR2 or POST /drain): it refuses new connections and announces no address; else 0.', () => (stats.draining ? 1 : 0));
  counterOf(registry, 'mptun_connections_total', 'MPTCP connections accepted.', () => stats.total);
  counterOf(registry, 'mptun_connections_refused_total', 'Connections refused, by reason.', () => byLabel('reason', stats.refused), ['reason']);
  counterOf(registry, 'mptun_tunnel_request_failures_total', 'Tunnel requests malformed, cut short or not received in time, by reason.', () => byLabel('reason', stats.headerFailures), ['reason']);
  counterOf(registry, 'mptun_handshake_failures_total', 'Path handshakes and plain-path key proofs refused, by reason.', () => byLabel('reason', stats.handshakeFailures), ['reason']);
  counterOf(registry, 'mptun_relayed_bytes_total', 'Bytes relayed between clients and targets; up = client to target.', () => byLabel('direction', { up: stats.bytesUp, down: stats.bytesDown }), ['direction']);
  gaugeOf(registry, 'mptun_buffered_bytes', 'Bytes the open connections hold now: engine send buffers (send), data received and not yet read (receive), MPTCP socket stream buffers (stream), stream buffers of the TCP sockets to targets (target).', () => byLabel('where', bufferedBytes(sockets(), targets())), ['where']);
  registerSubflowMetrics(registry, sockets, subflows, 'listener', (f) => `${f.localAddress}:${f.localPort}`);
}
