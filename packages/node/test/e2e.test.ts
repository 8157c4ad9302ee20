/**
 * End to end across loopback aliases: 127.0.0.2 and 127.0.0.3 act as a client's two
 * "interfaces". 100 MB each way, hash-checked, over two UDP paths, two WebSocket paths,
 * and one of each; a path removed and re-added while data flows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MptcpSocket } from '../src/index.js';
import { newClient, pattern, readAll, serveBulk, sha256, startWorld, until, writeAll, type World } from './support.js';

const SIZE = 100 * 1024 * 1024;

describe('end to end over two loopback aliases', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  async function bulk(w: World, client: ReturnType<typeof newClient>): Promise<MptcpSocket> {
    const down = pattern(22, SIZE);
    const serverSide = serveBulk(w, () => down);
    const up = pattern(11, SIZE);
    const sock = client.connect();
    const got = readAll(sock);
    writeAll(sock, up);
    const t0 = performance.now();
    expect(await got).toEqual({ bytes: SIZE, hash: sha256(down) });
    expect(await serverSide[0]).toEqual({ bytes: SIZE, hash: sha256(up) });
    const s = (performance.now() - t0) / 1000;
    console.log(`200 MB in ${s.toFixed(1)} s: ${((2 * SIZE * 8) / s / 1e6).toFixed(0)} Mbit/s both directions together`, sock.subflows().map((f) => `${f.localAddress} sent ${(f.bytesSent / 1e6).toFixed(0)} MB`));
    return sock;
  }

  it('100 MB each way over two sealed UDP paths', async () => {
    world = await startWorld(['udp']);
    const sock = await bulk(world, newClient(world, 'udp'));
    expect(sock.subflows().filter((f) => f.bytesSent > 1e6).length).toBe(2);
  }, 120_000);

  it('100 MB each way over two WebSocket paths', async () => {
    world = await startWorld(['ws']);
    await bulk(world, newClient(world, 'ws'));
  }, 120_000);

  it('100 MB each way over one UDP and one WebSocket path', async () => {
    world = await startWorld(['udp', 'ws']);
    const w = world;
    const client = newClient(w, 'udp', {
      localAddresses: [],
      paths: [
        { local: '127.0.0.2', transport: 'udp', server: { host: '127.0.0.1', port: w.ports.udp! } },
        { local: '127.0.0.3', transport: 'ws', server: { host: '127.0.0.1', port: w.ports.ws! } },
      ],
    });
    const sock = await bulk(w, client);
    expect(sock.subflows().map((f) => f.localAddress).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
  }, 120_000);

  it('a path removed and added again mid-transfer: nothing is lost', async () => {
    world = await startWorld(['udp']);
    // Large enough that 64 KiB datagrams (path MTU discovery on loopback) do not finish it
    // before the path comes back; the steps wait on bytes received, not on time.
    const size = 100_000_000;
    const down = pattern(5, size);
    const serverSide = serveBulk(world, () => down);
    const up = pattern(6, size);
    const client = newClient(world, 'udp');
    const sock = client.connect();
    let received = 0;
    sock.on('data', (d: Buffer) => (received += d.length));
    const got = readAll(sock);
    writeAll(sock, up);
    await until(() => received > size / 10, 'a tenth of the download');
    sock.removeLocalAddress('127.0.0.3');
    expect(sock.subflows().filter((f) => f.localAddress === '127.0.0.3' && f.state !== 'closed')).toEqual([]);
    await until(() => received > size / 4, 'a quarter of the download');
    expect(received, 'still mid-transfer when the path comes back').toBeLessThan(size);
    await sock.addLocalAddress('127.0.0.3');
    expect(await got).toEqual({ bytes: down.length, hash: sha256(down) });
    expect(await serverSide[0]).toEqual({ bytes: up.length, hash: sha256(up) });
  }, 60_000);
});
