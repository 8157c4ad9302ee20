/**
 * Issue 14 item 9 through the real apps: mptun-client -> mptun-linkem (5% loss each way) ->
 * mptun-server, one SOCKS tunnel carrying bulk data both ways at once. Every byte must arrive
 * (SHA-256 compared each way); the test prints each direction's time and longest gap between
 * arrivals. Before the subflow fix, one direction stopped for good (issue: ≥ 40 s in 4 of 4
 * runs at 50 MB); that stall needs more volume than fits here (this test passed before the fix
 * too), so the reproduction that fails without the fix is the simulator's,
 * packages/sim/test/engine/lossy-both-ways.test.ts. This one shows the apps end to end.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freeUdpPort } from '../../client/test/support.js';
import { socksOpen, startApp, startServerCli, TestResources, writeKeyFiles } from './cli-apps.js';

const BYTES = 6_000_000;
const LOSS = '5%';
/** A stall is a wait this long for the next byte; the was ≥ 40 s, its goal ≤ 2 s. */
const MAX_GAP_MS = 2000;
const SEED = Number(process.env.MPTUN_SEED ?? 14);

const res = new TestResources();
afterEach(() => res.release());

/** A deterministic byte stream. */
function streamOf(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= length; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** One direction seen by its reader: hash, bytes, first and last arrival, longest gap. */
class Arrivals {
  private readonly hash = createHash('sha256');
  bytes = 0;
  firstAt = -1;
  lastAt = -1;
  longestGapMs = 0;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor(private readonly expected: number) {
    this.done = new Promise((r) => (this.resolve = r));
  }

  add(d: Buffer): void {
    const now = performance.now();
    if (this.firstAt < 0) this.firstAt = now;
    else this.longestGapMs = Math.max(this.longestGapMs, now - this.lastAt);
    this.lastAt = now;
    this.hash.update(d);
    this.bytes += d.length;
    if (this.bytes >= this.expected) this.resolve();
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('bulk both ways through mptun-linkem with loss (issue 14 item 9)', () => {
  it(`${BYTES / 1e6} MB each way at once, ${LOSS} loss each way: hash-exact both ways, longest gap ≤ ${MAX_GAP_MS} ms`, async () => {
    const keys = (res.keys = await writeKeyFiles());
    const up = streamOf(SEED * 2 + 1, BYTES);
    const down = streamOf(SEED * 2 + 2, BYTES);
    const upArrivals = new Arrivals(BYTES);
    const downArrivals = new Arrivals(BYTES);

    // The target: reads the upload, writes the download, both at once.
    const target = (res.server = createServer((sock) => {
      res.sockets.push(sock);
      sock.on('data', (d: Buffer) => upArrivals.add(d));
      sock.on('error', () => {});
      sock.write(down);
    }));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetPort = (target.address() as { port: number }).port;

    // --no-announce-listen: the client must not find a way around the emulator.
    const server = await startServerCli(keys, ['--allow', '127.0.0.1', '--no-announce-listen']);
    res.clis.push(server.cli);
    const front = await freeUdpPort();
    const linkem = startApp('linkem', [
      '--udp', `lossy@127.0.0.3:${front}=127.0.0.1:${server.port}`,
      '--rate', '50mbit', '--delay', '5ms', '--queue', '50ms', '--loss', LOSS, '--seed', String(SEED), '--no-control',
    ]);
    res.clis.push(linkem);
    await linkem.waitFor(/running;/);
    const client = startApp('client', [
      'run', '--server', `127.0.0.3:${front}`, '--server-key', keys.serverPublic, '--key', keys.clientKey,
      '--path', '127.0.0.2', '--socks', '127.0.0.1:0',
    ]);
    res.clis.push(client);
    const socksPort = Number((await client.waitFor(/SOCKS5 proxy listening" address=127\.0\.0\.1:(\d+)/))[1]);

    const started = performance.now();
    const { reply, socket: tunnel } = await socksOpen(socksPort, targetPort);
    res.sockets.push(tunnel);
    expect(reply, 'SOCKS reply').toBe(0);
    tunnel.on('data', (d: Buffer) => downArrivals.add(d));
    tunnel.resume();
    tunnel.write(up);
    const limit = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(
      `not done within 150 s: up ${upArrivals.bytes}/${BYTES} (longest gap ${upArrivals.longestGapMs.toFixed(0)} ms), ` +
      `down ${downArrivals.bytes}/${BYTES} (longest gap ${downArrivals.longestGapMs.toFixed(0)} ms)`,
    )), 150_000).unref());
    await Promise.race([Promise.all([upArrivals.done, downArrivals.done]), limit]);

    const secs = (a: Arrivals): string => ((a.lastAt - started) / 1000).toFixed(1);
    console.log(
      `seed ${SEED}, ${LOSS} loss each way, ${BYTES} bytes each way: ` +
      `up done in ${secs(upArrivals)} s, longest gap ${upArrivals.longestGapMs.toFixed(0)} ms; ` +
      `down done in ${secs(downArrivals)} s, longest gap ${downArrivals.longestGapMs.toFixed(0)} ms`,
    );
    expect(upArrivals.bytes).toBe(BYTES);
    expect(downArrivals.bytes).toBe(BYTES);
    expect(upArrivals.digest()).toBe(sha(up));
    expect(downArrivals.digest()).toBe(sha(down));
    expect(upArrivals.longestGapMs, 'longest wait for upload bytes').toBeLessThanOrEqual(MAX_GAP_MS);
    expect(downArrivals.longestGapMs, 'longest wait for download bytes').toBeLessThanOrEqual(MAX_GAP_MS);
  }, 200_000);
});
