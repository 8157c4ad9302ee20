/**
 * What the real mptun-server holds for tunnels whose client never reads (issue 14 item 8):
 * the CLI server with its metrics endpoint, the CLI client, a target that sends without end,
 * and the server's own account of what it buffers (mptun_buffered_bytes) and its RSS. Used by
 * client-memory.test.ts and the torture check tools/torture/stalled-memory.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { httpRequest } from '../../../packages/local-http/test/http-request.js';
import { parsePrometheusText } from '../../../packages/local-http/test/prom-text.js';
import { socksOpen, startApp, writeKeyFiles, type AppProcess, type KeyFiles, type TestResources } from './cli-apps.js';

export const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP target on 127.0.0.1: `flood` writes without end (backpressure respected), else it holds the connection. */
export async function startTarget(res: TestResources, flood: boolean): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const target = (res.server = createServer((sock) => {
    res.sockets.push(sock);
    sock.on('error', () => {});
    if (!flood) return;
    const pump = (): void => {
      while (!sock.destroyed && sock.write(chunk));
    };
    sock.on('drain', pump);
    pump();
  }));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  return (target.address() as { port: number }).port;
}

export interface ServerCli {
  cli: AppProcess;
  port: number;
  wsPort: number;
  metrics: string;
}

/** mptun-server with a config file of `limits`, metrics on, allowed to reach `targetPorts` of 127.0.0.1; resolves with its UDP port and metrics URL. */
export async function startServer(res: TestResources, k: KeyFiles, targetPorts: number | number[], limits: Record<string, unknown>): Promise<ServerCli> {
  const config = join(k.dir, 'server.json');
  writeFileSync(config, JSON.stringify({ limits }));
  const cli = startApp('server', [
    'run', '--config', config, '--listen', 'udp://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mptun', '--key', k.serverKey, '--authorized-keys', k.authorizedKeys,
    '--allow', `127.0.0.1/32:${[targetPorts].flat().join(',')}`, '--metrics', '127.0.0.1:0', '--drain', '0s', '--log-format', 'json',
  ]);
  res.clis.push(cli);
  const port = Number((await cli.waitFor(/"msg":"listening","transport":"udp","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const wsPort = Number((await cli.waitFor(/"msg":"listening","transport":"ws","address":"127\.0\.0\.1:(\d+)"/))[1]);
  const metrics = (await cli.waitFor(/"msg":"metrics","url":"(http:[^"]+)"/))[1]!;
  return { cli, port, wsPort, metrics };
}

/** mptun-client with `keyFile`, its one path from `local` (over WebSocket when `wsPort` is given); resolves with its SOCKS port. */
export async function startClient(res: TestResources, k: KeyFiles, serverPort: number, keyFile: string, local: string, wsPort?: number): Promise<number> {
  const ws = wsPort === undefined ? [] : ['--transport', 'ws', '--ws-url', `ws://127.0.0.1:${wsPort}/mptun`];
  const cli = startApp('client', ['run', '--server', `127.0.0.1:${serverPort}`, '--server-key', k.serverPublic, '--key', keyFile, '--path', local, '--socks', '127.0.0.1:0', ...ws]);
  res.clis.push(cli);
  return Number((await cli.waitFor(/SOCKS5 proxy listening" address=127\.0\.0\.1:(\d+)/))[1]);
}

/** Open a tunnel and keep it (never read); the SOCKS reply code. */
export async function openTunnel(res: TestResources, socksPort: number, targetPort: number): Promise<number> {
  const { reply, socket } = await socksOpen(socksPort, targetPort);
  socket.on('error', () => {});
  res.sockets.push(socket);
  return reply;
}

/** mptun_buffered_bytes by where, and the process figures beside it. */
export interface Held {
  send: number;
  receive: number;
  stream: number;
  /** Stream buffers of the server's TCP sockets to the targets. */
  target: number;
  open: number;
  /** V8 heap in use and memory outside it (Buffers), as the server's metrics say. */
  heapUsed: number;
  external: number;
}

export const heldTotal = (h: Held): number => h.send + h.receive + h.stream + h.target;

export async function bufferedBytes(metrics: string): Promise<Held> {
  const families = parsePrometheusText((await httpRequest(metrics)).body);
  const where = (w: string): number => families.get('mptun_buffered_bytes')?.samples.find((s) => s.labels.where === w)?.value ?? NaN;
  const one = (name: string): number => families.get(name)?.samples[0]?.value ?? NaN;
  return {
    send: where('send'), receive: where('receive'), stream: where('stream'), target: where('target'), open: one('mptun_connections_open'),
    heapUsed: one('nodejs_heap_size_used_bytes'), external: one('nodejs_external_memory_bytes'),
  };
}

/** The server's buffered bytes once they stopped changing for a second (or after 30 s). */
export async function heldOnceSteady(metrics: string): Promise<Held> {
  const deadline = Date.now() + 30_000;
  let last = -1;
  for (;;) {
    await sleep(1000);
    const held = await bufferedBytes(metrics);
    const total = heldTotal(held);
    if (total === last || Date.now() > deadline) return held;
    last = total;
  }
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export interface StalledFigures {
  tunnels: number;
  limits: Record<string, unknown>;
  before: Held;
  /** Once the buffers stopped growing. */
  held: Held;
  /** heldTotal(held) / tunnels. */
  perTunnel: number;
  /** After every tunnel closed. */
  after: Held;
  rssBefore: number;
  rssStalled: number;
  rssAfter: number;
}

/**
 * Starts the server (with `limits`) and a client, opens `tunnels` tunnels to a target that
 * sends without end, never reads them, waits until the server's buffers stop growing, then
 * closes them all and waits for the server to let go. Everything started is left in `res`.
 */
export async function measureStalledTunnels(res: TestResources, tunnels: number, limits: Record<string, unknown>): Promise<StalledFigures> {
  const keys = (res.keys = await writeKeyFiles());
  const targetPort = await startTarget(res, true);
  const server = await startServer(res, keys, targetPort, limits);
  const pid = server.cli.child.pid!;
  const socks = await startClient(res, keys, server.port, keys.clientKey, '127.0.0.2');
  await sleep(500);
  const rssBefore = rssBytes(pid);
  const before = await bufferedBytes(server.metrics);

  for (let i = 0; i < tunnels; i++) {
    const reply = await openTunnel(res, socks, targetPort);
    if (reply !== 0) throw new Error(`tunnel ${i}: SOCKS reply ${reply}`);
  }
  // Wait until the server's buffers stop growing (the client's window and ours are full).
  const held = await heldOnceSteady(server.metrics);
  const rssStalled = rssBytes(pid);

  for (const s of res.sockets.splice(0)) s.destroy();
  const closeDeadline = Date.now() + 20_000;
  while ((await bufferedBytes(server.metrics)).open > 0 && Date.now() < closeDeadline) await sleep(250);
  await sleep(1000);
  const after = await bufferedBytes(server.metrics);
  const rssAfter = rssBytes(pid);
  return { tunnels, limits, before, held, perTunnel: heldTotal(held) / tunnels, after, rssBefore, rssStalled, rssAfter };
}

/** One line of the figures, for a test's output and the torture report. */
export function describeStalled(f: StalledFigures): string {
  const mib = (b: number): string => (b / MiB).toFixed(2);
  const { held, before, after } = f;
  return (
    `${f.tunnels} stalled tunnels (the client never reads, the target sends; limits ${JSON.stringify(f.limits)}): server holds ${mib(heldTotal(held))} MiB ` +
    `(engine send ${mib(held.send)}, receive ${mib(held.receive)}, MPTCP streams ${mib(held.stream)}, target sockets ${mib(held.target)}), ${mib(f.perTunnel)} MiB per tunnel; ` +
    `RSS ${mib(f.rssBefore)} MiB before, ${mib(f.rssStalled)} MiB stalled (+${mib((f.rssStalled - f.rssBefore) / f.tunnels)} MiB per tunnel), ` +
    `${mib(f.rssAfter)} MiB after close (${after.open} open, ${mib(heldTotal(after))} MiB buffered); ` +
    `V8 heap used ${mib(before.heapUsed)} / ${mib(held.heapUsed)} / ${mib(after.heapUsed)} MiB and external (Buffers) ` +
    `${mib(before.external)} / ${mib(held.external)} / ${mib(after.external)} MiB before / stalled / after`
  );
}
