/**
 * Issue 14 item 8 through the real mptun-server CLI: what one client can make the server hold.
 * - Per-client limits key on the client's key as its path session proved it, not on the
 *   address of its first path: one key from two addresses is one client, two keys behind one
 *   address are two.
 * - A tunnel whose client never reads holds at most the connection buffer (limits
 *   connectionBuffer) in the engine plus the relay's stream buffers: the test opens tunnels
 *   to a target that sends without end, reads nothing, and prints the server's buffered bytes
 *   (mptun_buffered_bytes) and RSS before, with the stalled tunnels, and after they close.
 */
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { httpRequest } from '../../../packages/local-http/test/http-request.js';
import { parsePrometheusText } from '../../../packages/local-http/test/prom-text.js';
import { socksOpen, startApp, TestResources, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-apps.js';
import { startEcho } from './support.js';

const res = new TestResources();
afterEach(() => res.release());

/** A second authorized client key, written beside the others; returns its key file. */
async function addClientKey(k: KeyFiles, name: string): Promise<string> {
  const pair = generateKeypair(await loadCrypto());
  const file = join(k.dir, `${name}.key`);
  writeFileSync(file, encodeKey(pair.privateKey) + '\n', { mode: 0o600 });
  appendFileSync(k.authorizedKeys, `${encodeKey(pair.publicKey)} ${name}\n`);
  return file;
}

/** A TCP target on 127.0.0.1: `flood` writes without end (backpressure respected), else it holds the connection. */
async function startTarget(flood: boolean): Promise<number> {
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

/** mptun-server with a config file of `limits`, metrics on, allowed to reach `targetPorts` of 127.0.0.1; resolves with its UDP port and metrics URL. */
async function startServer(k: KeyFiles, targetPorts: number | number[], limits: Record<string, unknown>): Promise<{ cli: AppProcess; port: number; wsPort: number; metrics: string }> {
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
async function startClient(k: KeyFiles, serverPort: number, keyFile: string, local: string, wsPort?: number): Promise<number> {
  const ws = wsPort === undefined ? [] : ['--transport', 'ws', '--ws-url', `ws://127.0.0.1:${wsPort}/mptun`];
  const cli = startApp('client', ['run', '--server', `127.0.0.1:${serverPort}`, '--server-key', k.serverPublic, '--key', keyFile, '--path', local, '--socks', '127.0.0.1:0', ...ws]);
  res.clis.push(cli);
  return Number((await cli.waitFor(/SOCKS5 proxy listening" address=127\.0\.0\.1:(\d+)/))[1]);
}

/** Open a tunnel and keep it (never read); the SOCKS reply code. */
async function openTunnel(socksPort: number, targetPort: number): Promise<number> {
  const { reply, socket } = await socksOpen(socksPort, targetPort);
  socket.on('error', () => {});
  res.sockets.push(socket);
  return reply;
}

interface Held {
  send: number;
  receive: number;
  stream: number;
  open: number;
  /** V8 heap in use and memory outside it (Buffers), as the server's metrics say. */
  heapUsed: number;
  external: number;
}

async function bufferedBytes(metrics: string): Promise<Held> {
  const families = parsePrometheusText((await httpRequest(metrics)).body);
  const where = (w: string): number => families.get('mptun_buffered_bytes')?.samples.find((s) => s.labels.where === w)?.value ?? NaN;
  const one = (name: string): number => families.get(name)?.samples[0]?.value ?? NaN;
  return {
    send: where('send'), receive: where('receive'), stream: where('stream'), open: one('mptun_connections_open'),
    heapUsed: one('nodejs_heap_size_used_bytes'), external: one('nodejs_external_memory_bytes'),
  };
}

/** The server's buffered bytes once they stopped changing for a second (or after 30 s). */
async function heldOnceSteady(metrics: string): Promise<Held> {
  const deadline = Date.now() + 30_000;
  let last = -1;
  for (;;) {
    await sleep(1000);
    const held = await bufferedBytes(metrics);
    const total = held.send + held.receive + held.stream;
    if (total === last || Date.now() > deadline) return held;
    last = total;
  }
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('what one client can make mptun-server hold (issue 14 item 8)', () => {
  for (const transport of ['udp', 'ws'] as const) {
    it(`maxConnectionsPerClient counts per client key (${transport}): the same key from another address is refused, another key from the same address is not`, async () => {
      const keys = (res.keys = await writeKeyFiles());
      const keyB = await addClientKey(keys, 'client-b');
      const targetPort = await startTarget(false);
      const server = await startServer(keys, targetPort, { maxConnectionsPerClient: 2 });
      const ws = transport === 'ws' ? server.wsPort : undefined;
      const a1 = await startClient(keys, server.port, keys.clientKey, '127.0.0.2', ws);
      expect(await openTunnel(a1, targetPort), 'key A, tunnel 1').toBe(0);
      expect(await openTunnel(a1, targetPort), 'key A, tunnel 2').toBe(0);
      expect(await openTunnel(a1, targetPort), 'key A, tunnel 3: over the limit').not.toBe(0);
      // Key A again, from another address: still the same client, still at its limit.
      const a2 = await startClient(keys, server.port, keys.clientKey, '127.0.0.3', ws);
      expect(await openTunnel(a2, targetPort), 'key A from 127.0.0.3').not.toBe(0);
      // Key B from key A's first address: a client of its own.
      const b = await startClient(keys, server.port, keyB, '127.0.0.2', ws);
      expect(await openTunnel(b, targetPort), 'key B from 127.0.0.2, tunnel 1').toBe(0);
      expect(await openTunnel(b, targetPort), 'key B from 127.0.0.2, tunnel 2').toBe(0);
      const refusals = server.cli.output().split('\n').filter((l) => l.includes('per-client connection limit reached')).length;
      console.log(`${transport}, limit 2 per client: key A got 2 tunnels and ${refusals} refusals (one from 127.0.0.2, one from 127.0.0.3); key B from 127.0.0.2 got 2`);
      expect(refusals).toBe(2);
    }, 90_000);
  }

  it('tunnels whose client never reads: each holds at most its connection buffer plus the stream buffers; figures before, during and after', async () => {
    const TUNNELS = 12;
    const connectionBuffer = MiB;
    const streamBuffer = 256 * 1024;
    const keys = (res.keys = await writeKeyFiles());
    const targetPort = await startTarget(true);
    const server = await startServer(keys, targetPort, { connectionBuffer: '1MiB', maxBufferedBytes: '256KiB' });
    const pid = server.cli.child.pid!;
    const socks = await startClient(keys, server.port, keys.clientKey, '127.0.0.2');
    await sleep(500);
    const rssBefore = rssBytes(pid);
    const before = await bufferedBytes(server.metrics);

    for (let i = 0; i < TUNNELS; i++) expect(await openTunnel(socks, targetPort), `tunnel ${i}`).toBe(0);
    // Wait until the server's buffers stop growing (the client's window and ours are full).
    const held = await heldOnceSteady(server.metrics);
    const rssStalled = rssBytes(pid);
    const total = held.send + held.receive + held.stream;
    const perTunnel = total / TUNNELS;

    for (const s of res.sockets.splice(0)) s.destroy();
    const closeDeadline = Date.now() + 20_000;
    while ((await bufferedBytes(server.metrics)).open > 0 && Date.now() < closeDeadline) await sleep(250);
    await sleep(1000);
    const after = await bufferedBytes(server.metrics);
    const rssAfter = rssBytes(pid);

    const mib = (b: number): string => (b / MiB).toFixed(2);
    console.log(
      `${TUNNELS} stalled tunnels (connectionBuffer 1 MiB, maxBufferedBytes 256 KiB): server holds ${mib(total)} MiB ` +
      `(send ${mib(held.send)}, receive ${mib(held.receive)}, stream ${mib(held.stream)}), ${mib(perTunnel)} MiB per tunnel; ` +
      `RSS ${mib(rssBefore)} MiB before, ${mib(rssStalled)} MiB stalled (+${mib((rssStalled - rssBefore) / TUNNELS)} MiB per tunnel), ` +
      `${mib(rssAfter)} MiB after close (${after.open} open, ${mib(after.send + after.receive + after.stream)} MiB buffered); ` +
      `V8 heap used ${mib(before.heapUsed)} / ${mib(held.heapUsed)} / ${mib(after.heapUsed)} MiB and external (Buffers) ` +
      `${mib(before.external)} / ${mib(held.external)} / ${mib(after.external)} MiB before / stalled / after`,
    );
    expect(held.open).toBe(TUNNELS);
    // Every tunnel reached its cap (the target floods), and none held more than the caps allow.
    expect(held.send, 'the engine send buffers filled').toBeGreaterThan(TUNNELS * connectionBuffer * 0.9);
    expect(perTunnel, 'bytes one stalled tunnel holds').toBeLessThanOrEqual(connectionBuffer + streamBuffer + 64 * 1024);
    expect(after.open).toBe(0);
    expect(after.send + after.receive + after.stream).toBe(0);
  }, 120_000);

  it('bufferBudget: tunnels that never read hold about the budget all together, and a new tunnel still gets through', async () => {
    const TUNNELS = 12;
    const budget = 4 * MiB;
    const floor = 64 * 1024; // what every connection may hold whatever the budget (core BUDGET_FLOOR)
    const keys = (res.keys = await writeKeyFiles());
    const floodPort = await startTarget(true);
    const echo = await startEcho();
    try {
      const server = await startServer(keys, [floodPort, echo.port], { connectionBuffer: '1MiB', bufferBudget: '4MiB' });
      const socks = await startClient(keys, server.port, keys.clientKey, '127.0.0.2');
      for (let i = 0; i < TUNNELS; i++) expect(await openTunnel(socks, floodPort), `tunnel ${i}`).toBe(0);
      const held = await heldOnceSteady(server.metrics);
      // A new tunnel, with the budget full: its request and reply fit in its floor.
      const { reply, socket } = await socksOpen(socks, echo.port);
      res.sockets.push(socket);
      expect(reply, 'a new tunnel with the budget full').toBe(0);
      socket.resume();
      const echoed = new Promise<string>((resolve) => {
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= 4) resolve(got);
        });
      });
      socket.write('ping');
      expect(await echoed).toBe('ping');
      const engine = held.send + held.receive;
      console.log(
        `${TUNNELS} stalled tunnels, bufferBudget 4 MiB, connectionBuffer 1 MiB: the engines hold ${(engine / MiB).toFixed(2)} MiB in all ` +
        `(send ${(held.send / MiB).toFixed(2)}, receive ${(held.receive / MiB).toFixed(2)}; ${TUNNELS} MiB without the budget); a new tunnel echoed "ping"`,
      );
      expect(engine, 'what the stalled tunnels hold together').toBeLessThanOrEqual(budget + (TUNNELS + 1) * floor);
      expect(held.send, 'the budget filled').toBeGreaterThan(budget * 0.9);
    } finally {
      await echo.close();
    }
  }, 120_000);
});
