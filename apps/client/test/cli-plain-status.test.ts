/**
 * A udp-plain path in the real client's status API (issue 15, finding 6): up only once the
 * server has answered on it; connecting while its SYN goes unanswered; down, with the reason,
 * when nothing comes back (ICMP port unreachable, or silence until the request gives up).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { PathStatus, StatusSnapshot } from '../src/status/types.js';
import { startApp, startClientApp, stopAll, withKeys, type AppProcess, type KeyFiles } from './cli-support.js';
import { connectRequest, connectTcp, freeUdpPort, startEcho } from './support.js';

afterEach(stopAll);

const PATH = '127.0.0.2';

/** The status API's row of the test's path (undefined while it is not listed). */
async function pathRow(statusUrl: string): Promise<PathStatus | undefined> {
  const snap = (await (await fetch(`${statusUrl}/api/status`)).json()) as StatusSnapshot;
  return snap.paths.find((p) => p.localAddress === PATH);
}

/** Every state the path shows, sampled every 50 ms while `during` runs. */
async function watchStates<T>(statusUrl: string, during: Promise<T>): Promise<{ result: T; states: Set<string> }> {
  const states = new Set<string>();
  let running = true;
  const sampler = (async () => {
    while (running) {
      const row = await pathRow(statusUrl);
      if (row) states.add(row.state);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { result: await during, states };
  } finally {
    running = false;
    await sampler;
  }
}

/** SOCKS5 CONNECT through the client; resolves with the reply code (the socket stays open on success). */
async function socksRequest(socks: string, port: number): Promise<{ reply: number; close(): void }> {
  const [host, p] = [socks.slice(0, socks.lastIndexOf(':')), Number(socks.slice(socks.lastIndexOf(':') + 1))];
  const c = await connectTcp(p, host);
  c.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), connectRequest('127.0.0.1', port)]));
  expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0]));
  const reply = await c.reader.read(10);
  return { reply: reply === null ? -1 : reply[1]!, close: () => c.socket.destroy() };
}

/** A UDP socket that takes every datagram and answers none: a server that never replies. */
async function blackHole(): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  socket.on('message', () => {});
  return { socket, port: socket.address().port };
}

const plainClient = (keys: KeyFiles, server: string): ReturnType<typeof startClientApp> =>
  startClientApp(keys, server, [PATH], ['--transport', 'udp-plain', '--connect-timeout', '1s']);

const pathUpLines = (client: AppProcess): number => client.logs().filter((l) => l['msg'] === 'path up').length;

describe('mptun-client --transport udp-plain: path state in the status API', () => {
  it('nothing listens (ICMP port unreachable): idle, then down with that reason, never up', async () => {
    await withKeys(async (keys) => {
      const port = await freeUdpPort();
      const { app, socks, statusUrl } = await plainClient(keys, `127.0.0.1:${port}`);
      expect(await pathRow(statusUrl)).toMatchObject({ state: 'idle', up: false });
      const { result, states } = await watchStates(statusUrl, socksRequest(socks, 9));
      expect(result.reply).not.toBe(0);
      expect(states.has('up')).toBe(false);
      const row = await pathRow(statusUrl);
      expect(row).toMatchObject({ state: 'down', up: false });
      expect(row!.downReason).toBe(`server unreachable: nothing listens on UDP 127.0.0.1:${port} (ICMP port unreachable)`);
      expect(pathUpLines(app)).toBe(0);
    });
  }, 60_000);

  it('a server that never answers: connecting while the SYN is out, then down with "no answer", never up', async () => {
    await withKeys(async (keys) => {
      const hole = await blackHole();
      try {
        const { app, socks, statusUrl } = await plainClient(keys, `127.0.0.1:${hole.port}`);
        const { result, states } = await watchStates(statusUrl, socksRequest(socks, 9));
        expect(result.reply).not.toBe(0);
        expect(states.has('connecting')).toBe(true);
        expect(states.has('up')).toBe(false);
        const row = await pathRow(statusUrl);
        expect(row).toMatchObject({ state: 'down', up: false, downReason: `no answer from the server at 127.0.0.1:${hole.port} on this path` });
        expect(pathUpLines(app)).toBe(0);
        expect(app.logs().some((l) => l['msg'] === 'path down' && String(l['reason']).startsWith('no answer from the server'))).toBe(true);
      } finally {
        hole.socket.close();
      }
    });
  }, 60_000);

  it('a real udp-plain server: up once it has answered, while the connection lives', async () => {
    await withKeys(async (keys) => {
      const echo = await startEcho();
      try {
        const server = startApp('server', ['run', '--listen', 'udp-plain://127.0.0.1:0', '--insecure-plain-udp', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', `127.0.0.1/32:${echo.port}`, '--drain', '0s', '--log-format', 'json']);
        const address = String((await server.waitForLog((l) => l['msg'] === 'listening'))['address']);
        const { app, socks, statusUrl } = await plainClient(keys, address);
        expect(await pathRow(statusUrl)).toMatchObject({ state: 'idle' });
        const conn = await socksRequest(socks, echo.port);
        try {
          expect(conn.reply).toBe(0);
          expect(await pathRow(statusUrl)).toMatchObject({ state: 'up', up: true, downReason: null });
          expect(pathUpLines(app)).toBe(1);
        } finally {
          conn.close();
        }
      } finally {
        await echo.close();
      }
    });
  }, 60_000);
});
