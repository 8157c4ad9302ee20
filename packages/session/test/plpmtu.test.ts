/**
 * The path MTU search alone (RFC 8899), in virtual time, against a path that drops every
 * datagram above its MTU, delivers the rest after a round trip, and carries other traffic
 * (so lost probes count). The path's delay is drawn from a printed seed.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { CONFIRM_INTERVAL_MS, MAX_PROBES, PlpmtuSearch, RAISE_INTERVAL_MS } from '../src/plpmtu.js';
import { decodeProbePlaintext, encodeProbePlaintext, PROBE_MIN_BYTES } from '../src/messages.js';
import { SessionError } from '../src/errors.js';

const SEED = Number(process.env.MPTUN_SEED ?? 8899);

interface Run {
  search: PlpmtuSearch;
  now: number;
  sizes: Array<{ at: number; size: number }>;
  probesSent: number[];
}

/**
 * Runs the search for `untilMs` over a path whose MTU is mtuAt(now); `busy`: data at the
 * PLPMTU leaves all the time (an idle path sends none).
 */
function run(r: Run, untilMs: number, mtuAt: (now: number) => number, rttMs: number, busy = true): void {
  const acks: Array<{ at: number; id: number }> = [];
  while (r.now < untilMs) {
    r.search.heard(r.now); // other traffic arrives all the time
    if (busy) r.search.dataSent(r.search.size, r.now);
    for (let i = acks.length - 1; i >= 0; i--) {
      if (acks[i]!.at > r.now) continue;
      const { id } = acks.splice(i, 1)[0]!;
      if (r.search.onAck(id, r.now)) r.sizes.push({ at: r.now, size: r.search.size });
    }
    const { probe, changed } = r.search.poll(r.now);
    if (changed) r.sizes.push({ at: r.now, size: r.search.size });
    if (probe) {
      r.probesSent.push(probe.size);
      if (probe.size <= mtuAt(r.now)) acks.push({ at: r.now + rttMs, id: probe.id });
    }
    r.now += 5;
  }
}

