/**
 * `pathServers` (programmatic only): each listed path reaches the server at its own address,
 * as the demo needs when every path goes through its own link-emulator relay.
 */
import { createLogger } from '@mptun/tunnel-common';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { describe, expect, it } from 'vitest';
import { pathServerSpecs, startClient } from '../src/client-app.js';
import { loadClientConfig } from '../src/config.js';
import { clientTestBed, connectRequest, connectTcp, freeUdpPort, pattern, startEcho, startTunnelWorld } from './support.js';

const silent = createLogger({ level: 'silent' });

describe('pathServerSpecs', () => {
  it('gives each listed path its own server and keeps backups backups', () => {
    const specs = pathServerSpecs({ '127.0.0.2': '127.0.0.1:4000', '127.0.0.4': '[::1]:4001' }, ['127.0.0.2', '127.0.0.3'], ['127.0.0.4']);
    expect(specs).toEqual([
      { local: '127.0.0.2', server: { host: '127.0.0.1', port: 4000 } },
      { local: '127.0.0.4', server: { host: '::1', port: 4001 }, backup: true },
    ]);
    expect(pathServerSpecs(undefined, ['127.0.0.2'], [])).toEqual([]);
  });

  it('refuses a key that names no configured path, and a bad address', () => {
    expect(() => pathServerSpecs({ '127.0.0.9': '127.0.0.1:4000' }, ['127.0.0.2'], [])).toThrow(/"127\.0\.0\.9" is not one of the configured paths/);
    expect(() => pathServerSpecs({ '127.0.0.2': 'nowhere' }, ['127.0.0.2'], [])).toThrow(/expected host:port/);
  });

  it('passes through loadClientConfig like the other programmatic options', () => {
    const c = loadClientConfig(undefined, { server: '127.0.0.1:1', paths: ['127.0.0.2'], pathServers: { '127.0.0.2': '127.0.0.1:2' } });
    expect(c.pathServers).toEqual({ '127.0.0.2': '127.0.0.1:2' });
  });
});

describe('startClient with pathServers', () => {
  const bed = clientTestBed();

  it('opens every path to its own server even when `server` answers nothing', async () => {
    const world = (bed.world = await startTunnelWorld());
    const echo = (bed.echo = await startEcho());
    const real = `127.0.0.1:${world.udpPort}`;
    const app = (bed.app = await startClient(
      {
        server: `127.0.0.1:${await freeUdpPort()}`,
        serverKey: encodeKey(world.serverKeys.publicKey),
        keypair: world.clientKeys,
        crypto: world.crypto,
        paths: ['127.0.0.2', '127.0.0.3'],
        pathServers: { '127.0.0.2': real, '127.0.0.3': real },
        socks: '127.0.0.1:0',
        connectTimeoutMs: 5000,
      },
      { logger: silent },
    ));
    const c = await connectTcp(app.socks!.port);
    c.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), connectRequest('127.0.0.1', echo.port)]));
    expect(await c.reader.read(2)).toEqual(Buffer.from([5, 0]));
    expect((await c.reader.read(10))?.[1]).toBe(0);
    const data = pattern(7, 50_000);
    c.socket.write(data);
    expect(await c.reader.read(data.length)).toEqual(data);
    // Both paths came up against the real server, and the connection joined over both.
    const sock = world.server.connections()[0]!;
    for (let i = 0; i < 200 && sock.subflows().filter((f) => f.state === 'established').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(new Set(sock.subflows().filter((f) => f.state === 'established').map((f) => f.remoteAddress))).toEqual(new Set(['127.0.0.2', '127.0.0.3']));
    expect(app.client.pathList().map((p) => [p.localAddress, p.up])).toEqual([
      ['127.0.0.2', true],
      ['127.0.0.3', true],
    ]);
    c.socket.destroy();
  });

  it('refuses pathServers with transport auto (the race picks each path\'s server itself)', async () => {
    const crypto = await loadCrypto();
    const keys = generateKeypair(crypto);
    await expect(
      startClient({ server: '127.0.0.1:1', serverKey: encodeKey(keys.publicKey), keypair: keys, crypto, transport: 'auto', pathServers: { '127.0.0.2': '127.0.0.1:2' } }, { logger: silent }),
    ).rejects.toThrow(/pathServers cannot be combined with transport "auto"/);
  });
});
