/**
 * The Prometheus endpoint both apps serve: a prom-client registry with the process and
 * Node.js metrics and `mptun_build_info`, on a loopback HTTP listener behind the Host check.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { checkLocalRequest } from './host-guard.js';

/** `version` of the package.json one directory above the calling module (src/ or dist/). */
export function packageVersion(moduleUrl: string): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * A registry for one app: `process_*` and `nodejs_*` (prom-client's default collectors)
 * and `mptun_build_info{app,version,node_version} 1`, the usual way to export a version.
 */
export function createAppRegistry(app: string, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({ name: 'mptun_build_info', help: 'Always 1; the labels say which build is running.', labelNames: ['app', 'version', 'node_version'], registers: [registry] });
  info.set({ app, version, node_version: process.version }, 1);
  return registry;
}

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Things a POST to a path makes the app do (e.g. '/drain'); each returns the text answered
 * with 202 Accepted. They sit behind the same Host and Origin checks as the metrics.
 */
export type EndpointActions = Record<string, () => string>;

/** Serve `registry` at /metrics on host:port (port 0 picks one), and `actions` by POST. */
export async function startMetricsEndpoint(registry: Registry, host: string, port: number, actions: EndpointActions = {}): Promise<MetricsEndpoint> {
  const server = createServer((req, res) => {
    const refusal = checkLocalRequest(req, host);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${refusal.message}\n`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && (path === '/metrics' || path === '/')) {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(e as Error).message}\n`),
      );
    } else if (path === '/metrics' || path === '/') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    } else if (path !== undefined && Object.hasOwn(actions, path)) {
      if (req.method !== 'POST') res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      else res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8' }).end(actions[path]!());
    } else res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  server.keepAliveTimeout = 2000;
  try {
    server.listen(port, host);
    await once(server, 'listening'); // rejects with the 'error' of a failed bind
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'ERR_MPTUN_ADDRESS_IN_USE' : 'ERR_MPTUN_LISTEN';
    throw new MetricsListenError(code, `metrics endpoint ${host}:${port}: ${(e as Error).message}`);
  }
  const a = server.address();
  const bound = typeof a === 'object' && a ? a.port : port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
