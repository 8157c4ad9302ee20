import { describe, expect, it } from 'vitest';
import {
  RecoveryEpisode,
  halvedThreshold,
  initialWindow,
  pacingRateFor,
  slowStartIncrement,
} from '../../src/cc/common.js';

describe('cc/common', () => {
  it('takes the initial window from RFC 6928', () => {
    expect(initialWindow(1000)).toBe(10_000);
    expect(initialWindow(1460)).toBe(14_600);
    expect(initialWindow(1200)).toBe(12_000);
    // Jumbo segments: max(2*MSS, 14600) is the smaller term.
    expect(initialWindow(9000)).toBe(18_000);
  });

  it('caps slow-start growth at 2*MSS per ACK (RFC 3465 L = 2)', () => {
    expect(slowStartIncrement(500, 1000)).toBe(500);
    expect(slowStartIncrement(5000, 1000)).toBe(2000);
  });

  it('halves the flight with a floor of two segments', () => {
    expect(halvedThreshold(40_000, 1000)).toBe(20_000);
    expect(halvedThreshold(3000, 1000)).toBe(2000);
  });

  it('paces at gain * cwnd / srtt, unlimited before an RTT sample', () => {
    expect(pacingRateFor(10_000, 0, true)).toBe(Infinity);
    expect(pacingRateFor(10_000, 100, true)).toBe(200_000);
    expect(pacingRateFor(10_000, 100, false)).toBe(125_000);
  });

  it('ends a recovery episode at the first ACK for data sent after it began', () => {
    const r = new RecoveryEpisode();
    r.enter(1000, 100);
    // Sent at 950: before the event.
    const ack = { ackedBytes: 1000, rttSample: 100, priorInFlight: 0, appLimited: false };
    expect(r.stillIn(1050, ack)).toBe(true);
    expect(r.active).toBe(true);
    // Sent at 1000: the first data after it.
    expect(r.stillIn(1100, ack)).toBe(false);
    expect(r.active).toBe(false);
  });

  it('without RTT samples, ends recovery one smoothed RTT after it began', () => {
    const r = new RecoveryEpisode();
    r.enter(1000, 100);
    const ev = { ackedBytes: 1000, priorInFlight: 0, appLimited: false };
    expect(r.stillIn(1099, ev)).toBe(true);
    expect(r.stillIn(1100, ev)).toBe(false);
  });
});
