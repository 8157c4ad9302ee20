import { describe, expect, it } from 'vitest';
import type { CcGroup, CcPath } from '../../src/cc/controller.js';
import { OliaController } from '../../src/cc/olia.js';
import { RenoController } from '../../src/cc/reno.js';
import { FakeGroup, MSS, ackRound, lockstepWithReno, loss, subflow } from './harness.js';
import { singlePathThroughput, twoPathRun } from './netsim.js';

const olia = (path: CcPath, group: CcGroup) => new OliaController(path, group);
const reno = (path: CcPath) => new RenoController(path);
const asOlia = (cc: unknown) => cc as OliaController;

describe('OLIA', () => {
  it('tracks bytes between the last two losses and since the last loss', () => {
    const sub = subflow(olia);
    let t = ackRound(sub, 0, 50); // 10 segments acked
    expect(asOlia(sub.cc).interLossBytes()).toBe(10 * MSS);
    loss(sub, t); // l1 = 10 segments, l2 = 0
    t = ackRound(sub, t, 50); // 10 more (window 10 after halving 20)
    expect(asOlia(sub.cc).interLossBytes()).toBe(10 * MSS);
    for (let i = 0; i < 2; i++) t = ackRound(sub, t, 50);
    expect(asOlia(sub.cc).interLossBytes()).toBeGreaterThan(20 * MSS);
    loss(sub, t);
    // The interval just closed is now l1; l2 restarts.
    expect(asOlia(sub.cc).interLossBytes()).toBeGreaterThan(20 * MSS);
  });

  it('gives α > 0 to a best path without the largest window and α < 0 to the largest', () => {
    const group = new FakeGroup();
    // a: 10 ms RTT, few losses per byte per rtt² (the best path); b: 100 ms, the larger window.
    const a = subflow(olia, group);
    const b = subflow(olia, group);
    let t = ackRound(a, 0, 10);
    loss(a, t);
    t = ackRound(a, t, 10); // a: window 10, ℓ = 10 segments, metric 10/10²
    let u = 0;
    for (let i = 0; i < 2; i++) u = ackRound(b, u, 100);
    loss(b, u);
    u = ackRound(b, u, 100); // b: window 20, ℓ = 30 segments, metric 30/100²
    expect(a.cc.window()).toBeLessThan(b.cc.window());
    // |R| = 2, B \ M = {a}, M = {b}.
    expect(asOlia(a.cc).alpha()).toBeCloseTo(1 / 2, 12);
    expect(asOlia(b.cc).alpha()).toBeCloseTo(-1 / 2, 12);
    // One ACK on a: (w_a / rtt_a²) / (Σ w_p / rtt_p)² + α_a / w_a segments.
    const wa = a.cc.window() / MSS;
    const wb = b.cc.window() / MSS;
    const rateSum = wa / 10 + wb / 100;
    const perSegmentA = wa / 100 / rateSum ** 2 + 0.5 / wa;
    a.cc.onAck(t + 1, { ackedBytes: MSS, rttSample: 10, priorInFlight: wa * MSS, appLimited: false });
    // (window() rounds down to whole bytes, hence 2 digits.)
    expect(a.cc.window() / MSS - wa).toBeCloseTo(perSegmentA, 2);
    // On b the negative α outweighs the coupled term: b gives window up.
    ackRound(b, u, 100);
    expect(b.cc.window() / MSS).toBeLessThan(wb);
  });

  it('gives α = 0 to every path when the best paths already have the largest windows', () => {
    const group = new FakeGroup();
    const a = subflow(olia, group);
    const b = subflow(olia, group);
    let t = 0;
    for (let i = 0; i < 2; i++) t = ackRound(a, t, 10);
    loss(a, t);
    t = ackRound(a, t, 10); // a: window 20, the best metric and the largest window
    let u = ackRound(b, 0, 100);
    loss(b, u);
    u = ackRound(b, u, 100); // b: window 10
    expect(asOlia(a.cc).alpha()).toBe(0);
    expect(asOlia(b.cc).alpha()).toBe(0);
  });

  it('counts a non-OLIA sibling in the rate sum but not in the sets', () => {
    const group = new FakeGroup();
    const a = subflow(olia, group);
    const r = subflow(reno, group);
    let t = 0;
    for (let i = 0; i < 2; i++) {
      ackRound(a, t, 50);
      t = ackRound(r, t, 50);
    }
    loss(a, t);
    t = ackRound(a, t, 50);
    expect(asOlia(a.cc).alpha()).toBe(0);
    // Alone in R but sharing the sum with a Reno subflow of twice its window:
    // increase per RTT = w_a² / (w_a + w_r)² segments = (20 / 60)².
    const before = a.cc.window();
    ackRound(a, t, 50);
    expect((a.cc.window() - before) / MSS).toBeCloseTo((20 / 60) ** 2, 2);
  });

  it('alone in its group behaves as Reno (α = 0, increase 1/w per ACK; within one segment)', () => {
    const { coupled, reno: plain } = lockstepWithReno(olia, reno);
    for (let i = 0; i < coupled.length; i++) {
      expect(Math.abs(coupled[i]! - plain[i]!)).toBeLessThan(MSS);
    }
  });

  it('shifts its window to the less lossy, shorter path (two-path random loss)', () => {
    const seed = 0x0011a;
    console.log(`OLIA two-path seed ${seed}`);
    const coupled = twoPathRun(olia, seed);
    const uncoupled = twoPathRun(reno, seed);
    const single = singlePathThroughput(reno, seed);
    console.log(
      `share on the good path: OLIA ${coupled.shareGood.toFixed(3)}, ` +
        `uncoupled Reno ${uncoupled.shareGood.toFixed(3)}; ` +
        `throughput vs single-path Reno ${(coupled.throughput / single).toFixed(2)}`,
    );
    expect(coupled.shareGood).toBeGreaterThan(0.85);
    expect(coupled.shareGood).toBeGreaterThan(uncoupled.shareGood + 0.1);
    expect(coupled.throughput / single).toBeLessThan(1.05);
    expect(coupled.throughput / single).toBeGreaterThan(0.85);
  });
});
