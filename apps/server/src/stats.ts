/** Counters of a running server, and their Prometheus text exposition. */
import type { MptcpSocket } from '@mptun/node';

export interface ServerStats {
  open: number;
  total: number;
  /** Refusals by reason: not_allowed, busy, host_unreachable, connection_refused, timeout, bad_request, general_failure. */
  refused: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  /** Tunnel requests that never arrived whole or were malformed. */
  headerFailures: number;
  /** Retransmissions of connections that have ended (open ones are read live). */
  retransmissionsClosed: number;
}

export function emptyStats(): ServerStats {
  return { open: 0, total: 0, refused: {}, bytesUp: 0, bytesDown: 0, headerFailures: 0, retransmissionsClosed: 0 };
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text format 0.0.4. Per-path series come from the open connections' subflows. */
export function renderMetrics(stats: ServerStats, sockets: MptcpSocket[]): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) out.push(`${name}${labels} ${v}`);
  };
  metric('mptun_connections_open', 'gauge', 'Relayed connections open now.', [['', stats.open]]);
  metric('mptun_connections_total', 'counter', 'MPTCP connections accepted.', [['', stats.total]]);
  metric('mptun_connections_refused_total', 'counter', 'Connections refused, by reason.', Object.entries(stats.refused).map(([r, n]) => [`{reason="${label(r)}"}`, n]));
  metric('mptun_tunnel_header_failures_total', 'counter', 'Tunnel requests malformed or not received in time.', [['', stats.headerFailures]]);
  metric('mptun_bytes_up_total', 'counter', 'Bytes relayed from clients to targets.', [['', stats.bytesUp]]);
  metric('mptun_bytes_down_total', 'counter', 'Bytes relayed from targets to clients.', [['', stats.bytesDown]]);

  // A path is the client's address and the server address it reached.
  const paths = new Map<string, { subflows: number; rttSum: number; retrans: number }>();
  let retransOpen = 0;
  for (const s of sockets) {
    for (const f of s.subflows()) {
      retransOpen += f.retransmissions;
      if (f.state === 'closed') continue;
      const key = `{path="${label(`${f.remoteAddress}->${f.localAddress}:${f.localPort}`)}"}`;
      const p = paths.get(key) ?? { subflows: 0, rttSum: 0, retrans: 0 };
      p.subflows++;
      p.rttSum += f.srttMs;
      p.retrans += f.retransmissions;
      paths.set(key, p);
    }
  }
  metric('mptun_subflows', 'gauge', 'Subflows open, per path.', [...paths].map(([k, p]) => [k, p.subflows]));
  metric('mptun_path_rtt_ms', 'gauge', 'Mean smoothed RTT of the subflows on a path, ms.', [...paths].map(([k, p]) => [k, Number((p.rttSum / p.subflows).toFixed(3))]));
  metric('mptun_path_retransmissions', 'gauge', 'Retransmissions of open subflows, per path.', [...paths].map(([k, p]) => [k, p.retrans]));
  metric('mptun_retransmissions_total', 'counter', 'Retransmissions of all connections, ended and open.', [['', stats.retransmissionsClosed + retransOpen]]);
  return out.join('\n') + '\n';
}
