/**
 * A port forward sends the application's first bytes with the tunnel request (early-data.ts),
 * so the target's answer needs one round trip to the server, not two. Through the real CLIs:
 * the server's log shows the bytes came with the request, the answer is exact, and a target
 * that speaks first (the application sends nothing) still works.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, startServerApp, stopAll, withKeys, type KeyFiles } from './cli-support.js';
import { connectTcp } from './support.js';

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
});
