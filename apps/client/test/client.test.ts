/**
 * mptun-client end to end on loopback: a raw SOCKS5 client → startClient (paths from
 * 127.0.0.2 and 127.0.0.3) → a real MptcpServer with a minimal relay → a TCP echo server.
 */
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey } from '@mptun/session';
import { loadClientConfig } from '../src/config.js';
import { startClient, type RunningClient } from '../src/client-app.js';
import { createLogger } from '@mptun/tunnel-common';
import { connectRequest, connectTcp, DENIED_HOST, pattern, startEcho, startTunnelWorld, type TunnelWorld } from './support.js';

const silentLogger = createLogger({ level: 'silent' });
let world: TunnelWorld;
let echo: Awaited<ReturnType<typeof startEcho>>;
let echo6: Awaited<ReturnType<typeof startEcho>>;
let app: RunningClient;
let authApp: RunningClient;

function baseConfig() {
  return {
    server: `127.0.0.1:${world.udpPort}`,
    serverKey: encodeKey(world.serverKeys.publicKey),
    keypair: world.clientKeys,
    crypto: world.crypto,
    paths: ['127.0.0.2', '127.0.0.3'],
    connectTimeoutMs: 5000,
  };
}

beforeAll(async () => {
  world = await startTunnelWorld();
  echo = await startEcho();
  echo6 = await startEcho('::1');
  app = await startClient({ ...baseConfig(), socks: '127.0.0.1:0', forwards: [`127.0.0.1:0:127.0.0.1:${echo.port}`] }, { logger: silentLogger });
  authApp = await startClient({ ...baseConfig(), socks: '127.0.0.1:0', socksUser: 'alice', socksPass: 's3cret' }, { logger: silentLogger });
});

afterAll(async () => {
  await app?.close();
  await authApp?.close();
  await echo?.close();
  await echo6?.close();
  await world?.close();
});

/** Greeting with no-auth, then CONNECT; returns the socket after a successful reply. */
async function socksConnect(port: number, host: string, targetPort: number) {
  const c = await connectTcp(port);
  c.socket.write(Buffer.from([5, 1, 0]));
  expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0]));
  c.socket.write(connectRequest(host, targetPort));
  const reply = await c.reader.read(10);
  return { ...c, reply };
}

async function echoRoundTrip(c: Awaited<ReturnType<typeof connectTcp>>, seed: number, size: number): Promise<void> {
  console.log(`echo round trip seed=${seed} size=${size}`);
  const data = pattern(seed, size);
  c.socket.write(data);
  const back = await c.reader.read(size);
  expect(back && back.equals(data)).toBe(true);
}

describe('SOCKS5 through the tunnel', () => {
  it('CONNECT to an IPv4 target carries bytes both ways over two paths', async () => {
    const c = await socksConnect(app.socks!.port, '127.0.0.1', echo.port);
    expect(c.reply![1]).toBe(0x00);
    await echoRoundTrip(c, 11, 256 * 1024);
    // Both loopback aliases carry a path of the client.
    const paths = app.client.pathList();
    expect(paths.map((p) => p.localAddress).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(paths.every((p) => p.up)).toBe(true);
    c.socket.end();
    await c.reader.closed(); // the echo server's end comes back through the tunnel
  });

  it('CONNECT with a domain name lets the server resolve it', async () => {
    const c = await socksConnect(app.socks!.port, 'localhost', echo.port);
    expect(c.reply![1]).toBe(0x00);
    expect(world.requests.at(-1)).toEqual({ host: 'localhost', port: echo.port });
    await echoRoundTrip(c, 12, 4096);
    c.socket.destroy();
  });

  it('CONNECT with an IPv6 address', async () => {
    const c = await socksConnect(app.socks!.port, '::1', echo6.port);
    expect(c.reply![1]).toBe(0x00);
    expect(world.requests.at(-1)).toEqual({ host: '0:0:0:0:0:0:0:1', port: echo6.port });
    await echoRoundTrip(c, 13, 1000);
    c.socket.destroy();
  });

  it('bytes sent right after the request (before the reply) still arrive', async () => {
    const c = await connectTcp(app.socks!.port);
    const data = pattern(14, 3000);
    c.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), connectRequest('127.0.0.1', echo.port), data]));
    expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0]));
    expect((await c.reader.read(10))![1]).toBe(0);
    expect((await c.reader.read(data.length))!.equals(data)).toBe(true);
    c.socket.destroy();
  });

  it('a target the server refuses gets reply 0x02', async () => {
    const c = await socksConnect(app.socks!.port, DENIED_HOST, 80);
    expect(c.reply![1]).toBe(0x02);
    await c.reader.closed();
  });

  it('a closed target port gets reply 0x05 (connection refused)', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = await socksConnect(app.socks!.port, '127.0.0.1', port);
    expect(c.reply![1]).toBe(0x05);
    await c.reader.closed();
  });
});

