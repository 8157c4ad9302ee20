/**
 * MptcpClient.leaveServerOf (issue 17: a draining server behind a balancer): the standing
 * path a connection used is set aside for it, and the next connection leaves from a fresh
 * source port, the one thing a balancer hashing on the source can place anew.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MptcpSocket } from '../src/index.js';
import { echoText as echo, newClient, startWorld, until, type World } from './support.js';

let world: World | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

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
});
