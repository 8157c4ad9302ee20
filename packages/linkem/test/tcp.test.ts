import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { SeededRandom } from '@mptun/core';
import { startLinkEmulator, type LinkEmulator } from '../src/emulator.js';
import type { PathConfig } from '../src/config.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** A TCP server on 127.0.0.1 whose sockets are all destroyed when the test ends. */
async function tcpServer(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  return { server, port: a.port };
}

/** Echoes everything and ends when the client ends. */
const echo = (s: Socket): void => {
  s.pipe(s);
};

async function emulate(path: Omit<PathConfig, 'listen' | 'protocol'>, seed = 1): Promise<LinkEmulator> {
  console.log(`linkem seed ${seed}`);
  const em = await startLinkEmulator({ seed, paths: [{ protocol: 'tcp', listen: '127.0.0.2:0', ...path }] });
  open.push(em);
  return em;
}

function dial(em: LinkEmulator): Promise<Socket> {
  const { host, port } = em.paths[0]!.listen;
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
    open.push({ close: () => s.destroy() });
  });
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('TCP relay', () => {
  it('carries a byte stream intact both ways through rate, delay and jitter, FIN included', async () => {
    const seed = 77;
    console.log(`tcp stream seed ${seed}`);
    const peers: string[] = [];
    const { port } = await tcpServer((s) => {
      peers.push(s.remoteAddress ?? '');
      echo(s);
    });
    const em = await emulate({ name: 'ws', target: `127.0.0.1:${port}`, rate: '80mbit', delay: '5ms', jitter: '3ms' }, seed);
    const data = new Uint8Array(1_500_000);
    new SeededRandom(seed).fill(data);
    const client = await dial(em);
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve) => client.on('end', resolve));
    // Write in uneven pieces, then half-close: the FIN must arrive after the last byte.
    for (let at = 0; at < data.length; at += 70_001) client.write(data.subarray(at, at + 70_001));
    client.end();
    await ended;
    const back = Buffer.concat(chunks);
    expect(back.length).toBe(data.length);
    expect(sha(back)).toBe(sha(data));
    const s = em.pathStats('ws');
    expect(s.up.bytesDelivered).toBe(data.length);
    expect(s.down.bytesDelivered).toBe(data.length);
    expect(s.tcp!.accepted).toBe(1);
    expect(peers).toEqual(['127.0.0.2']); // the target sees the path's own address
    await until(() => em.pathStats('ws').tcp!.connections === 0, 3000);
    expect(em.pathStats('ws').tcp!.connections).toBe(0);
  });

  it('stalls the stream while down and lets it flow on, intact, when back up', async () => {
    const { port } = await tcpServer(echo);
    const em = await emulate({ name: 'ws', target: `127.0.0.1:${port}` });
    const client = await dial(em);
    let received = '';
    client.setEncoding('utf8');
    client.on('data', (c: string) => (received += c));
    client.write('before;');
    await until(() => received === 'before;', 3000);
    expect(received).toBe('before;');

    em.down('ws');
    client.write('during;');
    await until(() => em.pathStats('ws').up.queueBytes > 0, 3000);
    await sleep(200);
    expect(received).toBe('before;'); // nothing moves while down
    expect(em.pathStats('ws').up.queueBytes).toBe('during;'.length);
    expect(client.destroyed).toBe(false);

    em.up('ws');
    client.write('after');
    await until(() => received.endsWith('after'), 3000);
    expect(received).toBe('before;during;after');
    expect(Object.values(em.pathStats('ws').up.dropped).every((n) => n === 0)).toBe(true);
  });

  it('with resetOnDown, an outage resets connections and refuses new ones until up', async () => {
    const { port } = await tcpServer(echo);
    const em = await emulate({ name: 'ws', target: `127.0.0.1:${port}`, resetOnDown: true });
    const client = await dial(em);
    client.on('error', () => {});
    const closed = new Promise<boolean>((resolve) => client.on('close', resolve));
    client.write('hello');
    await until(() => em.pathStats('ws').up.bytesDelivered === 5, 3000);

    em.down('ws');
    expect(await closed).toBe(true); // closed with an error: reset
    expect(em.pathStats('ws').tcp!.resetByOutage).toBe(1);

    const refused = await new Promise<string>((resolve) => {
      const { host, port: p } = em.paths[0]!.listen;
      const s = connect({ host, port: p });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.on('close', () => resolve('closed'));
      s.on('data', () => resolve('data?'));
      open.push({ close: () => s.destroy() });
    });
    expect(['ECONNRESET', 'EPIPE', 'closed']).toContain(refused);
    expect(em.pathStats('ws').tcp!.refused).toBe(1);

    em.up('ws');
    const again = await dial(em);
    let back = '';
    again.setEncoding('utf8');
    again.on('data', (c: string) => (back += c));
    again.write('again');
    await until(() => back === 'again', 3000);
    expect(back).toBe('again');
  });

  it('resets the client when the target refuses the connection', async () => {
    const { server, port } = await tcpServer(() => {});
    await new Promise<void>((r) => server.close(() => r())); // nothing listens there now
    const em = await emulate({ name: 'ws', target: `127.0.0.1:${port}` });
    const client = await dial(em);
    const closed = new Promise<boolean>((resolve) => client.on('close', resolve));
    client.on('error', () => {});
    expect(await closed).toBe(true); // closed by an error (the reset)
    await until(() => em.pathStats('ws').tcp!.connections === 0, 3000);
    expect(em.pathStats('ws').tcp).toMatchObject({ accepted: 1, failed: 1, connections: 0 });
  });

  it('rate limiting bounds throughput, and backpressure bounds the queue', async () => {
    let sinkBytes = 0;
    const arrivals: [number, number][] = [];
    const { port } = await tcpServer((s) => {
      s.on('data', (c: Buffer) => {
        sinkBytes += c.length;
        arrivals.push([performance.now(), sinkBytes]);
      });
    });
    const rateBps = 16e6; // 2 MB/s
    const em = await emulate({ name: 'ws', target: `127.0.0.1:${port}`, up: { rate: '16mbit', queue: '50ms' } });
    const client = await dial(em);
    const total = 2_000_000;
    const block = new Uint8Array(64 * 1024);
    let written = 0;
    // Write as fast as the socket takes it (respecting its own backpressure).
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (written < total) {
          written += block.length;
          if (!client.write(block)) return void client.once('drain', pump);
        }
        resolve();
      };
      pump();
    });
    await until(() => sinkBytes >= written, 10_000);
    expect(sinkBytes).toBe(written);
    // Throughput between the first and the last arrival (the first read is excluded).
    const [t0, b0] = arrivals[0]!;
    const [t1, b1] = arrivals[arrivals.length - 1]!;
    const measured = ((b1 - b0) * 8) / ((t1 - t0) / 1000);
    const s = em.pathStats('ws').up;
    console.log(`tcp: ${written} B at ${(measured / 1e6).toFixed(2)} Mbit/s; peak queue ${s.peakQueueBytes} B`);
    expect(measured).toBeGreaterThan(rateBps * 0.6);
    expect(measured).toBeLessThan(rateBps * 1.3);
    // 50 ms at 16 Mbit/s is 100 kB; the relay stops reading a little above its high-water
    // mark, so the queue stays near it instead of swallowing the whole transfer.
    expect(s.peakQueueBytes).toBeLessThan(100_000 + 2 * 65_536);
  });
});
