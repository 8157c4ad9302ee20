/**
 * The client's Prometheus endpoint (`--metrics host:port`, loopback only): tunnels opened
 * by result, open connections, each path's state and subflow RTT, retransmissions and bytes
 * carried, plus the process, Node.js and build-info metrics every app exports.
 */
import { TunnelStatus } from '@mptun/tunnel-common';
import { byLabel, counterOf, createAppRegistry, gaugeOf, isLoopbackName, packageVersion, registerSubflowMetrics, startMetricsEndpoint, SubflowCounters, type MetricsEndpoint } from '@mptun/local-http';
import { MptunError, type MptcpClient } from '@mptun/node';
import type { TunnelOpener } from './tunnel.js';
import { parseListenAddress } from './listen.js';

/** TunnelStatus codes by name, lower case: the `result` label's bounded set of values. */
const RESULT_NAMES = new Map<number, string>(Object.entries(TunnelStatus).map(([name, code]) => [code, name.toLowerCase()]));

/** Why a path could not be opened, by the transports' error codes: the `reason` label's bounded set. */
const PATH_FAILURE_REASONS: Record<string, string> = {
  ERR_MPTUN_SERVER_UNREACHABLE: 'server_unreachable', // UDP: ICMP port unreachable
  ERR_MPTUN_HANDSHAKE_TIMEOUT: 'no_answer', // wrong server key, key not authorized, or filtered
  ERR_MPTUN_HANDSHAKE_REJECTED: 'rejected', // WebSocket: the server refused the key exchange
  ERR_MPTUN_WS_CONNECT: 'connect_failed', // WebSocket: TCP, TLS or the HTTP upgrade failed
  ERR_MPTUN_BIND: 'bind_failed',
};

export function pathFailureReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' ? PATH_FAILURE_REASONS[code] : undefined) ?? 'other';
}

export class ClientMetrics {
  private readonly subflows = new SubflowCounters();
  private readonly results: Record<string, number> = {};
  private readonly pathFailures: Record<string, number> = {};

  constructor(private readonly client: MptcpClient) {
    client.on('path-error', ({ error }) => {
      const reason = pathFailureReason(error);
      this.pathFailures[reason] = (this.pathFailures[reason] ?? 0) + 1;
    });
  }

  /** `open`, with each tunnel's result counted and each connection it opens tracked. */
  count(open: TunnelOpener): TunnelOpener {
    return async (target, early) => {
      const r = await open(target, early);
      const name = RESULT_NAMES.get(r.status) ?? 'general_failure';
      this.results[name] = (this.results[name] ?? 0) + 1;
      if (r.socket) this.subflows.track(r.socket);
      return r;
    };
  }

  /** Listen on `where` ("127.0.0.1:9472"); loopback only, like the status page. */
  async start(where: string): Promise<MetricsEndpoint> {
    const { host, port } = parseListenAddress(where, 'metrics');
    if (!isLoopbackName(host)) throw new MptunError('ERR_MPTUN_CONFIG', `--metrics listens on loopback only (127.0.0.0/8, ::1, localhost), got "${host}"`);
    const registry = createAppRegistry('client', packageVersion(import.meta.url));
    const { client, results, pathFailures } = this;
    gaugeOf(registry, 'mptun_connections_open', 'Tunnel connections open now.', () => client.connectionCount);
    counterOf(registry, 'mptun_tunnels_total', 'Tunnel requests answered, by result (ok or the refusal).', () => byLabel('result', results), ['result']);
    gaugeOf(registry, 'mptun_path_up', '1 when a configured path has a working link to the server, else 0.', () => client.pathList().map((p) => [{ path: p.localAddress, transport: p.transport }, p.up ? 1 : 0]), ['path', 'transport']);
    counterOf(registry, 'mptun_path_open_failures_total', 'Attempts to open a path that failed, by reason (server_unreachable, no_answer, rejected, connect_failed, bind_failed, other).', () => byLabel('reason', pathFailures), ['reason']);
    registerSubflowMetrics(registry, () => client.openSockets(), this.subflows, 'path', (f) => f.localAddress);
    return startMetricsEndpoint(registry, host, port); // a bind failure names the address and has a code
  }
}
