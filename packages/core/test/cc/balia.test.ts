import { describe, expect, it } from 'vitest';
import { BaliaController } from '../../src/cc/balia.js';
import type { CcGroup, CcPath } from '../../src/cc/controller.js';
import { RenoController } from '../../src/cc/reno.js';
import { FakeGroup, MSS, type Sub, ackRound, lockstepWithReno, loss, subflow } from './harness.js';
import { singlePathThroughput, twoPathRun } from './netsim.js';

const balia = (path: CcPath, group: CcGroup) => new BaliaController(path, group);
const reno = (path: CcPath) => new RenoController(path);
const asBalia = (cc: unknown) => cc as BaliaController;

/**
 * Two BALIA subflows with a 50 ms RTT in congestion avoidance: a at 20 segments, b at
 * `bSegments` (for 10, b's second slow-start round is application-limited, so it stops at 20
 * and the loss halves it to 10).
 */
function pair(bSegments: 10 | 20): { a: Sub; b: Sub; t: number } {
  const group = new FakeGroup();
  const a = subflow(balia, group);
  const b = subflow(balia, group);
  let t = 0;
  for (let i = 0; i < 2; i++) {
    ackRound(a, t, 50);
    t = ackRound(b, t, 50, bSegments === 10 && i === 1 ? { appLimited: true } : {});
  }
  loss(a, t);
  loss(b, t);
  ackRound(a, t, 50);
  t = ackRound(b, t, 50);
  expect(Math.floor(a.cc.window() / MSS)).toBe(20);
  expect(Math.floor(b.cc.window() / MSS)).toBe(bSegments);
  return { a, b, t };
}

describe('BALIA', () => {
  it('takes α_r = max x / x_r', () => {
    const { a, b } = pair(10);
    const xa = a.cc.window() / 50;
    const xb = b.cc.window() / 50;
    expect(asBalia(a.cc).alpha()).toBe(1);
    // (window() rounds down to whole bytes; α uses the exact windows.)
    expect(asBalia(b.cc).alpha()).toBeCloseTo(xa / xb, 3);
  });

  it('increases per ACK by x_r / (rtt_r (Σx)²) · (1+α)/2 · (4+α)/5 segments', () => {
    const { a, b, t } = pair(10);
    const wa = a.cc.window() / MSS;
    const wb = b.cc.window() / MSS;
    const xa = wa / 50;
    const xb = wb / 50;
    const alpha = xa / xb;
    const expected = (xb / (50 * (xa + xb) ** 2)) * ((1 + alpha) / 2) * ((4 + alpha) / 5);
    b.cc.onAck(t + 1, { ackedBytes: MSS, rttSample: 50, priorInFlight: wb * MSS, appLimited: false });
    // (window() rounds down to whole bytes, hence 2 digits.)
    expect(b.cc.window() / MSS - wb).toBeCloseTo(expected, 2);
  });

  it('cuts a path with the top rate by half and a slower one by up to 3/4', () => {
    const fast = pair(10);
    fast.a.cc.onCongestionEvent(fast.t, { lostBytes: MSS, priorInFlight: 20 * MSS });
    expect(fast.a.cc.window()).toBe(10 * MSS);
    const slow = pair(10);
    expect(asBalia(slow.b.cc).alpha()).toBeGreaterThan(1.5);
    slow.b.cc.onCongestionEvent(slow.t, { lostBytes: MSS, priorInFlight: 10 * MSS });
    // w − w/2 · min(α, 1.5) = 10 − 7.5 segments.
    expect(slow.b.cc.window()).toBe(2.5 * MSS);
  });

  it('grows two equal subflows by half a segment per RTT together', () => {
    const { a, b, t } = pair(20);
    const before = a.cc.window() + b.cc.window();
    const rounds = 20;
    for (let i = 0; i < rounds; i++) ackRound([a, b], t + i * 50, 50);
    // α = 1 on both: each grows 1/(4w) per ACK, 1/4 segment per RTT.
    const perRtt = (a.cc.window() + b.cc.window() - before) / rounds / MSS;
    expect(perRtt).toBeLessThanOrEqual(1);
    expect(perRtt).toBeCloseTo(0.5, 1);
  });

  it('alone in its group behaves as Reno (α = 1: 1/w per ACK, halving; within one segment)', () => {
    const { coupled, reno: plain } = lockstepWithReno(balia, reno);
    for (let i = 0; i < coupled.length; i++) {
      expect(Math.abs(coupled[i]! - plain[i]!)).toBeLessThan(MSS);
    }
  });

  it('shifts its window to the less lossy, shorter path (two-path random loss)', () => {
    const seed = 0xba1;
    console.log(`BALIA two-path seed ${seed}`);
    const coupled = twoPathRun(balia, seed);
    const uncoupled = twoPathRun(reno, seed);
    const single = singlePathThroughput(reno, seed);
    console.log(
      `share on the good path: BALIA ${coupled.shareGood.toFixed(3)}, ` +
        `uncoupled Reno ${uncoupled.shareGood.toFixed(3)}; ` +
        `throughput vs single-path Reno ${(coupled.throughput / single).toFixed(2)}`,
    );
    expect(coupled.shareGood).toBeGreaterThan(uncoupled.shareGood + 0.08);
    expect(coupled.throughput / single).toBeLessThan(1.05);
    expect(coupled.throughput / single).toBeGreaterThan(0.8);
  });
});
