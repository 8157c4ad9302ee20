/**
 * bridge(): the apps' two-way copy, between two real TCP connections on 127.0.0.1 (the
 * MPTCP socket is a Duplex like them). Through the real server and client it is exercised by
 * every relay and forward test; here its edges: half-close, backpressure, and one side failing.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bridge, type BridgeOutcome } from '../src/bridge.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** Two connected TCP sockets on 127.0.0.1, both allowing half-open: [outer, inner]. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const outer = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const inner = await accepted;
  sockets.push(outer, inner);
  return [outer, inner];
}

const collect = (s: Socket): Promise<Buffer> =>
  new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
  });

/** client ⇄ [bridge] ⇄ target: the test drives `client` and `target`. */
async function rig(): Promise<{ client: Socket; target: Socket; outcome: Promise<BridgeOutcome>; counted: { up: number; down: number } }> {
  const [client, clientSide] = await socketPair();
  const [targetSide, target] = await socketPair();
  const counted = { up: 0, down: 0 };
  const outcome = bridge(
    { stream: clientSide, name: 'client', count: (n) => (counted.up += n) },
    { stream: targetSide, name: 'target', count: (n) => (counted.down += n) },
  );
  return { client, target, outcome, counted };
}

describe('bridge', () => {
  it('copies both ways; one side ending ends only that direction, and the other still flows until it ends too', async () => {
    const { client, target, outcome, counted } = await rig();
    const atTarget = collect(target);
    const atClient = collect(client);
    const up = Buffer.alloc(3 * 1024 * 1024, 1);
    client.end(up);
    expect((await atTarget).equals(up)).toBe(true);
    // The client's side is half-closed; the target still answers, then ends.
    const down = Buffer.alloc(2 * 1024 * 1024, 2);
    target.end(down);
    expect((await atClient).equals(down)).toBe(true);
    expect(await outcome).toEqual({ failure: null, firstEnded: 'client' });
    expect(counted).toEqual({ up: up.length, down: down.length });
  });

  it('a side whose end was read before the bridge (the client\'s early data) still ends the other\'s writing', async () => {
    const [client, clientSide] = await socketPair();
    const [targetSide, target] = await socketPair();
    // As readEarlyData does: the first bytes and the FIN are read while the tunnel opens.
    const early: Buffer[] = [];
    clientSide.on('data', (d: Buffer) => early.push(d));
    const endRead = new Promise<void>((r) => clientSide.once('end', () => r()));
    client.end('a short upload');
    await endRead;
    clientSide.removeAllListeners('data');
    expect(clientSide.readableEnded).toBe(true);
    targetSide.write(Buffer.concat(early));
    const atTarget = collect(target);
    const outcome = bridge({ stream: clientSide, name: 'client' }, { stream: targetSide, name: 'target' });
    // Bounded: without the end passed on, the target would wait for more forever.
    let timer: NodeJS.Timeout | undefined;
    const got = await Promise.race([atTarget, new Promise<null>((r) => (timer = setTimeout(() => r(null), 5000)))]);
    clearTimeout(timer);
    expect(got?.toString()).toBe('a short upload');
    target.end('answer');
    const atClient = await collect(client);
    expect(atClient.toString()).toBe('answer');
    expect(await outcome).toEqual({ failure: null, firstEnded: 'client' });
  });

  it('a side that does not read pauses the other: what waits stays near the streams\' marks', async () => {
    const { client, target } = await rig();
    target.pause(); // never reads
    const chunk = Buffer.alloc(64 * 1024, 3);
    let written = 0;
    // Write until the client's own socket reports backpressure for a while; bounded in count.
    for (let i = 0; i < 2000 && client.write(chunk); i++) written += chunk.length;
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 2000 && client.write(chunk); i++) written += chunk.length;
    console.log(`the client wrote ${(written / 1024 / 1024).toFixed(1)} MiB before its socket reported backpressure, with the target not reading`);
    // Without the pause, the bridge would read everything and buffer it all in memory; with it,
    // the kernel's socket buffers and the streams' marks hold what waits.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('one side failing destroys the other, and the failure names the direction', async () => {
    const { client, target, outcome } = await rig();
    // The client sees its connection end (the bridge destroyed its side: a FIN; the client
    // allows half-open, so 'end' rather than 'close').
    const clientEnded = new Promise((r) => client.once('end', r));
    client.on('error', () => {});
    client.resume();
    target.resetAndDestroy(); // an RST reaches the bridge's target side
    await clientEnded;
    const o = await outcome;
    expect(o.failure).toMatch(/^target to client: (ECONNRESET|ERR_STREAM_PREMATURE_CLOSE)$/);
  });
});
