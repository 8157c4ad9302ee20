/**
 * Data riding a SYN on a path whose peer is not authenticated (plain tcp-in-udp): the
 * application hears of the connection, and reads its first bytes, only after the third ACK,
 * so a spoofed SYN with a tunnel request makes the server act on nothing. On an authenticated
 * path the first bytes are readable at once (0-RTT).
 */
import { describe, expect, it } from 'vitest';
import { emitSegment, parseSegment, SeededRandom, TcpFlag, type EndpointEvent } from '@mptun/core';
import { bareClientServer, bareEndpoint as endpoint, clientAddress as client, drainEvents as drain, serverAddress as server, shuttle } from '../support/bare-endpoints.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 14;
const request = new TextEncoder().encode('CONNECT example.test:80');

/** The MP_CAPABLE SYN an honest client sends with `request` riding it. */
function capturedSyn(random: SeededRandom): Uint8Array {
  const c = endpoint(random);
  const path = c.openPath(client, server);
  c.connect(0, { path, data: request });
  const t = c.pollTransmit(0);
  if (!t) throw new Error('the client sent no SYN');
  return t.bytes;
}

/** Feeds `count` copies of the SYN from distinct (spoofed) sources; returns the server's events and replies. */
function spoof(authenticated: boolean, count: number): { events: EndpointEvent[]; replies: Uint8Array[] } {
  const random = new SeededRandom(seed);
  const syn = parseSegment(capturedSyn(random));
  expect(syn.payload.length).toBe(request.length);
  const s = endpoint(random);
  s.listen();
  const replies: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    // Each from its own (spoofed) address, so no per-source budget stops them first.
    const path = s.openPath(server, { host: `10.0.${i >> 8}.${i & 255}`, port: client.port }, { authenticated });
    s.handleSegment(i, path, emitSegment({ ...syn, srcPort: 1024 + i }));
    for (let t = s.pollTransmit(i); t; t = s.pollTransmit(i)) replies.push(t.bytes);
  }
  return { events: drain(s), replies };
}

describe('SYN data on an unauthenticated path', () => {
  it('spoofed SYNs with data reach no application: no incoming, nothing readable, data not acknowledged', () => {
    console.log('seed', seed);
    const { events, replies } = spoof(false, 1000);
    const kinds = new Set(events.map((e) => e.type));
    console.log('events', [...kinds], 'replies', replies.length);
    expect(events.filter((e) => e.type === 'incoming')).toHaveLength(0);
    expect(events.filter((e) => e.type === 'readable')).toHaveLength(0);
    // Each SYN/ACK acknowledges the SYN alone, so the client knows to send its data again.
    const synAcks = replies.map(parseSegment).filter((r) => (r.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK));
    expect(synAcks.length).toBe(1000);
  });

  it('on an authenticated path the same SYN data is readable at once (0-RTT)', () => {
    console.log('seed', seed);
    const { events } = spoof(true, 3);
    expect(events.filter((e) => e.type === 'incoming')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'readable')).toHaveLength(3);
    const conn = events.find((e) => e.type === 'readable')!.connection;
    expect(conn.read()).toEqual(request);
  });

  it('an honest client on the plain path gets its request through once the handshake completes', () => {
    console.log('seed', seed);
    const { c, s } = bareClientServer(new SeededRandom(seed), { client: false, server: false });
    c.ep.connect(0, { path: c.path, data: request });
    const order: string[] = [];
    let got: Uint8Array | null = null;
    const now = shuttle(c, s, (events) => {
      for (const ev of events) {
        order.push(ev.type);
        if (ev.type === 'readable') got = ev.connection.read();
      }
      return got !== null;
    });
    console.log('server events', order.join(','), 'request read at', now, 'ms');
    expect(got).toEqual(request);
    expect(order.indexOf('incoming')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('incoming')).toBeLessThan(order.indexOf('readable'));
    expect(now).toBeLessThan(200); // sent again right after the SYN/ACK, not after an RTO
  });
});
