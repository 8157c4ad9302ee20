import { describe, it, expect } from 'vitest';
import { messageType, MessageType } from '@mptun/session';
import { readRoute, writeRoute, ROUTE_END } from '../scale-out/route-field.js';
import { HashRing } from '../scale-out/hash-ring.js';
import { Balancer } from '../scale-out/balancer.js';
import { DEFAULT_OPTIONS, dataDatagram, initiationDatagram, runScaleOut } from '../scale-out/model.js';
import { parseSeed, renderTable } from '../scale-out/main.js';

const SEED = parseSeed([], process.env);
console.log(`scale-out simulation test seed ${SEED}`);

describe('route field', () => {
  it('round-trips a server id and reads zero bytes as "no id"', () => {
    const d = new Uint8Array(32);
    writeRoute(d, { rotation: 5, serverId: 0xbeef });
    expect([...d.subarray(0, 4)]).toEqual([0, 0xa0, 0xbe, 0xef]);
    expect(readRoute(d)).toEqual({ kind: 'id', route: { rotation: 5, serverId: 0xbeef } });
    writeRoute(d, null);
    expect(readRoute(d)).toEqual({ kind: 'none' });
  });

  it('gives a typed result for short or malformed input, never a throw', () => {
    for (let n = 0; n < ROUTE_END; n++) expect(readRoute(new Uint8Array(n))).toEqual({ kind: 'malformed', reason: 'short' });
    expect(readRoute(Uint8Array.of(4, 0x21, 0, 1))).toEqual({ kind: 'malformed', reason: 'reserved-bits' });
    expect(readRoute(Uint8Array.of(4, 0, 0, 1))).toEqual({ kind: 'malformed', reason: 'reserved-bits' });
    expect(() => writeRoute(new Uint8Array(8), { rotation: 0, serverId: 1 })).toThrow(RangeError);
    expect(() => writeRoute(new Uint8Array(8), { rotation: 1, serverId: 0x10000 })).toThrow(RangeError);
  });

  it("without an id a datagram is today's message; with one, today's servers drop it (servers first)", () => {
    expect(messageType(initiationDatagram(null))).toBe(MessageType.Initiation);
    expect(messageType(dataDatagram(null))).toBe(MessageType.Data);
    expect(messageType(initiationDatagram({ rotation: 1, serverId: 3 }))).toBeNull();
    expect(messageType(dataDatagram({ rotation: 1, serverId: 3 }))).toBeNull();
  });
});

describe('consistent-hash ring', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);

  it('moves only the removed backend’s keys when one leaves', () => {
    const ring = new HashRing();
    for (const b of ['b1', 'b2', 'b3', 'b4']) ring.add(b);
    const before = keys.map((k) => ring.lookup(k));
    ring.remove('b3');
    keys.forEach((k, i) => {
      if (before[i] !== 'b3') expect(ring.lookup(k)).toBe(before[i]);
      else expect(ring.lookup(k)).not.toBe('b3');
    });
  });

  it('moves keys only to a new backend, about its fair share of them', () => {
    const ring = new HashRing();
    for (const b of ['b1', 'b2', 'b3', 'b4']) ring.add(b);
    const before = keys.map((k) => ring.lookup(k));
    ring.add('b5');
    let moved = 0;
    keys.forEach((k, i) => {
      const now = ring.lookup(k);
      if (now !== before[i]) {
        expect(now).toBe('b5');
        moved++;
      }
    });
    expect(moved / keys.length).toBeGreaterThan(0.1);
    expect(moved / keys.length).toBeLessThan(0.4);
    expect(new HashRing().lookup('x')).toBeNull();
  });
});

describe('balancer', () => {
  const make = (routing: 'source-hash' | 'server-id'): Balancer => {
    const b = new Balancer(routing, 2);
    ['b1', 'b2', 'b3'].forEach((name, i) => b.add(name, i + 1));
    return b;
  };

  it('routes by the id when it names a live server, else by the source hash', () => {
    const lb = make('server-id');
    const hashed = lb.route(initiationDatagram(null), '10.1.2.3');
    expect(hashed).toMatchObject({ kind: 'forward', by: 'hash' });
    for (const [id, name] of [[1, 'b1'], [2, 'b2'], [3, 'b3']] as const) {
      expect(lb.route(dataDatagram({ rotation: 2, serverId: id }), '10.1.2.3')).toEqual({ kind: 'forward', backend: name, by: 'id' });
    }
    // An unknown id or another configuration's rotation falls back to the hash.
    expect(lb.route(dataDatagram({ rotation: 2, serverId: 9 }), '10.1.2.3')).toEqual(hashed);
    expect(lb.route(dataDatagram({ rotation: 3, serverId: 1 }), '10.1.2.3')).toEqual(hashed);
    lb.remove('b2');
    expect(lb.route(dataDatagram({ rotation: 2, serverId: 2 }), '10.1.2.3')).toMatchObject({ by: 'hash' });
  });

  it('ignores the id when it routes by source hash, and drops what it cannot read', () => {
    const lb = make('source-hash');
    const d = lb.route(dataDatagram(lb.routeOf(1)), '10.9.9.9');
    expect(d).toEqual(lb.route(dataDatagram(lb.routeOf(3)), '10.9.9.9'));
    expect(lb.route(Uint8Array.of(4, 0), '10.9.9.9')).toEqual({ kind: 'drop', reason: 'malformed' });
    expect(new Balancer('server-id', 1).route(initiationDatagram(null), '10.9.9.9')).toEqual({ kind: 'drop', reason: 'no-backend' });
  });
});

describe('scale-out simulation', () => {
  for (const seed of [SEED, SEED + 1, SEED + 2]) {
    it(`seed ${seed}: the server id lands every join on its connection's server; source hashing does not`, () => {
      const rows = runScaleOut({ ...DEFAULT_OPTIONS, seed });
      console.log(`seed ${seed}\n${renderTable(rows)}`);
      const byId = rows.filter((r) => r.routing === 'server-id');
      const byHash = rows.filter((r) => r.routing === 'source-hash');
      expect(byId.map((r) => r.backends)).toEqual([4, 6, 5]);
      expect(byHash.map((r) => r.backends)).toEqual([4, 6, 5]);

      for (const r of byId) {
        expect(r.joins).toBeGreaterThan(0);
        expect(r.joinsOnHolder).toBe(r.joins);
        expect(r.existingOnHolder).toBe(r.existingPaths);
        expect(r.brokenByReroute).toBe(0);
      }
      expect(byId[1]!.existingPaths).toBeGreaterThan(0);
      // Removing a server loses exactly its connections, and nothing else.
      expect(byId[2]!.lostWithBackend).toBeGreaterThan(0);

      for (const r of byHash) {
        expect(r.joinsOnHolder / r.joins).toBeLessThan(0.5);
      }
      // Adding servers moves part of the existing paths to a server without their session...
      expect(byHash[1]!.existingOnHolder).toBeLessThan(byHash[1]!.existingPaths);
      expect(byHash[1]!.brokenByReroute).toBeGreaterThan(0);
      // ...removing one moves none of the paths held by the others (consistent hashing).
      expect(byHash[2]!.existingOnHolder).toBe(byHash[2]!.existingPaths);

      // Both spread new connections over every live server.
      for (const r of rows) expect(r.newPerBackend.min).toBeGreaterThan(0);
    });
  }
});
