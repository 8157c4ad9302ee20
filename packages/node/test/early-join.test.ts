/**
 * A new path's MP_JOIN rides its sealed handshake (issue 13: "a new interface gets a
 * subflow within one RTT of getting an address"). Every datagram goes through a relay on
 * loopback that holds it 50 ms each way (100 ms round trip). A connection runs on
 * 127.0.0.2; then 127.0.0.3 is added, and we count the round trips on the new path (turns
 * from client→server to server→client datagrams, at the relay) until the client's join
 * subflow is up. With the early join: two, the handshake carrying SYN → SYN/ACK, then the
 * third ACK → its ACK (RFC 8684 §3.2: the initiator's subflow carries data only once its
 * third ACK is acknowledged). Without: three (handshake; SYN → SYN/ACK; third ACK → ACK).
 * Times are printed beside the counts; only the counts are asserted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { EndpointEvent } from '@mptun/core';
import type { MptcpClient } from '../src/index.js';
import { newClient, startWorld, type World } from './support.js';

const ONE_WAY_MS = 50;

interface Crossing {
  at: number;
  /** The client's source address. */
  client: string;
  toServer: boolean;
  size: number;
}

/** A UDP relay that delays each datagram; one upstream socket per client source, so the server sees each path apart. */
async function delayRelay(server: { host: string; port: number }): Promise<{ port: number; log: Crossing[]; close(): Promise<void> }> {
  const front = dgram.createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  const upstream = new Map<string, dgram.Socket>();
  const log: Crossing[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ONE_WAY_MS);
    timers.add(t);
  };
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = upstream.get(key);
    if (!up) {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1');
      s.on('message', (back) => {
        log.push({ at: performance.now(), client: rinfo.address, toServer: false, size: back.length });
        later(() => front.send(back, rinfo.port, rinfo.address));
      });
      upstream.set(key, (up = s));
    }
    log.push({ at: performance.now(), client: rinfo.address, toServer: true, size: msg.length });
    const s = up;
    later(() => s.send(msg, server.port, server.host));
  });
  return {
    port: front.address().port,
    log,
    async close() {
      for (const t of timers) clearTimeout(t);
      await Promise.all([front, ...upstream.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

/** Round trips in `crossings`: each turn from datagrams toward the server to one back. */
function roundTrips(crossings: Crossing[]): number {
  let trips = 0;
  for (let i = 1; i < crossings.length; i++) if (crossings[i - 1]!.toServer && !crossings[i]!.toServer) trips++;
  return trips;
}

/** When `client`'s first join subflow from `host` to `port` comes up (its 'subflow-up' event). */
function subflowUpFrom(client: MptcpClient, host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const previous = client.driver.onEvent;
    client.driver.onEvent = (ev: EndpointEvent) => {
      previous?.(ev);
      if (ev.type !== 'subflow-up') return;
      const sf = ev.connection.subflows().find((f) => f.id === ev.subflowId);
      const link = sf ? client.driver.linkOf(sf.pathId) : undefined;
      if (sf && !sf.isInitial && link?.local.host === host && link.remote.port === port) resolve(performance.now());
    };
  });
}

describe('early join over a sealed UDP path with a 100 ms round trip', () => {
  let world: World | null = null;
  let relay: Awaited<ReturnType<typeof delayRelay>> | null = null;
  afterEach(async () => {
    await world?.close();
    await relay?.close();
    world = null;
    relay = null;
  });

  async function joinAfterAddressAdded(earlyJoin: boolean): Promise<{ ms: number; trips: number; serverMs: number }> {
    world = await startWorld(['udp']);
    relay = await delayRelay({ host: '127.0.0.1', port: world.ports.udp! });
    let serverUpAt = -1;
    const serverPrevious = world.server.driver.onEvent;
    world.server.driver.onEvent = (ev) => {
      serverPrevious?.(ev);
      if (ev.type !== 'subflow-up' || serverUpAt >= 0) return;
      const sf = ev.connection.subflows().find((f) => f.id === ev.subflowId);
      const link = sf ? world?.server.driver.linkOf(sf.pathId) : undefined;
      if (sf && !sf.isInitial && link?.remote.host === '127.0.0.1') serverUpAt = performance.now();
    };
    world.server.on('connection', (s) => s.pipe(s));
    const client = newClient(world, 'udp', { server: { host: '127.0.0.1', port: relay.port }, localAddresses: ['127.0.0.2'], earlyJoin, pmtud: false });
    await client.start();
    const socket = client.connect();
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('data', () => resolve());
      socket.write('hello');
    });
    // The server also announces its own address (ADD_ADDR), joined straight, not through the relay: only the relayed path counts.
    const upAt = subflowUpFrom(client, '127.0.0.3', relay.port);
    const opened = performance.now();
    client.addLocal('127.0.0.3');
    const at = await upAt;
    const onNewPath = relay.log.filter((c) => c.client === '127.0.0.3' && c.at <= at);
    const trips = roundTrips(onNewPath);
    console.log(`${earlyJoin ? 'early join' : 'no early join'}, new path at the relay (ms, > to server, < back, bytes): ` + relay.log.filter((c) => c.client === '127.0.0.3').map((c) => `${(c.at - opened).toFixed(1)} ${c.toServer ? '>' : '<'} ${c.size}`).join(' | '));
    const deadline = performance.now() + 2000;
    while (serverUpAt < 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    return { ms: at - opened, trips, serverMs: serverUpAt - opened };
  }

  it('the join is up at the client two round trips after the path opens, one fewer than without the early join', async () => {
    const early = await joinAfterAddressAdded(true);
    await world!.close();
    await relay!.close();
    const late = await joinAfterAddressAdded(false);
    console.log(
      `join up at the client after the address came: early ${early.ms.toFixed(1)} ms (${early.trips} round trip), ` +
        `without ${late.ms.toFixed(1)} ms (${late.trips} round trips); at the server: early ${early.serverMs.toFixed(1)} ms, without ${late.serverMs.toFixed(1)} ms; path RTT ${2 * ONE_WAY_MS} ms`,
    );
    expect(early.trips).toBe(2);
    expect(late.trips).toBe(3);
    expect(early.serverMs).toBeGreaterThan(0);
    expect(late.serverMs).toBeGreaterThan(0);
  });
});
