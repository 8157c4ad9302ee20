/**
 * Batched UDP sends through the kernel (udp-gso.ts): one sendmsg() with UDP_SEGMENT must
 * arrive as the datagrams it was made of, sizes and bytes intact, on a connected and on an
 * unconnected socket, with pieces from one buffer and from several. Then a sealed UDP
 * transfer through MptcpClient and MptcpServer, whose paths send that way, is hash-exact.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { udpSegmentSender } from '../src/udp-gso.js';

// Counts what the transports hand to the kernel in runs, passing every call on unchanged.
const runs = vi.hoisted(() => ({ calls: 0, datagrams: 0, sent: 0 }));
vi.mock('../src/udp-gso.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/udp-gso.js')>();
  return {
    udpSegmentSender: () => {
      const inner = real.udpSegmentSender();
      if (inner === null) return null;
      return ((fd, datagrams, size, to) => {
        const result = inner(fd, datagrams, size, to);
        runs.calls++;
        runs.datagrams += datagrams.length;
        if (result === 'sent') runs.sent += datagrams.length;
        return result;
      }) as typeof inner;
    },
  };
});
import { nativeSocket } from '../src/bind-device.js';
import { newClient, pattern, readAll, serveBulk, sha256, startWorld, until, writeAll, type World } from './support.js';

const send = udpSegmentSender();
if (send === null) console.log('udp-gso tests skipped: libc cannot be loaded through koffi here (not Linux, or koffi missing)');

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

function bound(fd?: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  return new Promise((resolve) => s.bind(fd === undefined ? { address: '127.0.0.1', port: 0 } : { fd }, () => resolve(s)));
}

/** Receives `count` datagrams on `s` (bounded: 5 s). */
function receive(s: dgram.Socket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    const t = setTimeout(() => reject(new Error(`got ${got.length} of ${count} datagrams`)), 5000);
    s.on('message', (m) => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(t);
        resolve(got);
      }
    });
  });
}

describe.skipIf(send === null)('UDP_SEGMENT sends', () => {
  it('a run of equal datagrams and a shorter last one arrive as sent (unconnected, pieces of one buffer)', async () => {
    const rx = await bound();
    const fd = nativeSocket('udp', '127.0.0.1', {});
    await bound(fd);
    const block = pattern(3, 5 * 1000 + 300);
    const run = [0, 1, 2, 3, 4].map((i) => block.subarray(i * 1000, (i + 1) * 1000)).concat([block.subarray(5000)]);
    const got = receive(rx, run.length);
    expect(send!(fd, run, 1000, { host: '127.0.0.1', port: rx.address().port })).toBe('sent');
    const datagrams = await got;
    expect(datagrams.map((d) => d.length)).toEqual([1000, 1000, 1000, 1000, 1000, 300]);
    expect(Buffer.concat(datagrams).equals(block)).toBe(true);
  });

  it('separate buffers on a connected socket', async () => {
    const rx = await bound();
    const fd = nativeSocket('udp', '127.0.0.1', {});
    const tx = await bound(fd);
    await new Promise<void>((r) => tx.connect(rx.address().port, '127.0.0.1', () => r()));
    const run = [1, 2, 3].map((seed) => pattern(seed, 1472));
    const got = receive(rx, run.length);
    expect(send!(fd, run, 1472, null)).toBe('sent');
    const datagrams = await got;
    expect(datagrams.map((d, i) => d.equals(run[i]!))).toEqual([true, true, true]);
  });
});

describe.skipIf(send === null)('sealed UDP paths that send in batches', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  it('carry 4 MB each way over two paths, hash-exact, most datagrams in runs', async () => {
    const before = runs.sent;
    world = await startWorld(['udp']);
    const client = newClient(world, 'udp');
    const down = pattern(11, 4 << 20);
    const up = pattern(12, 4 << 20);
    const serverSide = serveBulk(world, () => down);
    const s = client.connect();
    const got = readAll(s);
    writeAll(s, up);
    expect(await got).toEqual({ bytes: down.length, hash: sha256(down) });
    await until(() => serverSide.length > 0, 'the server side');
    expect(await serverSide[0]).toEqual({ bytes: up.length, hash: sha256(up) });
    // 8 MB in datagrams of at most 1472 bytes is over 5,000 of them; many leave in runs.
    const batched = runs.sent - before;
    console.log(`datagrams sent in runs: ${batched} (${runs.calls} calls in all, ${runs.datagrams} datagrams offered)`);
    expect(batched).toBeGreaterThan(1000);
  }, 30_000);
});
