/**
 * A client with many connections open: an event on one connection runs that connection's
 * path manager, not every one (the client ticked them all, so opening n connections cost
 * O(n²) ticks: 1,000 idle tunnels took 12 s to open through the apps). Every connection
 * still gets its second subflow, which only its path manager asks for.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PathManager } from '@mptun/path-manager';
import type { MptcpSocket } from '../src/index.js';
import { newClient, startWorld, until, type World } from './support.js';

const CONNECTIONS = 150;

describe('many connections on one client', () => {
  let world: World | null = null;
  afterEach(async () => {
    vi.restoreAllMocks();
    await world?.close();
    world = null;
  });

  it(`opening ${CONNECTIONS} connections ticks each path manager a few times, and each joins its second path`, async () => {
    world = await startWorld(['udp'], { serverEngine: { maxHalfOpen: 4096 } });
    const accepted: MptcpSocket[] = [];
    world.server.on('connection', (s) => accepted.push(s));
    const client = newClient(world, 'udp', { localAddresses: ['127.0.0.2', '127.0.0.3'] });
    const ticks = vi.spyOn(PathManager.prototype, 'tick');
    const sockets: MptcpSocket[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const s = client.connect();
      s.write('x');
      sockets.push(s);
    }
    await until(() => accepted.length === CONNECTIONS && sockets.every((s) => s.bytesAcknowledged === 1), `${CONNECTIONS} connections up and acknowledged`, 30_000);
    await until(() => sockets.every((s) => s.subflows().length === 2), 'every connection on both local addresses', 30_000);
    const perConnection = ticks.mock.calls.length / CONNECTIONS;
    console.log(`${ticks.mock.calls.length} path-manager ticks for ${CONNECTIONS} connections (${perConnection.toFixed(1)} each)`);
    // Ticking every manager on each event gave 29 per connection here, and more the more are open.
    expect(perConnection).toBeLessThan(12);
    for (const s of sockets) s.destroy();
  }, 60_000);
});
