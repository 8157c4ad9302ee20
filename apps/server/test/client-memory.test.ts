/**
 * Issue 14 item 8 through the real mptun-server CLI: what one client can make the server hold.
 * - Per-client limits key on the client's key as its path session proved it, not on the
 *   address of its first path: one key from two addresses is one client, two keys behind one
 *   address are two.
 * - A tunnel whose client never reads holds at most the connection buffer (limits
 *   connectionBuffer), the engine and the relay's stream buffers together (tunnel-memory.ts):
 *   the test opens tunnels to a target that sends without end, reads nothing, and prints the
 *   server's buffered bytes (mptun_buffered_bytes, the target sockets' included) and RSS
 *   before, with the stalled tunnels, and after they close (stalled-tunnels.ts).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { socksOpen, TestResources, writeKeyFiles, type KeyFiles } from './cli-apps.js';
import { describeStalled, heldOnceSteady, heldTotal, measureStalledTunnels, MiB, openTunnel, startClient, startServer, startTarget } from './stalled-tunnels.js';
import { startEcho } from './support.js';
import { tunnelBuffers } from '../src/tunnel-memory.js';
import { defaultLimits } from '../src/config.js';

const res = new TestResources();
afterEach(() => res.release());

/** A second authorized client key, written beside the others; returns its key file. */
async function addClientKey(k: KeyFiles, name: string): Promise<string> {
  const pair = generateKeypair(await loadCrypto());
  const file = join(k.dir, `${name}.key`);
  writeFileSync(file, encodeKey(pair.privateKey) + '\n', { mode: 0o600 });
  appendFileSync(k.authorizedKeys, `${encodeKey(pair.publicKey)} ${name}\n`);
  return file;
}

