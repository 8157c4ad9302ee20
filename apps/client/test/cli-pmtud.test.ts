/**
 * Path MTU discovery through the real apps (issue 16, RFC 8899): mptun-server and
 * mptun-client over sealed UDP on loopback (MTU 65536). The client's status shows the path's
 * MSS risen to what the default cap (1472-byte datagrams) carries, the server's metrics show it for its
 * side, and bytes through the tunnel come back hash-exact. With --no-pmtud on both, the path
 * keeps the floor. Linux only: elsewhere the sockets cannot be kept from fragmenting, and
 * the test prints why it does not run.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { noFragmentUnavailable } from '@mptun/node';
import type { PathStatus, StatusSnapshot } from '../src/status/types.js';
import { startApp, startClientApp, stopAll, withKeys, type KeyFiles } from './cli-support.js';
import { connectRequest, connectTcp, pattern, startEcho, until } from './support.js';

afterEach(stopAll);

const PATH = '127.0.0.2';
/** What a 1200-byte sealed datagram leaves for payload: 1200 - 32 (session) - 60 (TCP header at its largest). */
const FLOOR_MSS = 1108;
/** The same for the search's default cap, 1472-byte datagrams. */
const CAPPED_MSS = 1380;
const unavailable = noFragmentUnavailable();
if (unavailable) console.log(`mptun path MTU discovery CLI tests skipped: ${unavailable}`);

async function pathRow(statusUrl: string): Promise<PathStatus | undefined> {
  const snap = (await (await fetch(`${statusUrl}/api/status`)).json()) as StatusSnapshot;
  return snap.paths.find((p) => p.localAddress === PATH);
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Sends `data` through the client's SOCKS5 proxy to the echo server and reads it all back;
 * the tunnel stays open (its subflows are what status and metrics show) until close().
 */
async function echoThrough(socks: string, port: number, data: Buffer): Promise<{ back: Buffer; close(): void }> {
  const sp = Number(socks.slice(socks.lastIndexOf(':') + 1));
  const c = await connectTcp(sp, socks.slice(0, socks.lastIndexOf(':')));
  c.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), connectRequest('127.0.0.1', port)]));
  expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0]));
  expect((await c.reader.read(10))![1]).toBe(0);
  c.socket.write(data);
  return { back: (await c.reader.read(data.length))!, close: () => c.socket.destroy() };
}

async function startPair(keys: KeyFiles, echoPort: number, extra: string[]) {
  const server = startApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', `127.0.0.1/32:${echoPort}`, '--metrics', '127.0.0.1:0', '--drain', '0s', '--log-format', 'json', ...extra]);
  const address = String((await server.waitForLog((l) => l['msg'] === 'listening'))['address']);
  const metricsUrl = String((await server.waitForLog((l) => l['msg'] === 'metrics'))['url']);
  const client = await startClientApp(keys, address, [PATH], extra);
  return { server, metricsUrl, ...client };
}

/** The server's mptun_subflow_mss_bytes samples. */
async function serverMss(metricsUrl: string): Promise<number[]> {
  const text = await (await fetch(metricsUrl)).text();
  return [...text.matchAll(/^mptun_subflow_mss_bytes\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
}

describe.skipIf(unavailable !== null)('mptun-client and mptun-server: path MTU discovery on sealed UDP', () => {
  it('the path grows past 1200-byte datagrams (status and metrics), and a tunnel carries 8 MB hash-exact', async () => {
    await withKeys(async (keys) => {
      const echo = await startEcho();
      try {
        const { socks, statusUrl, metricsUrl } = await startPair(keys, echo.port, []);
        const data = pattern(16, 8 * 1024 * 1024);
        const tunnel = await echoThrough(socks, echo.port, data);
        expect(sha256(tunnel.back)).toBe(sha256(data));
        await until(async () => ((await pathRow(statusUrl))?.mssBytes ?? 0) === CAPPED_MSS, 'the client path MSS to grow', 10_000);
        const row = (await pathRow(statusUrl))!;
        const server = await serverMss(metricsUrl);
        console.log('client path', { mssBytes: row.mssBytes, state: row.state }, 'server MSS', server);
        expect(row.state).toBe('up');
        expect(server.length).toBeGreaterThan(0);
        expect(Math.max(...server)).toBe(CAPPED_MSS);
        tunnel.close();
      } finally {
        await echo.close();
      }
    });
  }, 90_000);

  it('--no-pmtud on both keeps the 1200-byte floor', async () => {
    await withKeys(async (keys) => {
      const echo = await startEcho();
      try {
        const { socks, statusUrl, metricsUrl } = await startPair(keys, echo.port, ['--no-pmtud']);
        const data = pattern(17, 1024 * 1024);
        const tunnel = await echoThrough(socks, echo.port, data);
        expect(sha256(tunnel.back)).toBe(sha256(data));
        // Long enough for a search to have raised it, had one run.
        await new Promise((r) => setTimeout(r, 1500));
        expect((await pathRow(statusUrl))!.mssBytes).toBe(FLOOR_MSS);
        expect(await serverMss(metricsUrl)).toEqual([FLOOR_MSS]);
        tunnel.close();
      } finally {
        await echo.close();
      }
    });
  }, 90_000);
});
