/**
 * The endpoint-wide buffer budget (EndpointConfig.bufferBudget, issue 14 item 8): a server
 * whose application stops reading four uploads at once holds about the budget, not four
 * receive buffers; when it reads again, every byte arrives. Seeded; the seed is printed.
 */
import { describe, expect, it } from 'vitest';
import { BufferBudget, ccFactory, Endpoint, schedulerFactory, SeededRandom, type Connection } from '@mptun/core';
import { Pair } from '../../src/index.js';

const SEED = Number(process.env.MPTUN_SEED ?? 8);
const CONNECTIONS = 4;
const UPLOAD = 2 * 1024 * 1024;
const RESUME_MS = 5000;
/** What each connection may hold whatever the budget (connection.ts BUDGET_FLOOR). */
const FLOOR = 64 * 1024;
/** The engine's default segment size. */
const MSS = 1200;

interface Outcome {
  /** Most bytes the server's connections held at once while its application did not read. */
  peakHeld: number;
  /** The same for the first two connections alone (the ones given a shared group budget). */
  peakHeldPair: number;
  /** Bytes the server read per connection in the end. */
  received: number[];
  /** What the budget counted as held at the end (every connection closed). */
  heldAtEnd: number;
}

/** `pairBudget`: the server puts its first two incoming connections in one group of this limit. */
function run(bufferBudget: number, pairBudget?: number): Outcome {
  const pairGroup = pairBudget === undefined ? null : new BufferBudget(pairBudget);
  const rng = new SeededRandom(SEED);
  const base = { random: rng.fork(), scheduler: schedulerFactory('minrtt'), congestionControl: ccFactory('cubic') };
  const client = new Endpoint(base);
  const server = new Endpoint({ ...base, random: rng.fork(), receiveBuffer: 4 * 1024 * 1024, bufferBudget });
  server.listen(443);
  const cp = client.openPath({ host: '10.0.0.2', port: 40000 }, { host: '10.9.9.9', port: 443 });
  const sp = server.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.2', port: 40000 });
  const pair = new Pair(client, server, [{ forward: { rateBps: 100e6, delayMs: 10, queue: { ms: 50 } }, pathIdA: cp, pathIdB: sp }], { seed: SEED });
  // The server application's own timer: the simulator must wake up when it reads again.
  pair.addEndpoint({ handleSegment: () => {}, handleTimeout: () => {}, pollTransmit: () => null, pollTimeout: () => (pair.now < RESUME_MS ? RESUME_MS : null) }, 'app-timer');

  const data = new Uint8Array(UPLOAD).fill(7);
  const uploads = Array.from({ length: CONNECTIONS }, () => ({ conn: client.connect(0, { path: cp }), written: 0, shut: false }));
  const incoming: Connection[] = [];
  const received = new Map<Connection, number>();
  let peakHeld = 0;
  let peakHeldPair = 0;
  pair.run({
    until: 120_000,
    stopWhen: () => {
      while (client.pollEvent());
      for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
        if (ev.type !== 'incoming') continue;
        if (pairGroup && incoming.length < 2) ev.connection.shareBudget(pairGroup);
        incoming.push(ev.connection);
      }
      for (const u of uploads) {
        while (u.written < UPLOAD) {
          const n = u.conn.write(data.subarray(u.written));
          if (n === 0) break;
          u.written += n;
        }
        if (u.written === UPLOAD && !u.shut) {
          u.shut = true;
          u.conn.shutdown();
        }
      }
      if (pair.now < RESUME_MS) {
        peakHeld = Math.max(peakHeld, incoming.reduce((a, c) => a + c.readableBytes, 0));
        peakHeldPair = Math.max(peakHeldPair, incoming.slice(0, 2).reduce((a, c) => a + c.readableBytes, 0));
      } else {
        for (const c of incoming) for (let d = c.read(); d; d = c.read()) received.set(c, (received.get(c) ?? 0) + d.length);
      }
      return incoming.length === CONNECTIONS && incoming.every((c) => received.get(c) === UPLOAD);
    },
  });
  for (const c of incoming) c.abort(pair.now);
  return { peakHeld, peakHeldPair, received: incoming.map((c) => received.get(c) ?? 0), heldAtEnd: server.budget.held + (pairGroup?.held ?? 0) };
}

describe('endpoint-wide buffer budget (issue 14 item 8)', () => {
  it(`${CONNECTIONS} uploads of ${UPLOAD} bytes the server does not read for ${RESUME_MS} ms: it holds about the budget, then everything arrives`, () => {
    const budget = 1024 * 1024;
    const limited = run(budget);
    const unlimited = run(Infinity);
    console.log(
      `seed ${SEED}: held at most ${limited.peakHeld} bytes with a ${budget}-byte budget, ` +
      `${unlimited.peakHeld} bytes without one; received ${limited.received.join(', ')}`,
    );
    expect(unlimited.peakHeld, 'without a budget each connection fills its receive buffer').toBe(CONNECTIONS * UPLOAD);
    // Offered windows count against the budget too, so what arrives stays within it, but for
    // each connection's floor and the one segment a zero-window probe may carry (RFC 9293 §3.8.6.1).
    expect(limited.peakHeld).toBeLessThanOrEqual(budget + CONNECTIONS * (FLOOR + MSS));
    expect(limited.received).toEqual(Array(CONNECTIONS).fill(UPLOAD));
    expect(limited.heldAtEnd).toBe(0);
  });

  it('a group budget (one client\'s connections, Connection.shareBudget) bounds what its members hold together, not what the others hold', () => {
    const pair = 512 * 1024;
    const grouped = run(Infinity, pair);
    console.log(`seed ${SEED}: the two grouped connections held at most ${grouped.peakHeldPair} bytes with a ${pair}-byte group budget; all four ${grouped.peakHeld}; received ${grouped.received.join(', ')}`);
    expect(grouped.peakHeldPair).toBeLessThanOrEqual(pair + 2 * (FLOOR + MSS));
    // The two outside the group fill their receive buffers as before.
    expect(grouped.peakHeld - grouped.peakHeldPair).toBe(2 * UPLOAD);
    expect(grouped.received).toEqual(Array(CONNECTIONS).fill(UPLOAD));
    expect(grouped.heldAtEnd).toBe(0);
  });
});
