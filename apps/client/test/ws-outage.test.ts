/**
 * A WebSocket path whose peer goes quiet (a Wi-Fi blip the TCP below rides out, a stalled
 * process) keeps what rides on it. The real apps: mptun-server on ws://, mptun-linkem relaying
 * the client's only path, and mptun-client with SOCKS. An echo runs through the tunnel while
 * the relay freezes for 4 s, twice the two ping intervals that used to end the path (and with
 * it the connection: ERR_MPTUN_NO_PATH). The client reports the path down while it is quiet and
 * up once heard again; the echo finishes hash-exact on the same connection; the pause is printed.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socksOpen } from '../../server/test/cli-apps.js';
import { startApp, startClientApp, startLinkem, stopAll, withKeys } from './cli-support.js';
import { startEcho } from './support.js';

const OUTAGE_MS = 4_000;
const CHUNK = 64 * 1024;
const children: ChildProcess[] = [];
afterEach(async () => {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('a WebSocket path through an outage', () => {
  it(`a ${OUTAGE_MS / 1000} s freeze of the only path: reported down and up again, the echo on the same connection finishes hash-exact`, async () => {
    await withKeys(async (keys) => {
      const echo = await startEcho();
      try {
        const server = startApp('server', ['run', '--listen', 'ws://127.0.0.1:0/mptun', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json']);
        const wsPort = Number(String((await server.waitForLog((l) => l['msg'] === 'listening'))['address']).split(':').pop());
        const [front, control] = [await freeTcpPort(), await freeTcpPort()];
        await startLinkem(['--tcp', `ws@127.0.0.5:${front}=127.0.0.1:${wsPort}`, '--control', `127.0.0.1:${control}`], (c) => children.push(c));
        const client = await startClientApp(keys, `127.0.0.5:${front}`, ['127.0.0.2'], ['--transport', 'ws', '--ws-url', `ws://127.0.0.5:${front}/mptun`]);
        await client.app.waitForLog((l) => l['msg'] === 'path up');

        const { reply, socket } = await socksOpen(Number(client.socks.split(':').pop()), echo.port);
        expect(reply).toBe(0);
        const sent = createHash('sha256');
        const got = createHash('sha256');
        let written = 0;
        let received = 0;
        let lastArrival = performance.now();
        let longestPause = 0;
        socket.on('data', (d: Buffer) => {
          const now = performance.now();
          longestPause = Math.max(longestPause, now - lastArrival);
          lastArrival = now;
          got.update(d);
          received += d.length;
        });
        socket.resume();
        const send = (): void => {
          const chunk = randomBytes(CHUNK);
          sent.update(chunk);
          written += chunk.length;
          socket.write(chunk);
        };
        const until = async (what: string, ok: () => boolean, ms: number): Promise<void> => {
          const deadline = performance.now() + ms;
          while (!ok()) {
            if (performance.now() > deadline) throw new Error(`no ${what} within ${ms} ms (${received} of ${written} bytes echoed)`);
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        for (let i = 0; i < 16; i++) send();
        await until('first megabyte echoed', () => received >= 16 * CHUNK, 20_000);

        const post = (action: string): Promise<Response> => fetch(`http://127.0.0.1:${control}/paths/ws/${action}`, { method: 'POST' });
        expect((await post('down')).ok).toBe(true);
        const downAt = performance.now();
        for (let i = 0; i < 16; i++) send(); // into the frozen path
        await client.app.waitForLog((l) => l['msg'] === 'path down', OUTAGE_MS + 5_000);
        const reportedMs = performance.now() - downAt;
        await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (performance.now() - downAt))));
        expect((await post('up')).ok).toBe(true);
        await until('echo after the outage', () => received >= written, 30_000);
        for (let i = 0; i < 16; i++) send();
        await until('echo of the last megabyte', () => received >= written, 20_000);
        socket.end();
        console.log(`ws outage: path reported down ${reportedMs.toFixed(0)} ms into a ${OUTAGE_MS} ms freeze; longest pause in the echo ${longestPause.toFixed(0)} ms; ${received} bytes echoed`);
        expect(got.digest('hex')).toBe(sent.digest('hex'));
        const ups = client.app.logs().filter((l) => l['msg'] === 'path up').length;
        expect(ups, 'up at the start and again after the outage').toBeGreaterThanOrEqual(2);
        expect(client.app.logs().filter((l) => l['msg'] === 'connection closed' && String(l['reason'] ?? '').includes('ERR_MPTUN')), 'no tunnel ended with an error').toEqual([]);
        socket.destroy();
      } finally {
        await echo.close();
      }
    });
  }, 90_000);
});
