/**
 * The status HTTP server: GET /api/status, GET /api/history and the dashboard page at /.
 * It binds to loopback only, and answers only requests whose Host header names a loopback
 * address, so a web page elsewhere cannot read it through DNS rebinding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { MptunError } from '@mptun/node';
import { listenTcp } from '../listen.js';
import { dashboardHtml } from './dashboard.js';
import { StatusTracker, type TrackedClient } from './tracker.js';

export interface StatusServerOptions {
  /** A loopback address: 127.0.0.0/8, ::1 or "localhost". Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 9471. */
  port?: number;
  /** The tracker to serve; without one a tracker of `client` is made, started and stopped here. */
  tracker?: StatusTracker;
}

export interface RunningStatusServer {
  url: string;
  tracker: StatusTracker;
  close(): Promise<void>;
}

export const DEFAULT_STATUS_PORT = 9471;

// The page may talk only to this server; no external script, style, font or fetch.
const PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function startStatusServer(client: TrackedClient, opts: StatusServerOptions = {}): Promise<RunningStatusServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new MptunError('ERR_MPTUN_BAD_OPTION', `the status server binds to loopback only (127.0.0.0/8, ::1, localhost), got "${host}"`);
  }
  const port = opts.port ?? DEFAULT_STATUS_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MptunError('ERR_MPTUN_BAD_OPTION', `status port out of range: ${port}`);
  const tracker = opts.tracker ?? new StatusTracker(client);
  const ownsSampling = !tracker.running;
  tracker.start();

  const server = createServer((req, res) => handle(tracker, req, res));
  // Browsers keep connections open; close() must not wait for them.
  server.keepAliveTimeout = 2000;
  let boundPort: number;
  try {
    boundPort = (await listenTcp(server, host, port, 'status page (--status)')).port;
  } catch (err) {
    if (ownsSampling) tracker.stop();
    throw err;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${boundPort}`,
    tracker,
    close: () =>
      new Promise<void>((resolve) => {
        if (ownsSampling) tracker.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(tracker: StatusTracker, req: IncomingMessage, res: ServerResponse): void {
  if (!isLoopbackHost(hostOfHeader(req.headers.host))) {
    send(res, 421, 'text/plain; charset=utf-8', 'this status server answers loopback host names only\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/api/status':
      send(res, 200, 'application/json', JSON.stringify(tracker.snapshot()));
      return;
    case '/api/history':
      send(res, 200, 'application/json', JSON.stringify(tracker.history()));
      return;
    case '/':
    case '/index.html':
      res.setHeader('Content-Security-Policy', PAGE_CSP);
      send(res, 200, 'text/html; charset=utf-8', dashboardHtml);
      return;
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** The host part of a Host header ("127.0.0.1:9471", "[::1]:9471", "localhost"). */
function hostOfHeader(header: string | undefined): string {
  if (!header) return '';
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (v6) return v6[1]!;
  return header.replace(/:\d+$/, '');
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}
