/**
 * `mptun-client status`: reads a running client's /api/status and shows it as a live
 * terminal table, redrawn every second (ANSI, no dependency), until q or Ctrl-C; `--once`
 * prints one snapshot and exits, for scripts and pipes.
 */
import type { Command } from 'commander';
import { DEFAULT_STATUS_PORT } from './server.js';
import { renderStatusTable } from './status-table.js';
import type { StatusSnapshot } from './types.js';

export const DEFAULT_STATUS_URL = `http://127.0.0.1:${DEFAULT_STATUS_PORT}`;

export interface StatusViewOptions {
  url?: string;
  once?: boolean;
  /** Default process.stdout. */
  output?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Keys come from here in live mode. Default process.stdin. */
  input?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  /** Colour: default when output is a terminal and NO_COLOR is unset. */
  color?: boolean;
  refreshMs?: number;
}

export class StatusFetchError extends Error {
  readonly code = 'ERR_MPTUN_STATUS_FETCH';
}

/** Largest status body accepted (a client with thousands of connections stays far below). */
const MAX_BODY = 8 * 1024 * 1024;

export async function fetchStatus(baseUrl: string): Promise<StatusSnapshot> {
  const url = new URL('/api/status', baseUrl);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  } catch (err) {
    throw new StatusFetchError(`cannot reach ${url.href}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
  }
  if (!res.ok) throw new StatusFetchError(`${url.href} answered HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_BODY) throw new StatusFetchError(`${url.href} sent ${text.length} bytes, more than a status should be`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new StatusFetchError(`${url.href} did not send JSON`);
  }
  if (!isSnapshot(body)) throw new StatusFetchError(`${url.href} sent JSON that is not an mptun status`);
  return body;
}

function isSnapshot(v: unknown): v is StatusSnapshot {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const num = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  const paths = o['paths'];
  const connections = o['connections'];
  return (
    num(o['time']) &&
    Array.isArray(paths) &&
    paths.every((p: Record<string, unknown> | null) =>
      typeof p === 'object' && p !== null &&
      typeof p['name'] === 'string' && typeof p['localAddress'] === 'string' && typeof p['transport'] === 'string' &&
      typeof p['up'] === 'boolean' && PATH_STATES.includes(p['state'] as string) && typeof p['backup'] === 'boolean' && (p['rttMs'] === null || num(p['rttMs'])) &&
      ['upBps', 'downBps', 'lossRate', 'bytesUp', 'bytesDown', 'retransmissions'].every((k) => num(p[k]))) &&
    Array.isArray(connections) &&
    connections.every((c: Record<string, unknown> | null) =>
      typeof c === 'object' && c !== null && typeof c['target'] === 'string' && (c['id'] === null || num(c['id'])) &&
      ['bytesUp', 'bytesDown', 'subflows', 'ageMs'].every((k) => num(c[k])))
  );
}

const PATH_STATES = ['up', 'connecting', 'down', 'idle'];

const CLEAR = '\x1b[H\x1b[2J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const ALT_SCREEN_ON = '\x1b[?1049h';
const ALT_SCREEN_OFF = '\x1b[?1049l';

/** Run the view; resolves with the exit code (0, or 1 when --once could not read the status). */
export async function runStatusView(opts: StatusViewOptions = {}): Promise<number> {
  const url = opts.url ?? DEFAULT_STATUS_URL;
  const output = opts.output ?? process.stdout;
  // A reader that went away (`status | head`) ends the view quietly.
  let readerGone: (() => void) | null = null;
  output.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    readerGone?.();
  });
  const color = opts.color ?? (output.isTTY === true && !process.env['NO_COLOR']);
  if (opts.once) {
    try {
      output.write(renderStatusTable(await fetchStatus(url), { color, source: url }));
      return 0;
    } catch (err) {
      process.stderr.write(`mptun-client status: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  }

  const input = opts.input ?? process.stdin;
  const terminal = output.isTTY === true;
  return new Promise<number>((resolve) => {
    let stopped = false;
    let inFlight = false;
    const draw = async (): Promise<void> => {
      if (inFlight || stopped) return;
      inFlight = true;
      let text: string;
      try {
        text = renderStatusTable(await fetchStatus(url), { color, source: url });
      } catch (err) {
        text = `mptun-client status (${url})\n\n  ${err instanceof Error ? err.message : String(err)}\n  retrying every second…\n`;
      }
      inFlight = false;
      if (stopped) return;
      output.write(terminal ? `${CLEAR}${text}\n  q or Ctrl-C to quit\n` : `${text}\n`);
    };
    const onKey = (chunk: Buffer | string): void => {
      const s = chunk.toString();
      if (s.includes('q') || s.includes('Q') || s.includes('\x03')) stop();
    };
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      input.off('data', onKey);
      if (input.isTTY && input.setRawMode) input.setRawMode(false);
      input.pause();
      if (terminal) output.write(`${SHOW_CURSOR}${ALT_SCREEN_OFF}`);
      resolve(0);
    };
    readerGone = stop;
    if (terminal) output.write(`${ALT_SCREEN_ON}${HIDE_CURSOR}`);
    // Raw mode delivers q and Ctrl-C as bytes; without a terminal, SIGINT still ends the view.
    if (input.isTTY && input.setRawMode) input.setRawMode(true);
    input.on('data', onKey);
    input.resume();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const timer = setInterval(() => void draw(), opts.refreshMs ?? 1000);
    void draw();
  });
}

/**
 * Add `status [--url URL | -c FILE] [--once]` to the mptun-client program. `statusOf` reads
 * the "status" address of a client config file, so `status -c client.json` finds the client
 * that file configures.
 */
export function addStatusCommand(program: Command, statusOf: (configFile: string) => string | undefined): Command {
  return program
    .command('status')
    .description('show the live status of a running mptun-client (paths, rates, RTT, loss, connections)')
    .option('--url <url>', `the client's status server (default: the config file's "status", else ${DEFAULT_STATUS_URL})`)
    .option('-c, --config <file>', 'the client config file whose "status" address to read')
    .option('--once', 'print one snapshot and exit')
    .action(async (o: { url?: string; config?: string; once?: boolean }) => {
      const configured = o.config ? statusOf(o.config) : undefined;
      if (o.config && !configured && !o.url) throw new StatusFetchError(`${o.config} sets no "status" address; add one (e.g. "127.0.0.1:9471") or pass --url`);
      const url = o.url ?? (configured ? `http://${configured}` : DEFAULT_STATUS_URL);
      process.exitCode = await runStatusView({ url, once: o.once === true });
    });
}
