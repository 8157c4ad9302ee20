/**
 * Issue 14 item 5: pending (unauthenticated) WebSocket upgrades are budgeted per client
 * address, so one host holding ~1,024 of them cannot lock other hosts' authorized clients out.
 * Real sockets on loopback: the hoarder on 127.0.0.9, honest clients on 127.0.0.2.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Fixture } from './fixture.js';

const fx = new Fixture();
beforeAll(() => fx.init());
afterEach(() => fx.closeAll());

/** Opens a WebSocket that never authenticates; resolves 'open' or the HTTP status it was refused with. */
function hoard(url: string, localAddress: string): Promise<'open' | number> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
  ws.on('error', () => {});
  fx.track({ close: () => ws.terminate() });
  return new Promise((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
  });
}

describe('pending WebSocket upgrades', () => {
  it('one host holding 1,100 upgrades gets its own share; 28 authorized clients from another host all get a path', async () => {
    const server = await fx.server({ handshakeTimeoutMs: 60_000 });
    const results = await Promise.all(Array.from({ length: 1100 }, () => hoard(server.url, '127.0.0.9')));
    const held = results.filter((r) => r === 'open').length;
    const refused = results.filter((r) => r === 503).length;
    console.log(`hoarder on 127.0.0.9: ${held} upgrades held, ${refused} refused (503); pending on the server: ${server.listener.counts.unauthenticated}`);
    expect(held).toBeLessThanOrEqual(32);
    expect(held + refused).toBe(1100);

    const client = fx.client();
    const started = performance.now();
    const honest = await Promise.allSettled(Array.from({ length: 28 }, () => fx.connect(client, '127.0.0.2', server.url)));
    const ok = honest.filter((r) => r.status === 'fulfilled').length;
    console.log(`honest clients on 127.0.0.2: ${ok} of 28 got a path in ${(performance.now() - started).toFixed(0)} ms`);
    expect(ok).toBe(28);
  }, 60_000);
});
