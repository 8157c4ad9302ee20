/**
 * Issue 14 item 2: on a udp-plain listener a SYN's source may be spoofed, so data riding it
 * (the tunnel request) waits for the third ACK. 1,000 SYNs carrying data that never complete
 * give the application no connection at all (nothing would be dialled); an honest plain
 * client's first bytes still arrive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MptcpSocket } from '../src/index.js';
import { clientSyn, synFlood } from './plain-flood.js';
import { newClient, startWorld, until, type World } from './support.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 14;
/** 20 hosts × 50 source ports: within the per-source budgets, so every SYN is answered. */
const hosts = Array.from({ length: 20 }, (_, i) => `127.0.0.${100 + i}`);
const request = new TextEncoder().encode('CONNECT 127.0.0.1:9 and more of a tunnel request');

describe('SYN data on udp-plain waits for the handshake', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  it('1,000 SYNs with data that never complete give the server no connection; an honest one still does', async () => {
    console.log('seed', seed);
    world = await startWorld(['udp-plain']);
    const connections: MptcpSocket[] = [];
    world.server.on('connection', (s) => connections.push(s));
    const port = world.ports['udp-plain']!;
    const answered = await synFlood(hosts, port, clientSyn(seed, port, request), 1000);
    console.log(`spoofed SYNs answered with SYN/ACK: ${answered} of 1000; connections the server reported: ${connections.length}`);
    expect(answered, 'the server processed the SYNs').toBeGreaterThan(900);
    expect(connections).toHaveLength(0);

    const client = newClient(world, 'udp-plain', { localAddresses: ['127.0.0.2'] });
    const sock = client.connect();
    sock.write(Buffer.from(request));
    await until(() => connections.length === 1, 'the honest connection');
    const peer = connections[0]!;
    const got: Buffer[] = [];
    peer.on('data', (d: Buffer) => got.push(d));
    await until(() => Buffer.concat(got).length >= request.length, 'the honest request');
    expect(new Uint8Array(Buffer.concat(got))).toEqual(request);
  }, 60_000);
});
