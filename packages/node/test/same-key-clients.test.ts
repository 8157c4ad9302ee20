/**
 * Several clients of one key handshaking at once (issue 14: the WS hoarding check opens 28
 * of them together). Every client has its own timestamp clock; stamps of the same
 * millisecond were equal, and the server's replay record (one per server key) takes an equal
 * stamp only once, so all but one of a burst were refused ("key exchange failed"). The
 * clients' clocks now fill the nanoseconds below the millisecond at random.
 *
 * Whether a burst falls in one millisecond depends on the machine, so the wall clock here
 * ticks once a second (Date.now, which the transports stamp from): every client of a burst
 * then stamps the same millisecond, as on a loaded machine. A WebSocket client does not
 * retry a refused key exchange; a UDP client retries a second later.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MptcpSocket } from '../src/index.js';
import { newClient, startWorld, type World } from './support.js';

const CLIENTS = 16;

let world: World | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await world?.close();
  world = null;
});

/** null once connected, else the error's code and message. */
function outcome(s: MptcpSocket): Promise<string | null> {
  return new Promise((resolve) => {
    s.once('connect', () => resolve(null));
    s.once('error', (e: Error & { code?: string }) => resolve(`${e.code ?? 'error'}: ${e.message}`));
  });
}

describe('clients sharing one key', () => {
  for (const kind of ['ws', 'udp'] as const) {
    it(`${CLIENTS} ${kind} clients of one key connecting at once all get in`, async () => {
      world = await startWorld([kind]);
      const w = world;
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => Math.floor(realNow() / 1000) * 1000);
      const sockets = Array.from({ length: CLIENTS }, () => newClient(w, kind, { localAddresses: ['127.0.0.2'], connectTimeoutMs: 10_000 }).connect());
      const results = await Promise.all(sockets.map(outcome));
      for (const s of sockets) s.destroy();
      expect(results.filter((r) => r !== null)).toEqual([]);
    }, 30_000);
  }
});
