/**
 * Issue 14 item 4: a flood of SYNs from one host's distinct source ports on a udp-plain
 * listener fills neither the plain path table (budget per source address) nor the half-open
 * table the sealed listener also needs (budget per listener and per source): an honest plain
 * host and an authorized sealed client still get in promptly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MptcpSocket } from '../src/index.js';
import { clientSyn, synFlood } from './plain-flood.js';
import { newClient, startWorld, until, type World } from './support.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 14;

describe('per-source and per-listener budgets under a udp-plain flood', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  it('1,100 SYNs from distinct ports of one host leave room for another plain host and a sealed client', async () => {
    console.log('seed', seed);
    world = await startWorld(['udp-plain', 'udp']);
    const connections: MptcpSocket[] = [];
    world.server.on('connection', (s) => connections.push(s));
    const port = world.ports['udp-plain']!;
    const syn = clientSyn(seed, port, undefined, true);
    const answered = await synFlood(['127.0.0.9'], port, syn, 1100, 500);
    const halfOpen = [...world.server.driver.endpoint.connections()].filter((c) => c.state === 'connecting').length;
    console.log(`flood from 127.0.0.9: ${answered} of 1100 SYNs answered; half-open on the server: ${halfOpen}`);
    expect(halfOpen).toBeLessThanOrEqual(64);

    // Another host on the same plain listener: its SYN (sent after the flood, so processed after it) is answered.
    const other = await synFlood(['127.0.0.10'], port, syn, 1, 3_000);
    expect(other, 'a SYN from another host on the plain listener').toBe(1);

    const started = performance.now();
    const client = newClient(world, 'udp', { localAddresses: ['127.0.0.2'] });
    const sock = client.connect();
    sock.write('hello');
    await until(() => connections.length === 1 && sock.bytesAcknowledged === 5, 'the sealed client connected');
    const ms = performance.now() - started;
    console.log(`sealed client connected and was acknowledged ${ms.toFixed(0)} ms after the flood`);
  }, 60_000);

  it('1,100 SYNs from 20 hosts fill the plain listener\'s half-open budget, not the sealed listener\'s', async () => {
    console.log('seed', seed);
    world = await startWorld(['udp-plain', 'udp'], { serverEngine: { maxHalfOpen: 1024 } });
    const connections: MptcpSocket[] = [];
    world.server.on('connection', (s) => connections.push(s));
    const port = world.ports['udp-plain']!;
    const hosts = Array.from({ length: 20 }, (_, i) => `127.0.0.${100 + i}`);
    const answered = await synFlood(hosts, port, clientSyn(seed, port, undefined, true), 1100, 500);
    const ep = world.server.driver.endpoint;
    const halfOpen = [...ep.connections()].filter((c) => c.state === 'connecting').length;
    console.log(`flood from 20 hosts: ${answered} of 1100 SYNs answered; half-open ${halfOpen}, SYNs dropped by the engine ${ep.stats.synsDropped}`);
    expect(halfOpen).toBeGreaterThanOrEqual(1000); // the plain listener's table is (nearly) full

    const started = performance.now();
    const client = newClient(world, 'udp', { localAddresses: ['127.0.0.2'] });
    const sock = client.connect();
    sock.write('hello');
    await until(() => connections.length === 1 && sock.bytesAcknowledged === 5, 'the sealed client connected');
    console.log(`sealed client connected and was acknowledged ${(performance.now() - started).toFixed(0)} ms after the flood`);
  }, 60_000);
});
