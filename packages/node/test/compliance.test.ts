/**
 * One compliance suite run against every transport: sealed UDP, plain UDP (tcp-in-udp),
 * WebSocket and WebSocket over TLS. Everything runs on loopback aliases.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeypair } from '@mptun/session';
import { MptcpClient, type MptcpSocket, type TransportKind } from '../src/index.js';
import { newClient, pattern, readAll, serveBulk, sha256, startWorld, writeAll, type World } from './support.js';

const kinds: TransportKind[] = ['udp', 'udp-plain', 'ws', 'wss'];

for (const kind of kinds) {
  describe(`compliance: ${kind}`, () => {
    let world: World | null = null;
    afterEach(async () => {
      await world?.close();
      world = null;
    });

    it('carries 4 MB each way at once, byte-exact, and closes gracefully', async () => {
      world = await startWorld([kind]);
      const down = pattern(2, 4_000_000);
      const serverSide = serveBulk(world, () => down);
      const up = pattern(1, 4_000_000);
      const sock = newClient(world, kind).connect();
      const closed = new Promise((r) => sock.once('close', r));
      const got = readAll(sock);
      writeAll(sock, up);
      const mine = await got;
      expect(mine).toEqual({ bytes: down.length, hash: sha256(down) });
      expect(await serverSide[0]).toEqual({ bytes: up.length, hash: sha256(up) });
      await closed;
      expect(sock.errored).toBeNull();
    });

    it('the first bytes ride the SYN and reach the server with the connection (0-RTT)', async () => {
      world = await startWorld([kind]);
      const first = Buffer.from('CONNECT example.test:443\r\n');
      const seen = new Promise<Buffer>((resolve) => {
        world!.server.on('connection', (s: MptcpSocket) => {
          s.on('error', () => {}); // the client resets it below, perhaps before its third ACK
          s.once('data', (d: Buffer) => resolve(d));
        });
      });
      const sock = newClient(world, kind).connect({ data: first });
      expect((await seen).subarray(0, first.length).toString()).toBe(first.toString());
      sock.destroy();
    });

    it('RFC 6897 basic API: connection id, subflows, first-subflow addresses', async () => {
      world = await startWorld([kind]);
      world.server.on('connection', (s: MptcpSocket) => s.resume());
      const client = newClient(world, kind);
      const sock = client.connect();
      await new Promise((r) => sock.once('connect', r));
      for (let i = 0; i < 100 && sock.subflows().filter((f) => f.state === 'established').length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const subflows = sock.subflows().filter((f) => f.state === 'established');
      expect(subflows.map((f) => f.localAddress).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
      expect(typeof sock.connectionId).toBe('number');
      expect(sock.remoteAddress).toBe('127.0.0.1');
      expect(['127.0.0.2', '127.0.0.3']).toContain(sock.localAddress);
      expect(sock.multipath).toBe(true);
      sock.destroy();
    });

    it('a client with the wrong server key gets no path and the server keeps nothing', async () => {
      world = await startWorld([kind]);
      if (kind === 'udp-plain') return; // plain mode has no keys to get wrong
      const wrong = generateKeypair(world.crypto);
      const client = newClient(world, kind, { serverPublicKey: wrong.publicKey, connectTimeoutMs: 1500 });
      const sock = client.connect();
      const err = await new Promise<Error & { code?: string }>((resolve) => sock.once('error', resolve));
      expect(err.code).toBe('ERR_MPTUN_NO_PATH');
      expect(world.server.connectionCount).toBe(0);
      expect(world.server.driver.connectionCount).toBe(0);
    });

    it('the server going away mid-transfer ends the client with an error, not a hang', async () => {
      world = await startWorld([kind]);
      world.server.on('connection', (s: MptcpSocket) => s.resume());
      const client = newClient(world, kind);
      const sock = client.connect();
      sock.on('data', () => {});
      const ended = new Promise<string>((resolve) => {
        sock.once('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
        sock.once('close', () => resolve('closed'));
      });
      writeAll(sock, pattern(3, 50_000_000));
      await new Promise((r) => setTimeout(r, 200));
      await world.server.close();
      const outcome = await ended;
      expect(['ERR_MPTUN_RESET', 'ERR_MPTUN_TIMEOUT', 'ERR_MPTUN_NO_PATH']).toContain(outcome);
    }, 60_000);
  });
}

describe('client lifecycle', () => {
  it('close() releases every socket and timer (the test process stays clean)', async () => {
    const world = await startWorld(['udp']);
    world.server.on('connection', (s: MptcpSocket) => s.resume());
    const client = newClient(world, 'udp');
    const socks = [client.connect(), client.connect(), client.connect()];
    await Promise.all(socks.map((s) => new Promise((r) => s.once('connect', r))));
    await client.close();
    await world.close();
    expect(socks.every((s) => s.destroyed)).toBe(true);
    expect(client.driver.connectionCount).toBe(0);
    void MptcpClient;
  });
});