describe('what one client can make mptun-server hold (issue 14 item 8)', () => {
  for (const transport of ['udp', 'ws'] as const) {
    it(`maxConnectionsPerClient counts per client key (${transport}): the same key from another address is refused, another key from the same address is not`, async () => {
      const keys = (res.keys = await writeKeyFiles());
      const keyB = await addClientKey(keys, 'client-b');
      const targetPort = await startTarget(res, false);
      const server = await startServer(res, keys, targetPort, { maxConnectionsPerClient: 2 });
      const ws = transport === 'ws' ? server.wsPort : undefined;
      const a1 = await startClient(res, keys, server.port, keys.clientKey, '127.0.0.2', ws);
      expect(await openTunnel(res, a1, targetPort), 'key A, tunnel 1').toBe(0);
      expect(await openTunnel(res, a1, targetPort), 'key A, tunnel 2').toBe(0);
      expect(await openTunnel(res, a1, targetPort), 'key A, tunnel 3: over the limit').not.toBe(0);
      // Key A again, from another address: still the same client, still at its limit.
      const a2 = await startClient(res, keys, server.port, keys.clientKey, '127.0.0.3', ws);
      expect(await openTunnel(res, a2, targetPort), 'key A from 127.0.0.3').not.toBe(0);
      // Key B from key A's first address: a client of its own.
      const b = await startClient(res, keys, server.port, keyB, '127.0.0.2', ws);
      expect(await openTunnel(res, b, targetPort), 'key B from 127.0.0.2, tunnel 1').toBe(0);
      expect(await openTunnel(res, b, targetPort), 'key B from 127.0.0.2, tunnel 2').toBe(0);
      const refusals = server.cli.output().split('\n').filter((l) => l.includes('per-client connection limit reached')).length;
      console.log(`${transport}, limit 2 per client: key A got 2 tunnels and ${refusals} refusals (one from 127.0.0.2, one from 127.0.0.3); key B from 127.0.0.2 got 2`);
      expect(refusals).toBe(2);
    }, 90_000);
  }

  it('tunnels whose client never reads: each holds at most its connection buffer, all layers together; figures before, during and after', async () => {
    const TUNNELS = 12;
    const connectionBuffer = MiB;
    const engineShare = tunnelBuffers({ connectionBufferBytes: connectionBuffer, maxBufferedBytes: 256 * 1024 }).engineBytes;
    const f = await measureStalledTunnels(res, TUNNELS, { connectionBuffer: '1MiB', maxBufferedBytes: '256KiB' });
    console.log(describeStalled(f));
    expect(f.held.open).toBe(TUNNELS);
    // Every tunnel reached its engine share (the target floods), and none held more than connectionBuffer in all.
    expect(f.held.send, 'the engine send buffers filled').toBeGreaterThan(TUNNELS * engineShare * 0.9);
    expect(f.perTunnel, 'bytes one stalled tunnel holds').toBeLessThanOrEqual(connectionBuffer);
    expect(f.after.open).toBe(0);
    expect(heldTotal(f.after)).toBe(0);
  }, 120_000);

  it('tunnels whose target never reads: each holds at most its receive buffer, which starts at 768 KiB and grows only while bytes still move toward the target', async () => {
    const TUNNELS = 6;
    const keys = (res.keys = await writeKeyFiles());
    const sinkPort = await startTarget(res, false); // accepts, never reads
    const server = await startServer(res, keys, sinkPort, {});
    const socks = await startClient(res, keys, server.port, keys.clientKey, '127.0.0.2');
    const chunk = Buffer.alloc(64 * 1024, 0x33);
    for (let i = 0; i < TUNNELS; i++) {
      const { reply, socket } = await socksOpen(socks, sinkPort);
      res.sockets.push(socket);
      socket.on('error', () => {});
      expect(reply, `tunnel ${i}`).toBe(0);
      const pump = (): void => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', pump);
      pump();
    }
    const held = await heldOnceSteady(server.metrics);
    const { receiveBufferStart: start, receiveBuffer: most } = tunnelBuffers(defaultLimits).engine;
    console.log(`${TUNNELS} tunnels uploading to a target that never reads: the server's engines hold ${(held.receive / MiB).toFixed(2)} MiB received and unread (${(held.receive / TUNNELS / 1024).toFixed(0)} KiB each, window start ${start / 1024} KiB, most ${most / 1024}), ${(heldTotal(held) / TUNNELS / MiB).toFixed(2)} MiB per tunnel in all`);
    expect(held.open).toBe(TUNNELS);
    expect(held.receive, 'the receive windows filled').toBeGreaterThan(TUNNELS * start * 0.9);
    // A window grows while the relay still writes into the target socket's kernel buffers (the
    // target's reading, as far as the server can tell): most stay at 768 KiB, one may grow.
    expect(held.receive, 'within the receive buffers').toBeLessThanOrEqual(TUNNELS * most);
    expect(heldTotal(held) / TUNNELS, 'bytes one stalled tunnel holds').toBeLessThanOrEqual(most + defaultLimits.connectionBufferBytes);
  }, 120_000);

  it('bufferBudget: tunnels that never read hold about the budget all together, and a new tunnel still gets through', async () => {
    const TUNNELS = 12;
    const budget = 4 * MiB;
    const floor = 64 * 1024; // what every connection may hold whatever the budget (core BUDGET_FLOOR)
    const keys = (res.keys = await writeKeyFiles());
    const floodPort = await startTarget(res, true);
    const echo = await startEcho();
    try {
      const server = await startServer(res, keys, [floodPort, echo.port], { connectionBuffer: '1MiB', bufferBudget: '4MiB' });
      const socks = await startClient(res, keys, server.port, keys.clientKey, '127.0.0.2');
      for (let i = 0; i < TUNNELS; i++) expect(await openTunnel(res, socks, floodPort), `tunnel ${i}`).toBe(0);
      const held = await heldOnceSteady(server.metrics);
      // A new tunnel, with the budget full: its request and reply fit in its floor.
      const { reply, socket } = await socksOpen(socks, echo.port);
      res.sockets.push(socket);
      expect(reply, 'a new tunnel with the budget full').toBe(0);
      socket.resume();
      const echoed = new Promise<string>((resolve) => {
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= 4) resolve(got);
        });
      });
      socket.write('ping');
      expect(await echoed).toBe('ping');
      const engine = held.send + held.receive;
      console.log(
        `${TUNNELS} stalled tunnels, bufferBudget 4 MiB, connectionBuffer 1 MiB: the engines hold ${(engine / MiB).toFixed(2)} MiB in all ` +
        `(send ${(held.send / MiB).toFixed(2)}, receive ${(held.receive / MiB).toFixed(2)}; up to 768 KiB each without the budget); a new tunnel echoed "ping"`,
      );
      expect(engine, 'what the stalled tunnels hold together').toBeLessThanOrEqual(budget + (TUNNELS + 1) * floor);
      expect(held.send, 'the budget filled').toBeGreaterThan(budget * 0.9);
    } finally {
      await echo.close();
    }
  }, 120_000);
});
