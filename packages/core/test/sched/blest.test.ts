import { describe, expect, it } from 'vitest';
import { BlestScheduler, DEFAULT_BLEST_LAMBDA, blestFastPathBytes } from '../../src/sched/blest.js';
import { MSS, full, input, subflow } from './fixtures.js';

// A fast path (10 ms) that is full and a slow one (200 ms) with room: RTT ratio 20.
const fast = full(1, { srtt: 10, cwnd: 10 * MSS });
const slow = subflow(2, { srtt: 200 });
// X = (cwnd + MSS * (r - 1) / 2) * r = (14000 + 1400 * 19 / 2) * 20
const X = (10 * MSS + (MSS * 19) / 2) * 20;

describe('blestFastPathBytes', () => {
  it('is one window for one fast RTT', () => {
    expect(blestFastPathBytes(fast, 10)).toBe(10 * MSS);
  });

  it('adds one segment of growth per round in congestion avoidance', () => {
    expect(X).toBe(546_000);
    expect(blestFastPathBytes(fast, 200)).toBe(X);
    // Three rounds: windows of 10, 11 and 12 segments on average (10 + 1) * 3 = 33.
    expect(blestFastPathBytes(fast, 30)).toBe(33 * MSS);
  });
});

describe('BlestScheduler', () => {
  it('uses the fastest subflow whenever it has room', () => {
    const s = new BlestScheduler();
    expect(s.pick(input([subflow(1, { srtt: 10 }), slow], { peerWindowRemaining: 2 * MSS }))).toEqual([1]);
  });

  it('waits for the fast path when the RTT ratio is high and the peer window small', () => {
    const s = new BlestScheduler();
    expect(s.pick(input([fast, slow], { peerWindowRemaining: 64 * 1024 }))).toEqual([]);
  });

  it('uses the slow path when the peer window is large', () => {
    const s = new BlestScheduler();
    expect(s.pick(input([fast, slow], { peerWindowRemaining: 4 * 1024 * 1024 }))).toEqual([2]);
  });

  it('uses the slow path with a modest window when the paths are alike', () => {
    const s = new BlestScheduler();
    // r = 1.5: X = (14000 + 350) * 1.5 = 21525, times 1.2 = 25830 < 64 KiB.
    const similar = subflow(2, { srtt: 15 });
    expect(s.pick(input([fast, similar], { peerWindowRemaining: 64 * 1024 }))).toEqual([2]);
  });

  it('counts this chunk on the slow path against the window (lambda 1, at the edge)', () => {
    const s = new BlestScheduler({ lambda: 1 });
    expect(s.pick(input([fast, slow], { peerWindowRemaining: X + MSS }))).toEqual([2]);
    expect(s.pick(input([fast, slow], { peerWindowRemaining: X + MSS - 1 }))).toEqual([]);
    // A chunk shorter than one MSS takes only its own length.
    expect(s.pick(input([fast, slow], { peerWindowRemaining: X + 100, unsentBytes: 100 }))).toEqual([2]);
  });

  it('a larger lambda waits more readily', () => {
    const window = X + MSS + 1000;
    expect(new BlestScheduler({ lambda: 1 }).pick(input([fast, slow], { peerWindowRemaining: window }))).toEqual([2]);
    expect(new BlestScheduler({ lambda: 1.3 }).pick(input([fast, slow], { peerWindowRemaining: window }))).toEqual([]);
  });

  it('waits when no usable subflow has room', () => {
    const s = new BlestScheduler();
    expect(s.pick(input([fast, full(2, { srtt: 200 })], { peerWindowRemaining: 1 << 30 }))).toEqual([]);
  });

  it('sends on a path without an RTT sample rather than estimating with none', () => {
    const s = new BlestScheduler();
    expect(s.pick(input([fast, subflow(2, { srtt: 0 })], { peerWindowRemaining: 2 * MSS }))).toEqual([2]);
  });

  it('ignores backups while a regular subflow is usable, and potentially failed ones always', () => {
    const s = new BlestScheduler();
    const window = { peerWindowRemaining: 1 << 30 };
    expect(s.pick(input([fast, subflow(2, { srtt: 200, backup: true })], window))).toEqual([]);
    expect(s.pick(input([fast, subflow(2, { srtt: 200, potentiallyFailed: true })], window))).toEqual([]);
    // With the fast path failed, the slow path is the fastest usable one.
    expect(s.pick(input([{ ...fast, potentiallyFailed: true }, slow], { peerWindowRemaining: 2 * MSS }))).toEqual([2]);
  });

  it('defaults lambda to 1.2 and rejects nonsense', () => {
    expect(new BlestScheduler().lambda).toBe(DEFAULT_BLEST_LAMBDA);
    expect(DEFAULT_BLEST_LAMBDA).toBe(1.2);
    expect(new BlestScheduler().name).toBe('blest');
    for (const lambda of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new BlestScheduler({ lambda })).toThrow(RangeError);
    }
  });
});
