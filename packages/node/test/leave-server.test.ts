/**
 * MptcpClient.leaveServerOf (issue 17: a draining server behind a balancer): the standing
 * path a connection used is set aside for it, and the next connection leaves from a fresh
 * source port, the one thing a balancer hashing on the source can place anew. A fresh port
 * may be hashed to a server that is gone, where nothing answers: it is given up for another.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { MptcpSocket } from '../src/index.js';
import { echoText as echo, newClient, startWorld, until, type World } from './support.js';

let world: World | null = null;
let relay: PortRelay | null = null;
afterEach(async () => {
  relay?.close();
  relay = null;
  await world?.close();
  world = null;
});

/**
 * A UDP balancer in miniature: each client source port gets its own socket to the server,
 * except the next `swallowNew(n)` new ports, whose datagrams go nowhere (as if hashed to a
 * server that died, from which a balancer relays no ICMP).
 */
interface PortRelay {
  port: number;
  swallowNew(n: number): void;
  /** Source ports swallowed, and forwarded. */
  swallowed: number;
  forwarded: number;
  close(): void;
}

async function startRelay(serverPort: number): Promise<PortRelay> {
  const front = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  const backs = new Map<string, dgram.Socket>();
  const dead = new Set<string>();
  let toSwallow = 0;
  const r: PortRelay = {
    port: front.address().port,
    swallowed: 0,
    forwarded: 0,
    swallowNew: (n) => void (toSwallow = n),
    close: () => {
      front.close();
      for (const b of backs.values()) b.close();
    },
  };
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    if (dead.has(key)) return;
    let back = backs.get(key);
    if (!back) {
      if (toSwallow > 0) {
        toSwallow--;
        r.swallowed++;
        dead.add(key);
        return;
      }
      back = dgram.createSocket('udp4');
      back.bind(0, '127.0.0.1');
      back.on('message', (m) => front.send(m, from.port, from.address));
      backs.set(key, back);
      r.forwarded++;
    }
    back.send(msg, serverPort, '127.0.0.1');
  });
  return r;
}

const connected = (s: MptcpSocket): Promise<void> => new Promise((resolve, reject) => s.once('connect', () => resolve()).once('error', reject));

describe('MptcpClient.leaveServerOf', () => {
  it('the next connection dials from a fresh source port; the connection on the old path carries on', async () => {
    world = await startWorld(['udp']);
    world.server.on('connection', (s) => s.pipe(s));
    const client = newClient(world, 'udp', { localAddresses: ['127.0.0.2'] });
    /** The UDP source port of the path a connection's first subflow rides (the TCP ports in subflows() are the subflow's own). */
    const udpPort = (c: MptcpSocket): number => client.driver.endpoint.pathInfo(c.connection.subflows()[0]!.pathId)!.local.port;
    const first = client.connect();
    await connected(first);
    const oldPort = udpPort(first);
    const oldPath = first.connection.subflows()[0]!.pathId;

    client.leaveServerOf(first);
    const second = client.connect();
    await connected(second);
    const newPort = udpPort(second);
    expect(newPort).not.toBe(oldPort);
    expect(udpPort(first)).toBe(oldPort);
    expect(await echo(first, 'on the path set aside')).toBe('on the path set aside');
    expect(await echo(second, 'on the fresh path')).toBe('on the fresh path');

    // A third connection takes the fresh path too: it stands in for the old one now.
    const third = client.connect();
    await connected(third);
    expect(udpPort(third)).toBe(newPort);
    // The path set aside closes with its last connection.
    expect(client.driver.endpoint.pathInfo(oldPath)).toBeDefined();
    first.destroy();
    await until(() => client.driver.endpoint.pathInfo(oldPath) === undefined, 'the old path to close');
    for (const s of [second, third]) s.destroy();
  });

  it('a fresh path whose port leads nowhere is dialled again from other ports, and the next connection takes the one that answers', async () => {
    world = await startWorld(['udp']);
    world.server.on('connection', (s) => s.pipe(s));
    relay = await startRelay(world.ports.udp!);
    const client = newClient(world, 'udp', { localAddresses: ['127.0.0.2'], server: { host: '127.0.0.1', port: relay.port } });
    const first = client.connect();
    await connected(first);
    // The next two fresh ports reach nothing: without dialling again from another port, the
    // path would wait out its handshake (10 s) and the next connection its connect timeout (5 s).
    relay.swallowNew(2);
    client.leaveServerOf(first);
    const startedAt = performance.now();
    const second = client.connect();
    await connected(second);
    console.log(`the next connection was up ${(performance.now() - startedAt).toFixed(0)} ms after the path was set aside; source ports swallowed ${relay.swallowed}, forwarded ${relay.forwarded}`);
    expect(relay.swallowed).toBe(2);
    expect(await echo(second, 'through the third fresh port')).toBe('through the third fresh port');
    for (const s of [first, second]) s.destroy();
  });
});