describe('SOCKS5 handshake errors', () => {
  it('BIND and UDP ASSOCIATE get "command not supported" (0x07)', async () => {
    for (const cmd of [0x02, 0x03]) {
      const c = await connectTcp(app.socks!.port);
      c.socket.write(Buffer.from([5, 1, 0]));
      expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0]));
      c.socket.write(connectRequest('127.0.0.1', echo.port, cmd));
      const reply = await c.reader.read(10);
      expect(reply![0]).toBe(5);
      expect(reply![1]).toBe(0x07);
      await c.reader.closed();
    }
  });

  it('an unknown address type gets 0x08', async () => {
    const c = await connectTcp(app.socks!.port);
    c.socket.write(Buffer.from([5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80]));
    await c.reader.read(2);
    expect((await c.reader.read(10))![1]).toBe(0x08);
    await c.reader.closed();
  });

  it('a greeting that is not SOCKS5 is closed without a reply', async () => {
    const c = await connectTcp(app.socks!.port);
    c.socket.write(Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0]));
    expect((await c.reader.closed()).length).toBe(0);
  });

  it('a greeting with zero methods is closed without a reply', async () => {
    const c = await connectTcp(app.socks!.port);
    c.socket.write(Buffer.from([5, 0]));
    expect((await c.reader.closed()).length).toBe(0);
  });

  it('a request with a bad version byte gets a general failure', async () => {
    const c = await connectTcp(app.socks!.port);
    c.socket.write(Buffer.from([5, 1, 0]));
    await c.reader.read(2);
    c.socket.write(Buffer.from([4, 1, 0, 1, 127, 0, 0, 1, 0, 80]));
    expect((await c.reader.read(10))![1]).toBe(0x01);
    await c.reader.closed();
  });

  it('a client offering only methods we do not do gets X\'FF\'', async () => {
    const c = await connectTcp(app.socks!.port);
    c.socket.write(Buffer.from([5, 2, 0x01, 0x80]));
    expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0xff]));
    await c.reader.closed();
  });

  it('a handshake that stalls is cut off after the timeout', async () => {
    const quick = await startClient({ ...baseConfig(), socks: '127.0.0.1:0', handshakeTimeoutMs: 200 }, { logger: silentLogger });
    try {
      const c = await connectTcp(quick.socks!.port);
      c.socket.write(Buffer.from([5, 1])); // the method byte never comes
      expect((await c.reader.closed()).length).toBe(0);
    } finally {
      await quick.close();
    }
  });
});

