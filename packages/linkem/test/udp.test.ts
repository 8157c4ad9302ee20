import { describe, it, expect, afterEach } from 'vitest';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { startLinkEmulator, type LinkEmulator } from '../src/emulator.js';
import type { PathConfig } from '../src/config.js';

// Real sockets on loopback aliases: 127.0.0.2 is the path's "interface", 127.0.0.1 the server.

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

function bindUdp(host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, host, () => resolve(s));
  });
}

/** Closes a socket and waits for it to be gone. */
function tracked(socket: Socket): Socket {
  open.push({ close: () => new Promise<void>((resolve) => socket.close(() => resolve())) });
  return socket;
}

/** A UDP echo server on 127.0.0.1 that also records where each datagram came from. */
async function echoServer(): Promise<{ socket: Socket; port: number; seen: RemoteInfo[]; bytes: number[]; times: number[] }> {
  const socket = tracked(await bindUdp('127.0.0.1'));
  const seen: RemoteInfo[] = [];
  const bytes: number[] = [];
  const times: number[] = [];
  socket.on('message', (msg, rinfo) => {
    seen.push(rinfo);
    bytes.push(msg.length);
    times.push(performance.now());
    if (msg[0] !== 0x42) socket.send(msg, rinfo.port, rinfo.address); // 0x42: one-way traffic, no echo
  });
  return { socket, port: socket.address().port, seen, bytes, times };
}

async function emulate(path: Omit<PathConfig, 'listen'> & { listen?: string }, seed: number): Promise<LinkEmulator> {
  console.log(`linkem seed ${seed}`);
  const em = await startLinkEmulator({ seed, paths: [{ listen: '127.0.0.2:0', ...path }] });
  open.push(em);
  return em;
}

