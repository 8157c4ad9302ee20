import { describe, expect, it } from 'vitest';
import type { CcPath } from '../../src/cc/controller.js';
import { CubicController } from '../../src/cc/cubic.js';
import {
  DelayEstimator,
  LEDBAT_TARGET_MS,
  LedbatController,
  type LedbatOptions,
} from '../../src/cc/ledbat.js';
import { RenoController } from '../../src/cc/reno.js';
import { FakeGroup, MSS, type Sub, ackRound, segments, subflow } from './harness.js';
import { Simulator } from './netsim.js';

const ledbat =
  (opts: LedbatOptions = {}) =>
  (path: CcPath) =>
    new LedbatController(path, opts);
const asLedbat = (sub: Sub) => sub.cc as LedbatController;
const BASE = 20;

/** Slow start at the base RTT until the window passes `segs`, then one round 50 ms over base. */
function pastSlowStart(sub: Sub, segs = 20): number {
  let t = 0;
  while (segments(sub) < segs) t = ackRound(sub, t, BASE);
  t = ackRound(sub, t, BASE + 50);
  expect(sub.cc.ssthresh()).toBeLessThan(Infinity);
  return t;
}

describe('LEDBAT++', () => {
  it('starts at two segments with the 60 ms target', () => {
    const sub = subflow(ledbat());
    expect(sub.cc.name).toBe('ledbat');
    expect(sub.cc.window()).toBe(2 * MSS);
    expect(LEDBAT_TARGET_MS).toBe(60);
  });

  it('scales its gain to the base delay: 1 / min(16, ceil(2·target/base))', () => {
    const cases: [number, number][] = [
      [5, 1 / 16], // ceil(24) capped at 16
      [10, 1 / 12],
      [20, 1 / 6],
      [100, 1 / 2],
      [200, 1],
    ];
    for (const [base, gain] of cases) {
      const sub = subflow(ledbat());
      ackRound(sub, 0, base);
      expect(asLedbat(sub).gain()).toBeCloseTo(gain, 12);
    }
    // Before any RTT sample: the most cautious gain.
    expect(asLedbat(subflow(ledbat())).gain()).toBe(1 / 16);
  });

  it('estimates queuing delay as the filtered current RTT minus the base RTT', () => {
    const d = new DelayEstimator();
    expect(d.queuingDelay()).toBeUndefined();
    for (const rtt of [40, 42, 41, 90, 95, 99, 97]) d.addSample(1000, rtt);
    // The least of the last four samples (RFC 6817 CURRENT_FILTER) minus the base, 40.
    expect(d.queuingDelay()).toBe(50);
    expect(d.baseDelay()).toBe(40);
    // The base is a minimum over the last ten minutes: a route change raises it eventually.
    for (let minute = 1; minute <= 10; minute++) d.addSample(1000 + minute * 60_000, 80);
    expect(d.baseDelay()).toBe(80);
  });

  it('grows while the queuing delay stays below the target', () => {
    const sub = subflow(ledbat());
    let t = 0;
    const seen = [segments(sub)];
    for (let r = 0; r < 20; r++) {
      t = ackRound(sub, t, BASE);
      seen.push(segments(sub));
    }
    // Gain-scaled slow start: ×(1 + 1/6) per RTT at a 20 ms base.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen[20]! / seen[10]!).toBeGreaterThan((7 / 6) ** 10 * 0.8);
    expect(sub.cc.ssthresh()).toBe(Infinity);
    // In congestion avoidance, below target: + GAIN segments per RTT.
    const ca = subflow(ledbat({ periodicSlowdowns: false }));
    t = pastSlowStart(ca);
    const before = segments(ca);
    for (let r = 0; r < 12; r++) t = ackRound(ca, t, BASE + 30);
    expect(segments(ca) - before).toBeCloseTo(12 / 6, 0);
  });

  it('leaves slow start when the queuing delay passes 3/4 of the target', () => {
    const sub = subflow(ledbat());
    let t = 0;
    for (let r = 0; r < 10; r++) t = ackRound(sub, t, BASE);
    // 40 ms of queue (< 45 ms): still slow start.
    t = ackRound(sub, t, BASE + 40);
    expect(sub.cc.ssthresh()).toBe(Infinity);
    const w = sub.cc.window();
    ackRound(sub, t, BASE + 50);
    expect(sub.cc.ssthresh()).toBeLessThanOrEqual(w + MSS);
    expect(sub.cc.ssthresh()).toBeLessThan(Infinity);
  });

  it('backs off multiplicatively when the queuing delay exceeds the target', () => {
    const sub = subflow(ledbat({ periodicSlowdowns: false }));
    let t = pastSlowStart(sub, 60);
    const seen = [segments(sub)];
    for (let r = 0; r < 8; r++) {
      t = ackRound(sub, t, BASE + 100);
      seen.push(segments(sub));
    }
    // delay/target − 1 = 2/3 > 1/2: the −W/2 cap binds, so about halving per RTT …
    expect(seen[1]! / seen[0]!).toBeLessThan(0.7);
    expect(seen[1]! / seen[0]!).toBeGreaterThan(0.5);
    // … down to the 2-segment floor, staying in congestion avoidance.
    expect(seen[8]).toBe(2);
    expect(sub.cc.ssthresh()).toBe(2 * MSS);
    // Slightly over target the decrease is gentle: W·(delay/target − 1) − GAIN per RTT.
    const mild = subflow(ledbat({ periodicSlowdowns: false }));
    const u = pastSlowStart(mild, 60);
    const w0 = segments(mild);
    ackRound(mild, u, BASE + 66);
    expect(w0 - segments(mild)).toBeGreaterThan(0);
    expect(w0 - segments(mild)).toBeLessThan(w0 * 0.12);
  });

  it('halves on loss and collapses to one segment on an RTO', () => {
    const sub = subflow(ledbat({ periodicSlowdowns: false }));
    pastSlowStart(sub, 40);
    const w = sub.cc.window();
    sub.cc.onCongestionEvent(5000, { lostBytes: MSS, priorInFlight: w });
    expect(sub.cc.window()).toBe(Math.floor(w / 2));
    expect(sub.cc.ssthresh()).toBeCloseTo(w / 2, 0);
    sub.cc.onRtoExpired(6000);
    expect(sub.cc.window()).toBe(MSS);
  });

  it('slows down to two segments for two RTTs, periodically (LEDBAT++ §4.4)', () => {
    const sub = subflow(ledbat());
    let t = pastSlowStart(sub, 40);
    const seen: number[] = [];
    for (let r = 0; r < 400; r++) {
      t = ackRound(sub, t, BASE);
      seen.push(segments(sub));
    }
    const dips = seen.flatMap((w, i) => (w === 2 && seen[i - 1] !== 2 ? [i] : []));
    // The first comes about two RTTs after slow start ended.
    expect(dips[0]).toBeLessThanOrEqual(4);
    expect(seen[dips[0]! + 1]).toBe(2);
    // Then the window climbs back, and the next slowdown waits 9 slowdown-durations.
    expect(Math.max(...seen.slice(dips[0]!, dips[1]))).toBeGreaterThan(40);
    expect(dips.length).toBeGreaterThanOrEqual(2);
    const firstDuration = seen.slice(dips[0]!).findIndex((w) => w > 40);
    expect(dips[1]! - dips[0]!).toBeGreaterThanOrEqual(9 * firstDuration);
    // Without slowdowns the window never dips.
    const steady = subflow(ledbat({ periodicSlowdowns: false }));
    let u = pastSlowStart(steady, 40);
    for (let r = 0; r < 50; r++) {
      u = ackRound(steady, u, BASE);
      expect(segments(steady)).toBeGreaterThan(30);
    }
  });

  describe('on a shared bottleneck (10 Mbit/s, 40 ms base RTT, 120 ms of buffer)', () => {
    const bottleneck = { rateBytesPerMs: 1250, baseRttMs: 40, bufferBytes: 150_000, lossRate: 0 };

    it('alone, fills the link while keeping the queue near the target', () => {
      const seed = 0x1ed;
      console.log(`LEDBAT alone seed ${seed}`);
      const sim = new Simulator(seed);
      const link = sim.link(bottleneck);
      const flow = sim.flow('ledbat', link, ledbat());
      sim.run(30_000, 5_000);
      const utilisation = flow.ackedBytes / 25_000 / bottleneck.rateBytesPerMs;
      const queue = sim.meanQueuingDelay(link);
      console.log(
        `LEDBAT alone: utilisation ${utilisation.toFixed(3)}, ` +
          `mean queuing delay ${queue.toFixed(1)} ms`,
      );
      expect(utilisation).toBeGreaterThan(0.85);
      expect(queue).toBeLessThan(LEDBAT_TARGET_MS + 10);
    });

    for (const [name, factory] of [
      ['Reno', (p: CcPath) => new RenoController(p)],
      ['CUBIC', (p: CcPath) => new CubicController(p)],
    ] as const) {
      it(`yields to a ${name} flow that arrives later`, () => {
        const seed = 0x1ed + name.length;
        console.log(`LEDBAT vs ${name} seed ${seed}`);
        const sim = new Simulator(seed);
        const link = sim.link(bottleneck);
        const scavenger = sim.flow('ledbat', link, ledbat());
        const other = sim.flow(name, link, factory, new FakeGroup(), 5_000);
        sim.run(60_000, 20_000);
        const share = scavenger.ackedBytes / (scavenger.ackedBytes + other.ackedBytes);
        console.log(
          `LEDBAT vs ${name}: mean windows ${(scavenger.meanWindow() / MSS).toFixed(1)} and ` +
            `${(other.meanWindow() / MSS).toFixed(1)} segments; ` +
            `LEDBAT share of bytes ${(share * 100).toFixed(2)}%`,
        );
        expect(scavenger.meanWindow()).toBeLessThan(0.1 * other.meanWindow());
        expect(share).toBeLessThan(0.05);
        // The loss-based flow keeps the link busy.
        expect(other.ackedBytes / 40_000 / bottleneck.rateBytesPerMs).toBeGreaterThan(0.9);
      });
    }
  });
});
