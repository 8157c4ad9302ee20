/**
 * Bounded buffers through the real apps (issue 16): mptun-server, the link emulator holding
 * one UDP path to 20 Mbit/s with a 50 ms round trip, and mptun-client with a port forward to
 * a TCP sink. An upload through the forward runs into the emulated bottleneck; the client's
 * status API reports the upload bytes it holds (read from the application, not yet
 * acknowledged by the server), printed in bandwidth-delay products as the client measures
 * them (the link's rate times the path's smoothed RTT). The send buffer used to take 4 MiB
 * whatever the path (16.9 BDP here); the client's unsent limit (256 KiB, MptcpClient) leaves
 * what is in flight plus that, 3.2-3.9 BDP in the runs of 2026-12-07, and the test holds it
 * under half the send buffer. Once the upload is done the tunnel holds at most 32 KiB.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, connect, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, startLinkem, startServerApp, stopAll, withKeys } from './cli-support.js';
import { freeUdpPort } from './support.js';

const RATE_BPS = 20e6;
const ONE_WAY_MS = 25;
/** The links' bandwidth-delay product (50 ms round trip), bytes. */
const BASE_BDP = (RATE_BPS / 8) * ((2 * ONE_WAY_MS) / 1000);
const UPLOAD = 8_000_000;
const SEED = Number(process.env.MPTUN_SEED ?? 1616);

const children: ChildProcess[] = [];
let sink: Server | null = null;
afterEach(async () => {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
  sink = null;
});

/** mptun-linkem relaying `listen` to `target` over one emulated UDP link; resolves once it runs. */
function linkem(listen: string, target: string): Promise<void> {
  const args = ['--udp', `${listen}=${target}`, '--rate', '20mbit', '--delay', `${ONE_WAY_MS}ms`, '--queue', '50ms', '--seed', String(SEED), '--no-control'];
  return startLinkem(args, (child) => children.push(child));
}

/** A TCP sink on 127.0.0.1 that reads everything; `received()` counts it. */
async function startSink(): Promise<{ port: number; received(): number }> {
  let received = 0;
  sink = createServer((s) => s.on('data', (d: Buffer) => (received += d.length)));
  await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', r));
  return { port: (sink.address() as { port: number }).port, received: () => received };
}

interface Held {
  /** Everything the client holds of the upload. */
  buffered: number;
  /** The tunnel connection's send buffer: taken, not yet acknowledged by the server. */
  unacknowledged: number;
  /** The path's smoothed RTT as the client measures it (standing queue included), ms. */
  rttMs: number;
}

async function heldUpload(statusUrl: string): Promise<Held> {
  const res = await fetch(new URL('/api/status', statusUrl));
  const s = (await res.json()) as { client: { bufferedUpBytes: number; unacknowledgedUpBytes: number }; paths: Array<{ rttMs: number | null }> };
  return { buffered: s.client.bufferedUpBytes, unacknowledged: s.client.unacknowledgedUpBytes, rttMs: s.paths[0]?.rttMs ?? 0 };
}

describe('upload buffering through the real apps', () => {
  it('an upload into a 20 Mbit/s, 50 ms path: the client reports what it holds (printed beside the BDP); an idle tunnel at most 32 KiB', async () => {
    await withKeys(async (keys) => {
      console.log(`upload-buffer seed ${SEED}`);
      // Not announced: the client must reach the server only through the emulated path.
      const server = await startServerApp(keys, ['--no-announce-listen']);
      const front = await freeUdpPort();
      await linkem(`127.0.0.5:${front}`, server.address);
      const target = await startSink();
      const client = startApp('client', [
        'run', '--server', `127.0.0.5:${front}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '127.0.0.2',
        '-L', `127.0.0.1:0:127.0.0.1:${target.port}`, '--status', '127.0.0.1:0', '--log-format', 'json',
      ]);
      const forward = String((await client.waitForLog((l) => l['msg'] === 'forward listening'))['address']);
      const statusUrl = String((await client.waitForLog((l) => l['msg'] === 'status page listening'))['url']);
      await client.waitForLog((l) => l['msg'] === 'path up');

      const [host, port] = [forward.slice(0, forward.lastIndexOf(':')), Number(forward.slice(forward.lastIndexOf(':') + 1))];
      const app = connect(port, host);
      await new Promise<void>((r, j) => app.once('connect', r).once('error', j));
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      let written = 0;
      const writeAll = (async () => {
        while (written < UPLOAD) {
          const ok = app.write(chunk);
          written += chunk.length;
          if (!ok) await new Promise((r) => app.once('drain', r));
        }
      })();
      const samples: Held[] = [];
      const started = Date.now();
      while (target.received() < UPLOAD) {
        if (Date.now() - started > 60_000) throw new Error(`upload stalled: ${target.received()} of ${UPLOAD} bytes arrived`);
        samples.push(await heldUpload(statusUrl));
        await new Promise((r) => setTimeout(r, 50));
      }
      await writeAll;
      const seconds = (Date.now() - started) / 1000;
      const peak = Math.max(...samples.map((h) => h.buffered));
      const peakUnacknowledged = Math.max(...samples.map((h) => h.unacknowledged));
      await new Promise((r) => setTimeout(r, 500));
      const idle = (await heldUpload(statusUrl)).buffered;
      // The product the client measures: the link's rate times the path's RTT as it sees it
      // (its standing queue and the three processes' event-loop turns included).
      const rttMs = Math.max(...samples.map((h) => h.rttMs));
      const bdp = (RATE_BPS / 8) * (rttMs / 1000);
      app.destroy();
      console.log(
        `upload ${UPLOAD} bytes in ${seconds.toFixed(1)} s (${((UPLOAD * 8) / seconds / 1e6).toFixed(1)} Mbit/s through a 20 Mbit/s path);`,
        `client's unacknowledged upload peak ${peakUnacknowledged} bytes = ${(peakUnacknowledged / bdp).toFixed(2)} BDP at the measured RTT (${rttMs.toFixed(1)} ms, ${bdp.toFixed(0)} bytes) = ${(peakUnacknowledged / BASE_BDP).toFixed(2)} BDP at the links' 50 ms;`,
        `all it holds (with the two sockets' stream buffers) peak ${peak} bytes; idle ${idle} bytes (${samples.length} samples)`,
      );
      expect(samples.length).toBeGreaterThan(10);
      expect(peakUnacknowledged).toBeGreaterThan(0);
      // The congestion window plus the unsent limit, far from the 4 MiB send buffer.
      expect(peakUnacknowledged, 'unacknowledged upload').toBeLessThan(2 * 1024 * 1024);
      expect(idle).toBeLessThanOrEqual(32 * 1024);
    });
  }, 120_000);
});
