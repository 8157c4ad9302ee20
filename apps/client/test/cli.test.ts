/**
 * mptun-client as a user meets it: the real command (a child process) run the way the
 * READMEs say, its output, its logs and its exit codes.
 */
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeKey } from '@mptun/session';
import { REPO, runApp, startApp, startClientApp, startServerApp, stopAll, withKeys } from './cli-support.js';
import { connectRequest, connectTcp, freeTcpPort } from './support.js';

afterEach(stopAll);

const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/** A TCP server that answers each connection with `reply` and then closes it. */
async function startReplySink(reply: Buffer): Promise<{ port: number; server: Server }> {
  const server = createServer((c: Socket) => {
    c.on('error', () => {});
    c.once('data', () => c.end(reply));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

describe('mptun-client command', () => {
  it('--version prints the package version; --help documents the exit codes', async () => {
    const version = (JSON.parse(readFileSync(join(REPO, 'apps/client/package.json'), 'utf8')) as { version: string }).version;
    const v = await runApp('client', ['--version']);
    expect(v).toMatchObject({ code: 0, stdout: `${version}\n` });
    const h = await runApp('client', ['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Exit codes: 0 ok, 64 bad command line, 78 bad config or key file,\s+69 unavailable/);
  });

  it('keygen > file writes a key file run --key accepts; the public key line pastes into authorized keys with a comment; both sides log the closed connection', async () => {
    await withKeys(async (keys) => {
      // The user's steps: keygen to stdout, redirect into a file, paste stderr into clients.txt.
      const gen = await runApp('client', ['keygen']);
      expect(gen.code).toBe(0);
      expect(gen.stdout).toMatch(new RegExp(`^${BASE64_KEY.source.slice(1, -1)}\n$`));
      expect(gen.stderr).toMatch(new RegExp(`^${BASE64_KEY.source.slice(1, -1)}\n$`));
      decodeKey(gen.stderr.trim());
      writeFileSync(keys.clientKey, gen.stdout, { mode: 0o600 });
      writeFileSync(keys.authorizedKeys, `${gen.stderr.trim()} alice@laptop\n`);

      const sink = await startReplySink(Buffer.from('pong'));
      try {
        const server = await startServerApp(keys);
        const client = await startClientApp(keys, server.address, ['127.0.0.2']);
        const port = Number(client.socks.split(':').pop());
        const { socket, reader } = await connectTcp(port);
        socket.write(Buffer.from([5, 1, 0]));
        expect([...(await reader.read(2))!]).toEqual([5, 0]);
        socket.write(connectRequest('127.0.0.1', sink.port));
        expect((await reader.read(10))?.[1]).toBe(0);
        socket.write('ping');
        expect((await reader.read(4))?.toString()).toBe('pong');
        await reader.closed();
        socket.destroy();

        const target = `127.0.0.1:${sink.port}`;
        const closed = await client.app.waitForLog((l) => l['msg'] === 'connection closed');
        expect(closed).toMatchObject({ level: 'info', target, bytesUp: 4, bytesDown: 4, reason: 'target closed' });
        expect(closed['durationMs']).toEqual(expect.any(Number));
        const relayed = await server.app.waitForLog((l) => l['msg'] === 'connection closed');
        expect(relayed).toMatchObject({ target, bytesUp: 4, bytesDown: 4, reason: 'target closed' });
        expect(relayed['durationMs']).toEqual(expect.any(Number));
      } finally {
        sink.server.close();
      }
    });
  });

  it('keygen --out writes 0600 (also with --force over a 0644 file), --pub-out the public key alone; no --force refuses with 78', async () => {
    await withKeys(async (keys) => {
      const out = join(keys.dir, 'new.key');
      const pub = join(keys.dir, 'new.pub');
      writeFileSync(out, 'old\n', { mode: 0o644 });
      chmodSync(out, 0o644);
      const refused = await runApp('client', ['keygen', '--out', out]);
      expect(refused.code).toBe(78);
      expect(refused.stderr).toContain(`${out}: already exists; not replacing a key (pass --force to replace it)`);
      const made = await runApp('client', ['keygen', '--out', out, '--pub-out', pub, '--force']);
      expect(made.code).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(readFileSync(out, 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      expect(readFileSync(pub, 'utf8')).toBe(made.stdout);
      expect(made.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    });
  });

  it('a --path address the machine lacks fails at start (69) naming it, as JSON under --log-format json; a readable key file is warned about', async () => {
    await withKeys(async (keys) => {
      chmodSync(keys.clientKey, 0o644);
      const r = await runApp('client', ['run', '--server', '127.0.0.1:4433', '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '192.0.2.77', '--log-format', 'json']);
      expect(r.code).toBe(69);
      // Under --log-format json every line is JSON, the fatal one included.
      const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l['msg'] === 'private key file is readable by other users')).toMatchObject({ level: 'warn', file: keys.clientKey, problem: expect.stringContaining(`chmod 600 ${keys.clientKey}`) });
      expect(lines.at(-1)).toMatchObject({ level: 'error', msg: 'fatal', code: 'ERR_MPTUN_BAD_ADDRESS', error: 'path 192.0.2.77: cannot bind (EADDRNOTAVAIL): it is not an address of this machine' });
    });
  });

  it('SIGTERM ends run at once (exit 0) even while a path handshake to a silent server is pending', async () => {
    await withKeys(async (keys) => {
      const silent = createSocket('udp4');
      await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
      try {
        const app = startApp('client', ['run', '--server', `127.0.0.1:${silent.address().port}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '127.0.0.2', '--socks', '127.0.0.1:0', '--log-format', 'json']);
        await app.waitForLog((l) => l['msg'] === 'SOCKS5 proxy listening');
        const sent = Date.now();
        app.child.kill('SIGTERM');
        const { code } = await app.exited;
        const tookMs = Date.now() - sent;
        console.log(`client exited ${tookMs} ms after SIGTERM (the path handshake times out after 10 s)`);
        expect(code).toBe(0);
        expect(tookMs).toBeLessThan(5000);
      } finally {
        silent.close();
      }
    });
  });

  it('--status on a port in use says so by address (69), not as a raw EADDRINUSE', async () => {
    await withKeys(async (keys) => {
      const taken = createHttpServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      const port = (taken.address() as { port: number }).port;
      try {
        const r = await runApp('client', ['run', '--server', '127.0.0.1:4433', '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '127.0.0.2', '--socks', '127.0.0.1:0', '--status', `127.0.0.1:${port}`]);
        expect(r.code).toBe(69);
        expect(r.stderr).toContain(`status page (--status): 127.0.0.1:${port} is already in use; pick another port`);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      } finally {
        taken.close();
      }
    });
  });

  it('durations need a unit and --transport ws needs --ws-url: usage errors (64) that show what to write', async () => {
    await withKeys(async (keys) => {
      const common = ['run', '--server', 'vpn.example.net:4433', '--server-key', keys.serverPublic, '--key', keys.clientKey];
      const bare = await runApp('client', [...common, '--connect-timeout', '10']);
      expect(bare.code).toBe(64);
      expect(bare.stderr).toContain('connectTimeout: expected a duration with a unit, like "10s", "500ms"');
      const ws = await runApp('client', [...common, '--transport', 'ws']);
      expect(ws.code).toBe(64);
      expect(ws.stderr).toContain("--transport ws needs the server's WebSocket URL: pass --ws-url (or \"wsUrl\"), e.g. --ws-url ws://vpn.example.net:8080/mptun");
      const file = join(keys.dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ server: 'vpn.example.net:4433', handshakeTimeout: 500 }));
      const inFile = await runApp('client', ['run', '-c', file]);
      expect(inFile.code).toBe(78);
      expect(inFile.stderr).toContain(`${file}: handshakeTimeout: expected a duration with a unit`);
    });
  });

  it('status -c FILE reads the running client at the file\'s status address; status | head ends quietly', async () => {
    await withKeys(async (keys) => {
      const server = await startServerApp(keys);
      const statusPort = await freeTcpPort();
      const config = join(keys.dir, 'client.json');
      writeFileSync(config, JSON.stringify({ server: server.address, serverKey: keys.serverPublic, key: keys.clientKey, paths: ['127.0.0.2'], socks: '127.0.0.1:0', status: `127.0.0.1:${statusPort}`, logFormat: 'json' }));
      const client = startApp('client', ['run', '-c', config]);
      await client.waitForLog((l) => l['msg'] === 'status page listening');

      const once = await runApp('client', ['status', '-c', config, '--once']);
      expect(once.code).toBe(0);
      expect(once.stdout).toContain(`mptun-client status (http://127.0.0.1:${statusPort})`);
      expect(once.stdout).toContain(`server ${server.address} over udp`);

      // The live view into a reader that stops after the first lines, as `| head -3` does.
      const live = startApp('client', ['status', '-c', config]);
      await new Promise<void>((resolve) => live.child.stdout!.once('data', () => resolve()));
      live.child.stdout!.destroy();
      const { code } = await live.exited;
      expect(code).toBe(0);
      expect(live.stderr()).not.toContain('EPIPE');
      expect(live.stderr()).toBe('');
    });
  });
});