describe(`PlpmtuSearch (seed ${SEED})`, () => {
  const rng = new SeededRandom(SEED);
  const rtt = 10 + Math.floor(rng.next() * 40);
  console.log(`plpmtu seed ${SEED}: path RTT ${rtt} ms`);

  it('finds exactly 1472 on a 1500-byte IPv4 path, with at most MAX_PROBES per size that does not fit', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 65_507 }, 0), now: 0, sizes: [], probesSent: [] };
    run(r, 20_000, () => 1472, rtt);
    console.log('sizes', r.sizes, 'probes', r.probesSent.length);
    expect(r.search.size).toBe(1472);
    expect(r.search.state).toBe('search-complete');
    expect(r.sizes.map((s) => s.size)).toEqual([1452, 1472]);
    const tooBig = r.probesSent.filter((s) => s > 1472);
    const perSize = new Map<number, number>();
    for (const s of tooBig) perSize.set(s, (perSize.get(s) ?? 0) + 1);
    for (const n of perSize.values()) expect(n).toBe(MAX_PROBES);
  });

  it('finds a size between ladder steps (a 1420-byte tunnel: 1392) within 32 bytes', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 65_507 }, 0), now: 0, sizes: [], probesSent: [] };
    run(r, 30_000, () => 1392, rtt);
    expect(r.search.size).toBeLessThanOrEqual(1392);
    expect(r.search.size).toBeGreaterThan(1392 - 32);
  });

  it('goes to the cap on loopback (64 KiB MTU)', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 65_507 }, 0), now: 0, sizes: [], probesSent: [] };
    run(r, 5_000, () => 65_507, rtt);
    expect(r.search.size).toBe(65_507);
  });

  it('black hole: the path shrinks to 1300, the search falls to the floor and searches again', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 65_507 }, 0), now: 0, sizes: [], probesSent: [] };
    run(r, 20_000, (now) => (now < 15_000 ? 1472 : 1300 - 28), rtt);
    run(r, 60_000, () => 1300 - 28, rtt);
    console.log('sizes', r.sizes);
    const after = r.sizes.filter((s) => s.at >= 15_000);
    expect(after[0]!.size).toBe(1200);
    // The confirmation interval, then three probes whose timer doubles each time.
    expect(after[0]!.at - 15_000).toBeLessThanOrEqual(CONFIRM_INTERVAL_MS + (2 ** MAX_PROBES) * Math.max(100, 3 * rtt));
    expect(r.search.size).toBeGreaterThan(1272 - 32);
    expect(r.search.size).toBeLessThanOrEqual(1272);
  });

  it('an outage (nothing heard at all) is not taken for a black hole', () => {
    const search = new PlpmtuSearch({ base: 1200, max: 1472 }, 0);
    const r: Run = { search, now: 0, sizes: [], probesSent: [] };
    run(r, 5_000, () => 1472, rtt);
    expect(search.size).toBe(1472);
    // From now on nothing arrives and nothing is heard: probes go unanswered.
    for (let now = 5_000; now < 30_000; now += 5) search.poll(now);
    expect(search.size).toBe(1472);
  });

  it('a round trip that grows 20-fold under a queue is not taken for a black hole', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 1472 }, 0), now: 0, sizes: [], probesSent: [] };
    run(r, 5_000, () => 1472, 20);
    expect(r.search.size).toBe(1472);
    run(r, 60_000, () => 1472, 400);
    console.log('sizes', r.sizes);
    expect(r.sizes.filter((s) => s.at >= 5_000)).toEqual([]);
    expect(r.search.size).toBe(1472);
  });

  it('an idle path gets no confirmation probes; they come back with the first large datagram', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 65_507 }, 0), now: 0, sizes: [], probesSent: [] };
    run(r, 5_000, () => 65_507, rtt);
    expect(r.search.state).toBe('search-complete');
    const before = r.probesSent.length;
    run(r, 65_000, () => 65_507, rtt, false);
    // At most the one confirmation already due when the path fell idle.
    expect(r.probesSent.length - before, 'probes in a minute of idling').toBeLessThanOrEqual(1);
    const idle = r.probesSent.length;
    r.search.dataSent(1100, r.now); // at the floor: nothing to confirm
    run(r, 66_000, () => 65_507, rtt, false);
    expect(r.probesSent.length).toBe(idle);
    run(r, 66_000 + CONFIRM_INTERVAL_MS, () => 65_507, rtt);
    expect(r.probesSent.length, 'a confirmation once large datagrams flow again').toBeGreaterThan(idle);
    expect(r.probesSent.slice(idle).every((s) => s === 65_507)).toBe(true);
  });

  it('raises again after the raise timer: a path that grew is found larger', () => {
    const r: Run = { search: new PlpmtuSearch({ base: 1200, max: 9000 }, 0), now: 0, sizes: [], probesSent: [] };
    const grewAt = 30_000;
    run(r, grewAt + RAISE_INTERVAL_MS + 20_000, (now) => (now < grewAt ? 1472 : 8972), rtt);
    expect(r.sizes.find((s) => s.size === 8972)!.at).toBeGreaterThanOrEqual(RAISE_INTERVAL_MS);
    expect(r.search.size).toBe(8972);
  });
});

describe('probe plaintext', () => {
  it('round-trips a probe padded to its size and an ack', () => {
    const p = encodeProbePlaintext({ kind: 'probe', id: 7, size: 1472 });
    expect(p.length).toBe(1472 - 32);
    expect(decodeProbePlaintext(p)).toEqual({ kind: 'probe', id: 7, size: 1472 });
    expect(decodeProbePlaintext(encodeProbePlaintext({ kind: 'ack', id: 9, size: 1472 }))).toEqual({ kind: 'ack', id: 9, size: 1472 });
  });

  it('rejects short, unknown, nonzero-padded and padded-ack plaintexts with a typed error', () => {
    const bad = [
      new Uint8Array(11),
      Uint8Array.of(3, 0, 0, 0, 1, 0, 0, 0, 44, 0, 0, 0),
      (() => { const p = encodeProbePlaintext({ kind: 'probe', id: 1, size: 100 }); p[50] = 1; return p; })(),
      (() => { const p = new Uint8Array(20); p[0] = 2; return p; })(),
    ];
    for (const b of bad) expect(() => decodeProbePlaintext(b)).toThrow(SessionError);
    expect(() => encodeProbePlaintext({ kind: 'probe', id: 1, size: PROBE_MIN_BYTES - 1 })).toThrow(RangeError);
  });
});
