/**
 * DatagramBatcher: a turn's datagrams leave in runs (equal sizes, the last may be shorter,
 * one destination) through the batch sender, in order; whatever the batch sender does not
 * take goes through node:dgram, in order too. The sender here is a recording fake, the
 * socket a real one on loopback whose receiver checks the order.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatagramBatchSend } from '../src/udp-batch.js';
import { DatagramBatcher } from '../src/udp-batch.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

const datagram = (tag: number, size: number): Uint8Array => new Uint8Array(size).fill(tag);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Tags of datagrams `rx` receives until `count` (bounded: 2 s). */
function tags(rx: dgram.Socket, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const got: number[] = [];
    const t = setTimeout(() => reject(new Error(`got ${got.length} of ${count}`)), 2000);
    rx.on('message', (m) => {
      got.push(m[0]!);
      if (got.length === count) {
        clearTimeout(t);
        resolve(got);
      }
    });
  });
}

describe('DatagramBatcher', () => {
  it('groups a turn into runs: equal sizes with a shorter last, one destination, in order', async () => {
    const tx = await socket();
    const runs: Array<{ tags: number[]; size: number; port: number | undefined }> = [];
    const fake: DatagramBatchSend = (_fd, ds, size, to) => {
      runs.push({ tags: ds.map((d) => d[0]!), size, port: to?.port });
      return 'sent';
    };
    const b = new DatagramBatcher(tx, 99, fake, false);
    for (const [tag, size, port] of [[1, 100, 7], [2, 100, 7], [3, 40, 7], [4, 100, 7], [5, 100, 8], [6, 100, 8], [7, 200, 8], [8, 200, 8]] as const) b.send(datagram(tag, size), port, '127.0.0.1');
    expect(runs).toEqual([]); // nothing before the turn ends
    expect(b.queuedBytes).toBe(0); // the batch is not node:dgram's queue
    await turn();
    // 4 alone is a run of one: node:dgram sends it (to port 7, where nothing listens).
    expect(runs).toEqual([
      { tags: [1, 2, 3], size: 100, port: 7 },
      { tags: [5, 6], size: 100, port: 8 },
      { tags: [7, 8], size: 200, port: 8 },
    ]);
    expect(b.queuedBytes).toBe(tx.getSendQueueSize());
  });

  it('what the batch sender refuses goes through node:dgram in order; "unsupported" turns batching off', async () => {
    const rx = await socket();
    const tx = await socket();
    const port = rx.address().port;
    const answers: Array<ReturnType<DatagramBatchSend>> = ['again', 'failed', 'unsupported'];
    let calls = 0;
    const fake: DatagramBatchSend = () => {
      calls++;
      return answers.shift() ?? 'sent';
    };
    const b = new DatagramBatcher(tx, 99, fake, false);
    const got = tags(rx, 9);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3; i++) if (round < 3) b.send(datagram(round * 3 + i + 1, 64), port, '127.0.0.1');
      await turn();
    }
    expect(await got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(calls).toBe(3); // after 'unsupported', no more calls
  });

  it('without an fd it sends at once through node:dgram; flush() sends what waits before a close', async () => {
    const rx = await socket();
    const tx = await socket();
    const port = rx.address().port;
    let calls = 0;
    const fake: DatagramBatchSend = () => (calls++, 'sent');
    const direct = new DatagramBatcher(tx, undefined, fake, false);
    const got = tags(rx, 1);
    direct.send(datagram(1, 10), port, '127.0.0.1');
    expect(await got).toEqual([1]);
    expect(calls).toBe(0);

    const batched = new DatagramBatcher(tx, 99, fake, false);
    batched.send(datagram(2, 10), port, '127.0.0.1');
    batched.send(datagram(3, 10), port, '127.0.0.1');
    batched.flush();
    expect(calls).toBe(1);
    batched.send(datagram(4, 10), port, '127.0.0.1');
    tx.close();
    sockets.splice(sockets.indexOf(tx), 1);
    batched.flush(); // the socket is closed: the datagram is lost, nothing throws
    await turn();
  });

  it('a turn that sends over 64 KiB hands the batch over at once, so little waits in user space', async () => {
    const rx = await socket();
    const tx = await socket();
    const port = rx.address().port;
    const sizes: number[] = [];
    const fake: DatagramBatchSend = (_fd, ds) => (sizes.push(ds.length), 'sent');
    const b = new DatagramBatcher(tx, 99, fake, false);
    for (let i = 0; i < 46; i++) b.send(datagram(i, 1400), port, '127.0.0.1');
    expect(sizes).toEqual([]); // 64,400 bytes wait for the turn's end
    b.send(datagram(46, 1400), port, '127.0.0.1');
    // 65,800 bytes: over 64 KiB, so they left at once: a run of 46 (65,000 bytes at most), then one alone through node:dgram.
    expect(sizes).toEqual([46]);
    const got = tags(rx, 1); // 46, through node:dgram; the runs went to the fake
    b.send(datagram(47, 1400), port, '127.0.0.1');
    b.send(datagram(48, 1400), port, '127.0.0.1');
    await turn();
    expect(sizes).toEqual([46, 2]);
    expect(await got).toEqual([46]);
  });
});
