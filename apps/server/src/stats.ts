/**
 * Counters of a running server, and the Prometheus metrics made from them (prom-client,
 * read at scrape time). Names follow the Prometheus conventions: base units (seconds,
 * bytes), `_total` on counters, and labels with a bounded set of values (reasons, the
 * server's own listen addresses; never a client's address).
 */
import { Counter, Gauge, registerSubflowMetrics, type Registry, type SubflowCounters } from '@mptun/local-http';
import type { MptcpSocket } from '@mptun/node';

export interface ServerStats {
  open: number;
  total: number;
  /** Refusals by reason: not_allowed, busy, host_unreachable, connection_refused, timeout, bad_request, general_failure. */
  refused: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  /** Tunnel requests that never arrived whole or were malformed, by reason (relay.ts RequestFailure). */
  headerFailures: Record<string, number>;
  /** Path handshakes refused, by reason (unauthorized_key: a client key not on the list). */
  handshakeFailures: Record<string, number>;
}

export function emptyStats(): ServerStats {
  return { open: 0, total: 0, refused: {}, bytesUp: 0, bytesDown: 0, headerFailures: {}, handshakeFailures: {} };
}

/** The server's metrics on `registry`; `sockets` lists the open MPTCP connections. */
export function registerServerMetrics(registry: Registry, stats: ServerStats, sockets: () => MptcpSocket[], subflows: SubflowCounters): void {
  const registers = [registry];
  const byReason = (m: Counter, counts: Record<string, number>): void => {
    m.reset();
    for (const [reason, n] of Object.entries(counts)) m.inc({ reason }, n);
  };
  new Gauge({ name: 'mptun_connections_open', help: 'Relayed connections open now.', registers, collect() { this.set(stats.open); } });
  new Counter({ name: 'mptun_connections_total', help: 'MPTCP connections accepted.', registers, collect() { this.reset(); this.inc(stats.total); } });
  new Counter({ name: 'mptun_connections_refused_total', help: 'Connections refused, by reason.', labelNames: ['reason'], registers, collect() { byReason(this, stats.refused); } });
  new Counter({ name: 'mptun_tunnel_request_failures_total', help: 'Tunnel requests malformed, cut short or not received in time, by reason.', labelNames: ['reason'], registers, collect() { byReason(this, stats.headerFailures); } });
  new Counter({ name: 'mptun_handshake_failures_total', help: 'Path handshakes refused, by reason.', labelNames: ['reason'], registers, collect() { byReason(this, stats.handshakeFailures); } });
  new Counter({
    name: 'mptun_relayed_bytes_total',
    help: 'Bytes relayed between clients and targets; up = client to target.',
    labelNames: ['direction'],
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'up' }, stats.bytesUp);
      this.inc({ direction: 'down' }, stats.bytesDown);
    },
  });
  registerSubflowMetrics(registry, sockets, subflows, 'listener', (f) => `${f.localAddress}:${f.localPort}`);
}
