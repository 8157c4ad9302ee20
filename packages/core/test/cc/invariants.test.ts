/**
 * Properties every controller keeps under any sequence of events, coupled or not: windows
 * stay finite and at least one segment, a timeout leaves exactly one segment, a congestion
 * event never opens the window, and nothing throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckEvent } from '../../src/cc/controller.js';
import { ccFactory, ccNames } from '../../src/cc/registry.js';
import { FakeGroup, type Sub, subflow } from './harness.js';

type Step =
  | {
      kind: 'ack';
      who: number;
      dt: number;
      acked: number;
      rtt: number | undefined;
      appLimited: boolean;
    }
  | { kind: 'loss'; who: number; dt: number; lost: number; flightFactor: number }
  | { kind: 'rto'; who: number; dt: number; flight: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      who: fc.integer({ min: 0, max: 2 }),
      dt: fc.integer({ min: 0, max: 300 }),
      acked: fc.integer({ min: 1, max: 20_000 }),
      rtt: fc.option(fc.integer({ min: 1, max: 2000 }), { nil: undefined }),
      appLimited: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('loss' as const),
      who: fc.integer({ min: 0, max: 2 }),
      dt: fc.integer({ min: 0, max: 300 }),
      lost: fc.integer({ min: 1, max: 10_000 }),
      flightFactor: fc.double({ min: 0, max: 3, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rto' as const),
      who: fc.integer({ min: 0, max: 2 }),
      dt: fc.integer({ min: 0, max: 3000 }),
      flight: fc.integer({ min: 0, max: 200_000 }),
    }),
  },
);

const steps = fc.array(step, { maxLength: 300 });
const mssArb = fc.integer({ min: 500, max: 9000 });

function check(sub: Sub): void {
  const w = sub.cc.window();
  expect(Number.isInteger(w)).toBe(true);
  expect(w).toBeGreaterThanOrEqual(sub.path.mss);
  expect(w).toBeLessThan(1e12);
  expect(sub.cc.ssthresh()).toBeGreaterThanOrEqual(sub.path.mss);
  const rate = sub.cc.pacingRate();
  expect(rate > 0).toBe(true);
}

describe('controller invariants', () => {
  const seed = 0x5eed_cc;
  it.each(ccNames.map((n) => [n]))('%s keeps its invariants under arbitrary events', (name) => {
    console.log(`invariants for ${name}: fast-check seed ${seed}`);
    fc.assert(
      fc.property(steps, mssArb, (events, mss) => {
        const group = new FakeGroup();
        const factory = ccFactory(name);
        // Three subflows of one connection (the third with a different MSS).
        const subs = [mss, mss, 1200].map((m) => subflow(factory, group, m));
        let now = 0;
        for (const s of events) {
          const sub = subs[s.who]!;
          now += s.dt;
          if (s.kind === 'ack') {
            if (s.rtt !== undefined) sub.path.setRtt(s.rtt);
            const ev: AckEvent = {
              ackedBytes: s.acked,
              rttSample: s.rtt,
              priorInFlight: sub.cc.window(),
              appLimited: s.appLimited,
            };
            sub.cc.onSent(now, s.acked);
            sub.cc.onAck(now, ev);
            if (s.appLimited) expect(sub.cc.window()).toBeLessThanOrEqual(ev.priorInFlight);
          } else if (s.kind === 'loss') {
            const before = sub.cc.window();
            const priorInFlight = Math.floor(before * s.flightFactor);
            sub.cc.onCongestionEvent(now, { lostBytes: s.lost, priorInFlight });
            expect(sub.cc.window()).toBeLessThanOrEqual(before);
          } else {
            sub.path.bytesInFlight = s.flight;
            sub.cc.onRtoExpired(now);
            expect(sub.cc.window()).toBe(sub.path.mss);
          }
          for (const x of subs) check(x);
        }
      }),
      { seed, numRuns: 150 },
    );
  });
});