/** Wait for `cond`, checking every 10 ms (or at every turn of the event loop when `eager`). */
async function until(cond: () => boolean, timeoutMs: number, eager = false): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond() && performance.now() < deadline) await new Promise((r) => (eager ? setImmediate(r) : setTimeout(r, 10)));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('UDP relay', () => {
  it('carries datagrams both ways and keeps one mapping per client source address', async () => {
    const server = await echoServer();
    const em = await emulate({ name: 'p', target: `127.0.0.1:${server.port}` }, 1);
    const relay = em.paths[0]!.listen;
    expect(relay.host).toBe('127.0.0.2');
    expect(relay.port).toBeGreaterThan(0);

    const clients = [tracked(await bindUdp('127.0.0.1')), tracked(await bindUdp('127.0.0.1'))];
    const got: string[][] = [[], []];
    clients.forEach((c, i) => c.on('message', (msg, rinfo) => {
      expect(rinfo.address).toBe(relay.host); // answers come from the relay's address
      expect(rinfo.port).toBe(relay.port);
      got[i]!.push(msg.toString());
    }));
    for (let k = 0; k < 5; k++) {
      clients[0]!.send(`a${k}`, relay.port, relay.host);
      clients[1]!.send(`b${k}`, relay.port, relay.host);
    }
    await until(() => got[0]!.length === 5 && got[1]!.length === 5, 5000);
    expect(got[0]).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(got[1]).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);

    // The server saw two peers, both from the path's own address, one per client.
    const peers = new Set(server.seen.map((r) => `${r.address}:${r.port}`));
    expect(peers.size).toBe(2);
    expect(server.seen.every((r) => r.address === '127.0.0.2')).toBe(true);
    const stats = em.pathStats('p');
    expect(stats.udp!.mappings).toBe(2);
    expect(stats.up.delivered).toBe(10);
    expect(stats.down.delivered).toBe(10);
  });

  it('closes idle mappings', async () => {
    const server = await echoServer();
    const em = await emulate({ name: 'p', target: `127.0.0.1:${server.port}`, idleTimeout: '150ms' }, 2);
    const client = tracked(await bindUdp('127.0.0.1'));
    let answers = 0;
    client.on('message', () => answers++);
    client.send('x', em.paths[0]!.listen.port, '127.0.0.2');
    await until(() => answers === 1, 5000);
    expect(em.pathStats('p').udp!.mappings).toBe(1);
    await until(() => em.pathStats('p').udp!.mappings === 0, 5000);
    expect(em.pathStats('p').udp!.mappings).toBe(0);
    client.send('y', em.paths[0]!.listen.port, '127.0.0.2'); // a new mapping, and it works
    await until(() => answers === 2, 5000);
    expect(answers).toBe(2);
  });

  it('drops about the configured share over a few thousand datagrams (seeded)', async () => {
    const seed = 20240601;
    console.log(`udp loss seed ${seed}`);
    const server = await echoServer();
    const em = await emulate({ name: 'lossy', target: `127.0.0.1:${server.port}`, up: { loss: '20%' } }, seed);
    const client = tracked(await bindUdp('127.0.0.1'));
    const n = 3000;
    const payload = Buffer.alloc(200, 0x42); // one-way
    const stats = () => em.pathStats('lossy').up;
    for (let i = 0; i < n; i++) {
      client.send(payload, em.paths[0]!.listen.port, '127.0.0.2');
      // Keep at most ~40 datagrams between client and relay: the OS must not be what drops.
      if (i % 20 === 19) await until(() => stats().sent >= i - 20, 5000, true);
    }
    await until(() => stats().sent === n && server.seen.length === stats().delivered, 10_000);
    const s = stats();
    expect(s.sent).toBe(n);
    expect(server.seen.length).toBe(s.delivered);
    expect(s.dropped.loss + s.delivered).toBe(n);
    const share = s.dropped.loss / n;
    console.log(`udp loss: ${s.dropped.loss}/${n} = ${(share * 100).toFixed(1)}%`);
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.25);
  });

  it('a down/up script stops delivery, then resumes it', async () => {
    const server = await echoServer();
    const em = await emulate({ name: 'flap', target: `127.0.0.1:${server.port}`, script: '300ms down; 800ms up' }, 3);
    const client = tracked(await bindUdp('127.0.0.1'));
    const echoed = new Set<number>();
    client.on('message', (msg) => echoed.add(msg.readUInt32BE(0)));
    let seq = 0;
    // Send a numbered datagram every 10 ms until the script has run and a while after.
    while (em.pathStats('flap').script.done < 2 || seq < 150) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(seq++);
      client.send(b, em.paths[0]!.listen.port, '127.0.0.2');
      await sleep(10);
      if (seq > 2000) break;
    }
    const lastSent = seq - 1;
    await until(() => echoed.has(lastSent), 3000);
    // Longest run of datagrams that got no answer: the outage.
    let longestGap = 0;
    let gapStart = -1;
    let run = 0;
    for (let i = 0; i <= lastSent; i++) {
      if (echoed.has(i)) run = 0;
      else if (++run > longestGap) {
        longestGap = run;
        gapStart = i - run + 1;
      }
    }
    const s = em.pathStats('flap');
    console.log(`outage swallowed ${longestGap} datagrams from #${gapStart}; sent ${lastSent + 1}`);
    expect(s.state).toBe('up');
    expect(s.script.done).toBe(2);
    expect(longestGap).toBeGreaterThanOrEqual(15); // 500 ms at one every ~10 ms, generously
    expect(echoed.has(0)).toBe(true); // delivered before the outage…
    expect(echoed.has(lastSent)).toBe(true); // …and after it
    expect(s.up.dropped.outage).toBeGreaterThanOrEqual(15);
    expect(echoed.size + s.up.dropped.outage + s.down.dropped.outage).toBe(lastSent + 1);
  });

  it('rate limiting bounds throughput (generous bounds)', async () => {
    const server = await echoServer();
    const rateBps = 8e6; // 1 MB/s
    const em = await emulate({ name: 'slow', target: `127.0.0.1:${server.port}`, up: { rate: '8mbit', queue: '50ms' } }, 4);
    const client = tracked(await bindUdp('127.0.0.1'));
    const payload = Buffer.alloc(1200, 0x42);
    // Offer about 3× the rate for about a second.
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < 1000) {
      for (let k = 0; k < 30; k++) client.send(payload, em.paths[0]!.listen.port, '127.0.0.2');
      sent += 30;
      await sleep(10);
    }
    await until(() => em.pathStats('slow').up.queueBytes === 0 && em.pathStats('slow').up.inFlightBytes === 0, 3000);
    await sleep(50);
    const n = server.times.length;
    expect(n).toBeGreaterThan(10);
    const seconds = (server.times[n - 1]! - server.times[0]!) / 1000;
    const bytes = server.bytes.slice(1).reduce((a, b) => a + b, 0); // bytes after the first arrival
    const measured = (bytes * 8) / seconds;
    const s = em.pathStats('slow').up;
    console.log(`offered ${sent} × 1200 B; delivered ${n} in ${seconds.toFixed(3)} s = ${(measured / 1e6).toFixed(2)} Mbit/s; queue drops ${s.dropped.queue}`);
    expect(measured).toBeGreaterThan(rateBps * 0.6);
    expect(measured).toBeLessThan(rateBps * 1.3);
    expect(s.dropped.queue).toBeGreaterThan(0);
    expect(s.peakQueueBytes).toBeLessThanOrEqual(50_000 + 1200); // 50 ms at 8 Mbit/s, plus one packet
  });

  it('changes a link live through the API', async () => {
    const server = await echoServer();
    const em = await emulate({ name: 'live', target: `127.0.0.1:${server.port}` }, 5);
    const client = tracked(await bindUdp('127.0.0.1'));
    let answers = 0;
    client.on('message', () => answers++);
    em.down('live');
    client.send('x', em.paths[0]!.listen.port, '127.0.0.2');
    await until(() => em.pathStats('live').up.dropped.outage === 1, 3000);
    expect(answers).toBe(0);
    em.up('live');
    em.setOptions('live', { down: { delay: '30ms' } });
    expect(em.pathStats('live').down.options.delayMs).toBe(30);
    expect(em.pathStats('live').up.options.delayMs).toBe(0);
    client.send('y', em.paths[0]!.listen.port, '127.0.0.2');
    await until(() => answers === 1, 3000);
    expect(answers).toBe(1);
    expect(() => em.setOptions('nope', { rate: '1mbit' })).toThrow(/no path named "nope"/);
    expect(() => em.setOptions('live', { rate: 'fast' })).toThrow(/setOptions\(live\)\.rate: expected a rate/);
  });
});
