import { describe, expect, it } from 'vitest';
import { RenoController } from '../../src/cc/reno.js';
import { MSS, ackRound, loss, segments, subflow } from './harness.js';

const reno = (path: ConstructorParameters<typeof RenoController>[0]) => new RenoController(path);
const RTT = 100;

/** Slow start to 80 segments, one loss (→ 40), and the recovery round. Returns the time. */
function intoAvoidance(sub: ReturnType<typeof subflow>): number {
  let t = 0;
  for (let i = 0; i < 3; i++) t = ackRound(sub, t, RTT);
  expect(segments(sub)).toBe(80);
  loss(sub, t);
  return ackRound(sub, t, RTT);
}

describe('Reno', () => {
  it('starts at 10 segments with ssthresh infinite and no pacing limit', () => {
    const sub = subflow(reno);
    expect(sub.cc.name).toBe('reno');
    expect(sub.cc.window()).toBe(10 * MSS);
    expect(sub.cc.ssthresh()).toBe(Infinity);
    expect(sub.cc.pacingRate()).toBe(Infinity);
  });

  it('doubles the window every RTT in slow start', () => {
    const sub = subflow(reno);
    const seen = [segments(sub)];
    let t = 0;
    for (let i = 0; i < 5; i++) {
      t = ackRound(sub, t, RTT);
      seen.push(segments(sub));
    }
    expect(seen).toEqual([10, 20, 40, 80, 160, 320]);
  });

  it('counts at most 2 segments of growth per ACK in slow start (RFC 3465)', () => {
    const sub = subflow(reno);
    sub.path.setRtt(RTT);
    const stretchAck = { ackedBytes: 5 * MSS, rttSample: RTT, priorInFlight: 10 * MSS };
    sub.cc.onAck(10, { ...stretchAck, appLimited: false });
    expect(sub.cc.window()).toBe(12 * MSS);
  });

  it('halves on a congestion event and grows one segment per RTT after', () => {
    const sub = subflow(reno);
    let t = intoAvoidance(sub);
    expect(sub.cc.ssthresh()).toBe(40 * MSS);
    const start = segments(sub);
    expect(start).toBe(40);
    const growth: number[] = [];
    for (let i = 0; i < 10; i++) {
      const before = segments(sub);
      t = ackRound(sub, t, RTT);
      growth.push(segments(sub) - before);
    }
    expect(growth).toEqual(Array(10).fill(1));
  });

  it('uses FlightSize, not cwnd, and never goes below 2 segments', () => {
    const sub = subflow(reno);
    sub.cc.onCongestionEvent(0, { lostBytes: MSS, priorInFlight: 6 * MSS });
    expect(sub.cc.window()).toBe(3 * MSS);
    sub.cc.onCongestionEvent(1000, { lostBytes: MSS, priorInFlight: 3 * MSS });
    expect(sub.cc.window()).toBe(2 * MSS);
    expect(sub.cc.ssthresh()).toBe(2 * MSS);
  });

  it('does not grow on ACKs of data sent before the congestion event', () => {
    const sub = subflow(reno);
    let t = 0;
    t = ackRound(sub, t, RTT);
    loss(sub, t);
    const after = sub.cc.window();
    // Data sent at t - 50: still part of the episode.
    sub.cc.onAck(t + 50, { ackedBytes: MSS, rttSample: RTT, priorInFlight: after, appLimited: false });
    expect(sub.cc.window()).toBe(after);
  });

  it('collapses to one segment on an RTO, with ssthresh from the flight', () => {
    const sub = subflow(reno);
    let t = 0;
    for (let i = 0; i < 2; i++) t = ackRound(sub, t, RTT);
    sub.path.bytesInFlight = 30 * MSS;
    sub.cc.onRtoExpired(t);
    expect(sub.cc.window()).toBe(MSS);
    expect(sub.cc.ssthresh()).toBe(15 * MSS);
    // A second timeout for the same data keeps ssthresh (RFC 5681 §3.1).
    sub.path.bytesInFlight = 30 * MSS;
    sub.cc.onRtoExpired(t + 1000);
    expect(sub.cc.ssthresh()).toBe(15 * MSS);
    // Slow start again from one segment.
    t = ackRound(sub, t + 2000, RTT);
    expect(segments(sub)).toBe(2);
  });

  it('falls back to the window for ssthresh when the flight was already written off', () => {
    const sub = subflow(reno);
    sub.path.bytesInFlight = 0;
    sub.cc.onRtoExpired(0);
    expect(sub.cc.ssthresh()).toBe(5 * MSS);
  });

  it('does not grow while application-limited', () => {
    const ss = subflow(reno);
    ackRound(ss, 0, RTT, { appLimited: true });
    expect(segments(ss)).toBe(10);
    const ca = subflow(reno);
    let t = intoAvoidance(ca);
    const before = ca.cc.window();
    for (let i = 0; i < 5; i++) t = ackRound(ca, t, RTT, { appLimited: true });
    expect(ca.cc.window()).toBe(before);
  });

  it('paces at 2x the window per RTT in slow start and 1.25x after', () => {
    const sub = subflow(reno);
    ackRound(sub, 0, RTT);
    expect(sub.cc.pacingRate()).toBeCloseTo((2 * 20 * MSS) / 0.1, 6);
    loss(sub, 100);
    expect(sub.cc.pacingRate()).toBeCloseTo((1.25 * 10 * MSS) / 0.1, 6);
  });
});
