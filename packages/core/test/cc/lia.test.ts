import { describe, expect, it } from 'vitest';
import type { CcPath, CcGroup } from '../../src/cc/controller.js';
import { LiaController } from '../../src/cc/lia.js';
import { RenoController } from '../../src/cc/reno.js';
import { FakeGroup, MSS, type Sub, ackRound, lockstepWithReno, loss, subflow } from './harness.js';
import { singlePathThroughput, twoPathRun } from './netsim.js';

const lia = (path: CcPath, group: CcGroup) => new LiaController(path, group);
const reno = (path: CcPath) => new RenoController(path);

/** Two LIA subflows in one group, both in congestion avoidance at 20 segments. */
function pairInAvoidance(rttA: number, rttB: number): { a: Sub; b: Sub; t: number } {
  const group = new FakeGroup();
  const a = subflow(lia, group);
  const b = subflow(lia, group);
  let t = 0;
  for (let i = 0; i < 2; i++) {
    ackRound(a, t, rttA);
    t = ackRound(b, t, rttB);
  }
  loss(a, t);
  loss(b, t);
  ackRound(a, t, rttA); // the recovery rounds
  t = ackRound(b, t, rttB);
  return { a, b, t };
}

describe('LIA (RFC 6356)', () => {
  it('computes alpha by RFC 6356 §3', () => {
    const { a, b } = pairInAvoidance(50, 50);
    const wa = a.cc.window();
    const wb = b.cc.window();
    const expected = ((wa + wb) * Math.max(wa / 2500, wb / 2500)) / (wa / 50 + wb / 50) ** 2;
    // window() rounds down to whole bytes; alpha() uses the exact window.
    expect((a.cc as LiaController).alpha()!.alpha).toBeCloseTo(expected, 4);
    // Equal windows and RTTs: alpha = 1/n.
    expect(expected).toBeCloseTo(0.5, 2);
  });

  it('two subflows with equal RTT together grow no faster than one Reno flow', () => {
    const { a, b, t } = pairInAvoidance(50, 50);
    const rounds = 20;
    const before = a.cc.window() + b.cc.window();
    for (let i = 0; i < rounds; i++) ackRound([a, b], t + i * 50, 50);
    const perRtt = (a.cc.window() + b.cc.window() - before) / rounds / MSS;
    // alpha = 1/2 and each subflow acks its own window: 1/4 segment each, 1/2 together.
    // (RFC 6356 makes the pair as aggressive as one TCP at equilibrium because each loss
    // halves only one of the two windows; the raw increase is 1/n of Reno's.)
    expect(perRtt).toBeLessThanOrEqual(1);
    expect(perRtt).toBeCloseTo(0.5, 1);
  });

  it('with unequal RTTs grows no faster in total than Reno on the best path', () => {
    const { a, b, t } = pairInAvoidance(20, 80);
    // Over 80 ms the 20 ms path acks 4 windows; a Reno flow there would gain 4 segments.
    const before = a.cc.window() + b.cc.window();
    const start = t;
    for (let i = 0; i < 40; i++) {
      for (let k = 0; k < 4; k++) ackRound(a, start + i * 80 + k * 20, 20);
      ackRound(b, start + i * 80, 80);
    }
    const perBestRtt = (a.cc.window() + b.cc.window() - before) / (40 * 4) / MSS;
    expect(perBestRtt).toBeGreaterThan(0);
    expect(perBestRtt).toBeLessThanOrEqual(1);
  });

  it('never grows a subflow faster than Reno would on it alone', () => {
    // A long, wide path next to a short, narrow one: the coupled term alone would give the
    // long path several segments per RTT; RFC 6356 §3 caps it at bytes_acked * MSS / cwnd.
    const group = new FakeGroup();
    const long = subflow(lia, group);
    const short = subflow(lia, group);
    short.path.setRtt(10);
    let t = 0;
    for (let i = 0; i < 3; i++) t = ackRound(long, t, 1000);
    loss(long, t);
    t = ackRound(long, t, 1000);
    const coupling = (long.cc as LiaController).alpha()!;
    const before = long.cc.window();
    expect((coupling.alpha * MSS) / coupling.cwndTotal).toBeGreaterThan(MSS / before);
    ackRound(long, t, 1000);
    const growth = (long.cc.window() - before) / MSS;
    expect(growth).toBeLessThanOrEqual(1);
    expect(growth).toBeGreaterThan(0.95);
    expect(short.cc.window()).toBe(10 * MSS);
  });

  it('alone in its group behaves as Reno (within one segment: per-ACK vs byte counting)', () => {
    const { coupled, reno: plain } = lockstepWithReno(lia, reno);
    for (let i = 0; i < coupled.length; i++) {
      expect(Math.abs(coupled[i]! - plain[i]!)).toBeLessThan(MSS);
    }
  });

  it('ignores siblings without an RTT sample and works before its own', () => {
    const group = new FakeGroup();
    const a = subflow(lia, group);
    subflow(lia, group); // never acked: srtt 0
    a.cc.onCongestionEvent(0, { lostBytes: MSS, priorInFlight: 20 * MSS });
    // No RTT yet: plain Reno increase.
    a.cc.onAck(200, { ackedBytes: MSS, priorInFlight: 10 * MSS, appLimited: false });
    expect(a.cc.window()).toBe(10 * MSS + MSS / 10);
    a.path.setRtt(50);
    expect((a.cc as LiaController).alpha()!.alpha).toBe(1);
  });

  it('moves traffic toward the less lossy, shorter path (two-path random loss)', () => {
    const seed = 0x11a;
    console.log(`LIA two-path seed ${seed}`);
    const coupled = twoPathRun(lia, seed);
    const uncoupled = twoPathRun(reno, seed);
    const single = singlePathThroughput(reno, seed);
    console.log(
      `share on the good path: LIA ${coupled.shareGood.toFixed(3)}, ` +
        `uncoupled Reno ${uncoupled.shareGood.toFixed(3)}; ` +
        `throughput vs single-path Reno ${(coupled.throughput / single).toFixed(2)}`,
    );
    expect(coupled.shareGood).toBeGreaterThan(uncoupled.shareGood + 0.04);
    // RFC 6356 §2 goals 1 and 2: about what one TCP gets on the best path, not more.
    expect(coupled.throughput / single).toBeLessThan(1.05);
    expect(coupled.throughput / single).toBeGreaterThan(0.8);
    expect(uncoupled.throughput / single).toBeGreaterThan(1.1);
  });
});
