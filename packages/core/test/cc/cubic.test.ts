import { describe, expect, it } from 'vitest';
import {
  CUBIC_ALPHA,
  CUBIC_BETA,
  CubicController,
  cubicK,
  cubicWindowSegments,
} from '../../src/cc/cubic.js';
import type { CcPath } from '../../src/cc/controller.js';
import { MSS, type Sub, ackRound, loss, segments, subflow } from './harness.js';

const cubic = (path: CcPath) => new CubicController(path);
const epochOf = (sub: Sub) => (sub.cc as CubicController).epochState();

/** Slow start for `rounds` RTTs, then one loss with the window in flight. */
function lossAfterSlowStart(sub: Sub, rounds: number, rtt: number): number {
  let t = 0;
  for (let i = 0; i < rounds; i++) t = ackRound(sub, t, rtt);
  loss(sub, t);
  return t;
}

describe('CUBIC', () => {
  it('has the RFC 9438 constants', () => {
    expect(CUBIC_BETA).toBe(0.7);
    expect(CUBIC_ALPHA).toBeCloseTo(0.529412, 5);
    expect(cubicK(100, 70)).toBeCloseTo(Math.cbrt(75), 12);
    expect(cubicWindowSegments(Math.cbrt(75), Math.cbrt(75), 100)).toBe(100);
  });

  it('doubles per RTT in slow start while the RTT stays flat', () => {
    const sub = subflow(cubic);
    const seen = [segments(sub)];
    let t = 0;
    for (let i = 0; i < 6; i++) {
      t = ackRound(sub, t, 100);
      seen.push(segments(sub));
    }
    expect(seen).toEqual([10, 20, 40, 80, 160, 320, 640]);
    expect(sub.cc.ssthresh()).toBe(Infinity);
  });

  it('cuts the window to 0.7 of the flight on a congestion event', () => {
    const sub = subflow(cubic);
    lossAfterSlowStart(sub, 4, 100);
    expect(segments(sub)).toBeCloseTo(112, 9);
    expect(sub.cc.ssthresh()).toBeCloseTo(112 * MSS, 6);
    // Not below 2 segments.
    const small = subflow(cubic);
    small.cc.onCongestionEvent(0, { lostBytes: MSS, priorInFlight: 2 * MSS });
    expect(small.cc.window()).toBe(2 * MSS);
  });

  it('follows W_cubic(t) toward W_max after a loss (RFC 9438 §4.2)', () => {
    const sub = subflow(cubic);
    const rtt = 100;
    const lossAt = lossAfterSlowStart(sub, 4, rtt);
    // W_max = 160 segments, cwnd_epoch = 112: K = ∛((160 − 112) / 0.4) ≈ 4.93 s.
    const k = cubicK(160, 112);
    let t = lossAt;
    let checked = 0;
    for (let round = 1; round <= 80; round++) {
      t = ackRound(sub, t, rtt);
      expect(epochOf(sub)?.kSec).toBeCloseTo(k, 9);
      expect(epochOf(sub)?.wMax).toBeCloseTo(160 * MSS, 6);
      const tSec = (t - lossAt) / 1000;
      if (round >= 3 && round % 10 === 0) {
        // After a round the window has reached the target set one RTT ahead: W_cubic(t).
        const expected = cubicWindowSegments(tSec, k, 160);
        expect(Math.abs(segments(sub) - expected) / expected).toBeLessThan(0.005);
        checked++;
      }
    }
    expect(checked).toBe(8);
    // Concave below W_max, flat near K, convex above.
    expect(cubicWindowSegments(k, k, 160)).toBe(160);
    expect(segments(sub)).toBeGreaterThan(160);
  });

  it('grows like AIMD(α_cubic) in the Reno-friendly region, then like Reno past cwnd_prior', () => {
    // Small window, short RTT: W_est outruns the cubic curve (RFC 9438 §4.3).
    const sub = subflow(cubic);
    const rtt = 10;
    let t = lossAfterSlowStart(sub, 1, rtt);
    expect(segments(sub)).toBeCloseTo(14, 9);
    t = ackRound(sub, t, rtt); // the recovery round
    const early: number[] = [];
    for (let i = 0; i < 8; i++) {
      const before = segments(sub);
      t = ackRound(sub, t, rtt);
      early.push(segments(sub) - before);
    }
    for (const g of early) expect(g).toBeCloseTo(CUBIC_ALPHA, 1);
    // Past cwnd_prior = 20 segments α becomes 1.
    while (segments(sub) < 21) t = ackRound(sub, t, rtt);
    const late: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = segments(sub);
      t = ackRound(sub, t, rtt);
      late.push(segments(sub) - before);
    }
    for (const g of late) expect(g).toBeCloseTo(1, 1);
    // And the cubic curve is indeed below: still well short of W_max's plateau time.
    const e = epochOf(sub)!;
    expect(cubicWindowSegments((t - e.start) / 1000, e.kSec, e.wMax / MSS)).toBeLessThan(segments(sub));
  });

  it('lowers W_max by fast convergence when a loss comes before regaining it (§4.7)', () => {
    const sub = subflow(cubic);
    let t = lossAfterSlowStart(sub, 4, 100); // W_max = 160
    for (let i = 0; i < 5; i++) t = ackRound(sub, t, 100);
    const w = segments(sub);
    expect(w).toBeLessThan(160);
    loss(sub, t);
    t = ackRound(sub, t, 100);
    // window() rounds down to whole bytes, hence 2 digits.
    expect(epochOf(sub)!.wMax / MSS).toBeCloseTo((w * (1 + CUBIC_BETA)) / 2, 2);
    // Without fast convergence W_max is the window at the loss.
    const plain = subflow((p) => new CubicController(p, { fastConvergence: false }));
    let u = lossAfterSlowStart(plain, 4, 100);
    for (let i = 0; i < 5; i++) u = ackRound(plain, u, 100);
    const pw = segments(plain);
    loss(plain, u);
    ackRound(plain, u, 100);
    expect(epochOf(plain)!.wMax / MSS).toBeCloseTo(pw, 2);
  });

  it('collapses to one segment on an RTO with ssthresh = 0.7 flight, then restarts with K = 0', () => {
    const sub = subflow(cubic);
    let t = 0;
    for (let i = 0; i < 3; i++) t = ackRound(sub, t, 100);
    sub.path.bytesInFlight = 80 * MSS;
    sub.cc.onRtoExpired(t);
    expect(sub.cc.window()).toBe(MSS);
    expect(sub.cc.ssthresh()).toBeCloseTo(56 * MSS, 6);
    t += 1000;
    while (sub.cc.window() < sub.cc.ssthresh()) t = ackRound(sub, t, 100);
    t = ackRound(sub, t, 100);
    const e = epochOf(sub)!;
    expect(e.kSec).toBe(0);
    // W_max is the window the avoidance stage started with.
    expect(e.wMax / MSS).toBeGreaterThanOrEqual(56);
    expect(e.wMax / MSS).toBeLessThan(60);
  });

  it('does not grow while application-limited, and leaves that time out of t (§5.8)', () => {
    const a = subflow(cubic);
    const b = subflow(cubic);
    let ta = lossAfterSlowStart(a, 4, 100);
    let tb = lossAfterSlowStart(b, 4, 100);
    for (let i = 0; i < 3; i++) {
      ta = ackRound(a, ta, 100);
      tb = ackRound(b, tb, 100);
    }
    // b spends 2 s application-limited.
    const held = b.cc.window();
    for (let i = 0; i < 20; i++) tb = ackRound(b, tb, 100, { appLimited: true });
    expect(b.cc.window()).toBe(held);
    for (let i = 0; i < 10; i++) {
      ta = ackRound(a, ta, 100);
      tb = ackRound(b, tb, 100);
    }
    // Its curve resumed where it paused: same window as the flow that never paused.
    expect(Math.abs(segments(a) - segments(b))).toBeLessThan(0.5);
  });

  describe('HyStart++ (RFC 9406)', () => {
    /** Slow start where the RTT rises by `rise` ms from round `from` on. */
    function run(rise: number, from: number, rounds: number, opts = {}) {
      const sub = subflow((p) => new CubicController(p, opts));
      const windows = [segments(sub)];
      let t = 0;
      for (let r = 0; r < rounds; r++) {
        const rtt = r >= from ? 100 + rise : 100;
        t = ackRound(sub, t, rtt);
        windows.push(segments(sub));
      }
      return { sub, windows };
    }

    it('enters conservative slow start when the round minimum RTT rises, then avoidance', () => {
      const { sub, windows } = run(20, 3, 12);
      expect(windows.slice(0, 4)).toEqual([10, 20, 40, 80]);
      // Round 4 sees the rise once N_RTT_SAMPLE samples are in: from there growth is ÷ 4,
      // i.e. ×1.25 per round instead of ×2.
      for (let r = 5; r <= 7; r++) {
        expect(windows[r]! / windows[r - 1]!).toBeGreaterThan(1.2);
        expect(windows[r]! / windows[r - 1]!).toBeLessThan(1.3);
      }
      // After CSS_ROUNDS rounds of CSS: ssthresh = cwnd and congestion avoidance.
      const ssthresh = sub.cc.ssthresh() / MSS;
      expect(ssthresh).toBeGreaterThan(windows[7]!);
      expect(ssthresh).toBeLessThan(windows[9]!);
      for (let r = 10; r <= 12; r++) expect(windows[r]! - windows[r - 1]!).toBeLessThan(2);
      // The same rounds with a flat RTT keep doubling.
      expect(run(0, 0, 8).windows[8]).toBe(2560);
    });

    it('returns to slow start when the rise proves spurious', () => {
      const sub = subflow(cubic);
      let t = 0;
      for (let r = 0; r < 3; r++) t = ackRound(sub, t, 100);
      t = ackRound(sub, t, 120); // into CSS
      const inCss = segments(sub);
      t = ackRound(sub, t, 95); // RTT below the CSS baseline: slow start again
      t = ackRound(sub, t, 95);
      expect(sub.cc.ssthresh()).toBe(Infinity);
      expect(segments(sub) / inCss).toBeGreaterThan(3);
    });

    it('can be turned off', () => {
      const { sub, windows } = run(20, 3, 6, { hystart: false });
      expect(windows[6]).toBe(640);
      expect(sub.cc.ssthresh()).toBe(Infinity);
    });
  });
});
