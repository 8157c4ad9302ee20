/**
 * Paths bound to a device (SO_BINDTODEVICE through koffi): every transport adopts the socket
 * made outside Node and carries data over it, IPv6 addresses bind too, and a device that does
 * not exist fails the path with ERR_MPTUN_BIND_DEVICE. That the bound device, not the routing
 * table, picks the interface is shown in test/interop-kernel/bind-device.test.ts (network
 * namespaces, root).
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceSockets } from '../src/bind-device.js';
import { checkDeviceBinding, deviceBindingUnavailable, MptunError, type TransportKind } from '../src/index.js';
import { newClient, pattern, readAll, serveBulk, sha256, startWorld, until, writeAll, type World } from './support.js';

const unavailable = deviceBindingUnavailable();
if (unavailable !== null) console.log(`bind-device tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('paths bound to a device', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  for (const kind of ['udp', 'udp-plain', 'ws', 'wss'] as TransportKind[]) {
    it(`${kind}: two paths bound to lo carry 1 MB each way, hash-exact`, async () => {
      world = await startWorld([kind]);
      const client = newClient(world, kind, { devices: { '127.0.0.2': 'lo', '127.0.0.3': 'lo' } });
      const down = pattern(7, 1 << 20);
      const up = pattern(8, 1 << 20);
      const serverSide = serveBulk(world, () => down);
      const sock = client.connect();
      const got = readAll(sock);
      writeAll(sock, up, 16 * 1024);
      expect(await got).toEqual({ bytes: down.length, hash: sha256(down) });
      await until(() => serverSide.length > 0, 'the server side');
      expect(await serverSide[0]).toEqual({ bytes: up.length, hash: sha256(up) });
      const locals = sock.subflows().map((f) => f.localAddress);
      expect(locals).toContain('127.0.0.2');
    }, 60_000);
  }

  for (const kind of ['udp', 'ws'] as TransportKind[]) {
    it(`${kind}: a device that does not exist fails the path with ERR_MPTUN_BIND_DEVICE`, async () => {
      world = await startWorld([kind]);
      const client = newClient(world, kind, { localAddresses: ['127.0.0.2'], devices: { '127.0.0.2': 'nosuchdev0' } });
      const errors: unknown[] = [];
      client.on('path-error', (p) => errors.push(p.error));
      void client.start(); // opens the standing paths
      await until(() => errors.length > 0, 'a path error');
      const err = errors[0] as Error & { cause?: unknown };
      expect(err.message).toMatch(/nosuchdev0.*No such device/);
      expect(err.cause).toBeInstanceOf(MptunError);
      expect((err.cause as MptunError).code).toBe('ERR_MPTUN_BIND_DEVICE');
    }, 30_000);
  }

  it('an IPv6 address binds on its device, and a name too long for an interface is refused', async () => {
    const make = deviceSockets();
    const socket = dgram.createSocket('udp6');
    await new Promise<void>((resolve) => socket.bind({ fd: make('udp', '::1', 'lo') }, resolve));
    expect(socket.address().address).toBe('::1');
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    expect(() => make('tcp', '127.0.0.1', 'x'.repeat(16))).toThrow(MptunError);
    expect(() => make('tcp', 'localhost', 'lo')).toThrow(/not an IP address/);
  });

  it('checkDeviceBinding: lo binds; a missing device throws ERR_MPTUN_BIND_DEVICE naming it', () => {
    expect(() => checkDeviceBinding('127.0.0.1', 'lo')).not.toThrow();
    let thrown: unknown;
    try {
      checkDeviceBinding('127.0.0.1', 'nosuchdev0');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MptunError);
    expect((thrown as MptunError).code).toBe('ERR_MPTUN_BIND_DEVICE');
    expect((thrown as MptunError).message).toMatch(/device nosuchdev0.*No such device \(errno 19\)/);
  });
});
