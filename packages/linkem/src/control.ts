/**
 * The control endpoint: a small HTTP API on loopback to watch and change paths at run time.
 *
 *   GET  /paths              every path's state, options and counters
 *   GET  /paths/NAME         one path
 *   POST /paths/NAME         change settings: a JSON patch, e.g. {"rate":"5mbit","down":{"delay":"80ms"}}
 *   POST /paths/NAME/down    take the path down
 *   POST /paths/NAME/up      bring it back up
 *
 * Answers are JSON; errors are {"error":{"code","message"}} with status 400 (bad patch),
 * 403 (cross-origin POST), 404 (no such path or route), 405 (wrong method), 413 (body too
 * large) or 421 (Host names another server).
 * There is no authentication: bind it to a loopback address. A request whose Host header
 * names neither a loopback address nor the listen address gets 421, and a browser's
 * cross-origin POST gets 403 (DNS rebinding and forms on foreign pages, host-guard.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { checkLocalRequest } from '@mptun/local-http';
import type { HostPort } from './address.js';
import type { LinkEmulator, PathStats } from './emulator.js';
import { LinkemError } from './errors.js';
import { optionsToJson, type PathPatch } from './link-spec.js';

export interface ControlServer {
  readonly address: HostPort;
  close(): Promise<void>;
}

/** A patch larger than this is refused unread (413). */
export const MAX_CONTROL_BODY_BYTES = 64 * 1024;

type Controlled = Pick<LinkEmulator, 'seed' | 'stats' | 'pathStats' | 'setOptions' | 'down' | 'up'>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Listen on `at`; resolves once listening, with the address actually bound. */
export async function startControlServer(emulator: Controlled, at: HostPort): Promise<ControlServer> {
  const server = createServer((req, res) => {
    const refusal = checkLocalRequest(req, at.host);
    if (refusal) {
      send(res, refusal.status, { error: { code: refusal.status === 421 ? 'ERR_HOST' : 'ERR_ORIGIN', message: refusal.message } });
      return;
    }
    handle(emulator, req)
      .then((body) => send(res, 200, body))
      .catch((err: unknown) => {
        const e = toHttpError(err);
        send(res, e.status, { error: { code: e.code, message: e.message } });
      });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new LinkemError('ERR_LINKEM_BIND', `control endpoint: cannot listen on ${at.host}:${at.port}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address();
  const address = a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : at;
  let closing: Promise<void> | null = null;
  return {
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive clients must not hold the shutdown
      });
      return closing;
    },
  };
}

async function handle(emulator: Controlled, req: IncomingMessage): Promise<unknown> {
  const url = new URL(req.url ?? '/', 'http://control');
  const parts = url.pathname.split('/').filter((p) => p.length > 0).map(decodeSegment);
  const method = req.method ?? 'GET';
  if (parts.length === 0) {
    allow(method, ['GET']);
    return {
      endpoints: ['GET /paths', 'GET /paths/NAME', 'POST /paths/NAME {json patch}', 'POST /paths/NAME/down', 'POST /paths/NAME/up'],
    };
  }
  if (parts[0] !== 'paths' || parts.length > 3) throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${url.pathname}`);
  if (parts.length === 1) {
    allow(method, ['GET']);
    return { seed: emulator.seed, paths: emulator.stats().map(statsToJson) };
  }
  const name = parts[1]!;
  if (parts.length === 2) {
    allow(method, ['GET', 'POST']);
    // setOptions checks the patch in full: the cast only hands it over.
    if (method === 'POST') emulator.setOptions(name, (await readJson(req)) as PathPatch);
    return statsToJson(emulator.pathStats(name));
  }
  allow(method, ['POST']);
  const action = parts[2];
  if (action === 'down') emulator.down(name);
  else if (action === 'up') emulator.up(name);
  else throw new HttpError(404, 'ERR_NOT_FOUND', `no action "${action}" (use down or up)`);
  return statsToJson(emulator.pathStats(name));
}

/** Stats as JSON: options with Infinity written "inf". */
export function statsToJson(s: PathStats): unknown {
  return {
    ...s,
    up: { ...s.up, options: optionsToJson(s.up.options) },
    down: { ...s.down, options: optionsToJson(s.down.options) },
  };
}

function allow(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) throw new HttpError(405, 'ERR_METHOD', `method ${method} not allowed here (use ${allowed.join(' or ')})`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'ERR_BAD_URL', `bad escape in URL segment ${segment}`);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_CONTROL_BODY_BYTES) throw new HttpError(413, 'ERR_TOO_LARGE', `body over ${MAX_CONTROL_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CONTROL_BODY_BYTES) throw new HttpError(413, 'ERR_TOO_LARGE', `body over ${MAX_CONTROL_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim().length === 0) throw new HttpError(400, 'ERR_LINKEM_BAD_OPTION', 'expected a JSON patch, like {"rate":"5mbit"}');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, 'ERR_LINKEM_BAD_OPTION', `the body is not JSON: ${(err as Error).message}`);
  }
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof LinkemError) {
    const status = err.code === 'ERR_LINKEM_UNKNOWN_PATH' ? 404 : err.code === 'ERR_LINKEM_CLOSED' ? 503 : 400;
    return new HttpError(status, err.code, err.message);
  }
  return new HttpError(500, 'ERR_INTERNAL', err instanceof Error ? err.message : String(err));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