describe('SOCKS5 username/password (RFC 1929)', () => {
  async function authed(user: string, pass: string) {
    const c = await connectTcp(authApp.socks!.port);
    c.socket.write(Buffer.from([5, 2, 0, 2]));
    expect(await c.reader.read(2)).toEqual(Buffer.from([5, 2]));
    const u = Buffer.from(user);
    const p = Buffer.from(pass);
    c.socket.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
    return { ...c, status: await c.reader.read(2) };
  }

  it('the right credentials are accepted and CONNECT works', async () => {
    const c = await authed('alice', 's3cret');
    expect(c.status).toEqual(Buffer.from([1, 0]));
    c.socket.write(connectRequest('127.0.0.1', echo.port));
    expect((await c.reader.read(10))![1]).toBe(0);
    await echoRoundTrip(c, 21, 2048);
    c.socket.destroy();
  });

  it('a wrong password is refused and the connection closed', async () => {
    const c = await authed('alice', 'wrong');
    expect(c.status![0]).toBe(1);
    expect(c.status![1]).not.toBe(0);
    await c.reader.closed();
  });

  it('a client offering only no-auth is refused when auth is required', async () => {
    const c = await connectTcp(authApp.socks!.port);
    c.socket.write(Buffer.from([5, 1, 0]));
    expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0xff]));
    await c.reader.closed();
  });
});

describe('port forwards and startup errors', () => {
  it('-L forwards a local port to the target through the tunnel', async () => {
    const f = app.forwards[0]!;
    expect(f.target).toEqual({ host: '127.0.0.1', port: echo.port });
    const c = await connectTcp(f.bind.port, f.bind.host);
    await echoRoundTrip(c, 31, 64 * 1024);
    c.socket.end();
    await c.reader.closed();
  });

  it('a forward to a refused target is reset', async () => {
    const refused = await startClient({ ...baseConfig(), socks: null, forwards: [`127.0.0.1:0:${DENIED_HOST}:80`] }, { logger: silentLogger });
    try {
      const c = await connectTcp(refused.forwards[0]!.bind.port);
      expect((await c.reader.closed()).length).toBe(0);
    } finally {
      await refused.close();
    }
  });

  it('a SOCKS port already in use gives a clear error and leaves nothing open', async () => {
    const taken = app.socks!.port;
    const err = await startClient({ ...baseConfig(), socks: `127.0.0.1:${taken}` }, { logger: silentLogger }).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('ERR_MPTUN_ADDRESS_IN_USE');
    expect(err?.message).toContain(`127.0.0.1:${taken} is already in use`);
  });

  it('a forward port already in use names the forward', async () => {
    const taken = app.forwards[0]!.bind.port;
    const err = await startClient({ ...baseConfig(), socks: null, forwards: [`127.0.0.1:${taken}:127.0.0.1:80`] }, { logger: silentLogger }).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('ERR_MPTUN_ADDRESS_IN_USE');
    expect(err?.message).toMatch(/forward -L 127\.0\.0\.1:\d+: 127\.0\.0\.1:\d+ is already in use/);
  });

  it('a config file read from disk starts a working client (key file relative to it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mptun-client-'));
    writeFileSync(join(dir, 'client.key'), encodeKey(world.clientKeys.privateKey) + '\n');
    const file = join(dir, 'client.json');
    writeFileSync(file, JSON.stringify({ server: `127.0.0.1:${world.udpPort}`, serverKey: encodeKey(world.serverKeys.publicKey), key: 'client.key', paths: ['127.0.0.2'], socks: '127.0.0.1:0' }));
    const cfg = loadClientConfig(file, { crypto: world.crypto });
    const fromFile = await startClient(cfg, { logger: silentLogger });
    try {
      const c = await socksConnect(fromFile.socks!.port, '127.0.0.1', echo.port);
      expect(c.reply![1]).toBe(0);
      await echoRoundTrip(c, 41, 1000);
      c.socket.destroy();
    } finally {
      await fromFile.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--status serves /api/status with the paths of the client', async () => {
    const withStatus = await startClient({ ...baseConfig(), socks: null, status: '127.0.0.1:0' }, { logger: silentLogger });
    try {
      expect(withStatus.statusUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
      const res = await fetch(new URL('/api/status', withStatus.statusUrl));
      const body = (await res.json()) as { paths: Array<{ localAddress: string }> };
      expect(body.paths.map((p) => p.localAddress).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    } finally {
      await withStatus.close();
    }
  });
});
