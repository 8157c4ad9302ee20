/**
 * A port forward sends the application's first bytes with the tunnel request (early-data.ts),
 * so the target's answer needs one round trip to the server, not two; with
 * --socks-early-reply the SOCKS proxy does the same. Through the real CLIs, with curl for
 * SOCKS: the server's log shows the bytes came with the request, the answer is exact, a
 * target that speaks first (the application sends nothing) still works, and a refused target
 * after an early reply is a reset.
 */
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, startClientApp, startServerApp, stopAll, withKeys, type KeyFiles } from './cli-support.js';
import { connectTcp, freeTcpPort } from './support.js';

afterEach(stopAll);

async function listen(onConnection: (c: Socket) => void): Promise<{ port: number; server: Server }> {
  const server = createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => {});
    onConnection(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

/**
 * The client with one forward. The test's write can trail the client's accept by more than the
 * default 10 ms on a loaded machine, so the first case waits longer (the flag users have).
 */
async function clientWithForward(keys: KeyFiles, server: string, targetPort: number, extra: string[] = []): Promise<number> {
  const app = startApp('client', [
    'run', '--server', server, '--server-key', keys.serverPublic, '--key', keys.clientKey,
    '--path', '127.0.0.2', '--no-socks', '-L', `127.0.0.1:0:127.0.0.1:${targetPort}`, '--log-format', 'json', ...extra,
  ]);
  const line = await app.waitForLog((l) => l['msg'] === 'forward listening');
  return Number(String(line['address']).split(':').pop());
}

describe('early data through a port forward', () => {
  it("the application's first bytes ride the tunnel request; the answer and a half-close come back exact", async () => {
    await withKeys(async (keys) => {
      // An echo target that ends its side once the application ended its own.
      const echo = await listen((c) => {
        c.on('data', (d) => c.write(d));
        c.on('end', () => c.end());
      });
      try {
        const server = await startServerApp(keys);
        const port = await clientWithForward(keys, server.address, echo.port, ['--early-data-wait', '2s']);
        const { socket, reader } = await connectTcp(port);
        const request = Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
        socket.write(request);
        const relaying = await server.app.waitForLog((l) => l['msg'] === 'relaying');
        expect(relaying['earlyBytes'], 'application bytes that came with the tunnel request').toBe(request.length);
        expect((await reader.read(request.length))?.toString()).toBe(request.toString());
        socket.end();
        await reader.closed();
        socket.destroy();
      } finally {
        echo.server.close();
      }
    });
  });

  it('a target that speaks first: the application waits for it, the forward does not wait for the application', async () => {
    await withKeys(async (keys) => {
      const banner = Buffer.from('220 ready\r\n');
      let heard = '';
      const talker = await listen((c) => {
        c.write(banner);
        c.on('data', (d) => {
          heard += d.toString();
          if (heard.endsWith('\r\n')) c.end('221 bye\r\n');
        });
      });
      try {
        const server = await startServerApp(keys);
        const port = await clientWithForward(keys, server.address, talker.port);
        const { socket, reader } = await connectTcp(port);
        expect((await reader.read(banner.length))?.toString()).toBe(banner.toString());
        const relaying = await server.app.waitForLog((l) => l['msg'] === 'relaying');
        expect(relaying['earlyBytes']).toBe(0);
        socket.write('QUIT\r\n');
        expect((await reader.read(9))?.toString()).toBe('221 bye\r\n');
        await reader.closed();
        socket.destroy();
        expect(heard).toBe('QUIT\r\n');
      } finally {
        talker.server.close();
      }
    });
  });

  it('--socks-early-reply: curl through SOCKS gets its page with the request in the first packet; a refused port is a reset', async () => {
    await withKeys(async (keys) => {
      const body = 'hello through an early reply\n';
      const web = createHttpServer((_req, res) => res.end(body));
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      const webPort = (web.address() as { port: number }).port;
      try {
        const server = await startServerApp(keys);
        const client = await startClientApp(keys, server.address, ['127.0.0.2'], ['--socks-early-reply', '--early-data-wait', '2s']);
        const curl = (url: string): Promise<{ code: number | null; out: string }> =>
          new Promise((resolve) => {
            const c = spawn('curl', ['-sS', '--max-time', '20', '--socks5', client.socks, url], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            c.stdout.on('data', (d: Buffer) => (out += d.toString()));
            c.stderr.on('data', (d: Buffer) => (out += d.toString()));
            c.once('exit', (code) => resolve({ code, out }));
          });
        const ok = await curl(`http://127.0.0.1:${webPort}/`);
        expect(ok).toEqual({ code: 0, out: body });
        const relaying = await server.app.waitForLog((l) => l['msg'] === 'relaying');
        expect(relaying['earlyBytes'], "curl's request came with the tunnel request").toBeGreaterThan(20);
        // Nothing listens there: the server refuses, and curl, already told "succeeded", sees a reset.
        const refused = await curl(`http://127.0.0.1:${await freeTcpPort()}/`);
        expect(refused.code, refused.out).not.toBe(0);
        await client.app.waitForLog((l) => String(l['msg']).startsWith('socks: the tunnel refused the connection (after an early reply'));
      } finally {
        web.close();
      }
    });
  });
});
