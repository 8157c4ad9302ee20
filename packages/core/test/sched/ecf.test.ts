import { describe, expect, it } from 'vitest';
import { DEFAULT_ECF_BETA, EcfScheduler } from '../../src/sched/ecf.js';
import { MSS, full, input, subflow } from './fixtures.js';

// A full fast path (10 ms) and a slow one (100 ms) with room; delta = 1 ms.
const cwnd = 10 * MSS;
const fast = full(1, { srtt: 10, rttVar: 1, cwnd });
const slow = subflow(2, { srtt: 100, rttVar: 1, cwnd });

describe('EcfScheduler', () => {
  it('uses the fastest subflow whenever it has room', () => {
    const s = new EcfScheduler();
    expect(s.pick(input([subflow(1, { srtt: 10 }), slow], { unsentBytes: MSS }))).toEqual([1]);
  });

  it('waits for the fast path when little data is queued and the RTT ratio is high', () => {
    // Fast: (1 + 1) * 10 = 20 ms < 101 ms; slow: 1 * 100 = 100 ms >= 2 * 10 + 1.
    const s = new EcfScheduler();
    expect(s.pick(input([fast, slow], { unsentBytes: cwnd, peerWindowRemaining: 64 * 1024 }))).toEqual([]);
    expect(s.isWaiting).toBe(true);
  });

  it('uses the slow path when much data is queued', () => {
    // Fast: (1 + 100) * 10 = 1010 ms, slower than one slow RTT.
    const s = new EcfScheduler();
    expect(s.pick(input([fast, slow], { unsentBytes: 100 * cwnd }))).toEqual([2]);
    expect(s.isWaiting).toBe(false);
  });

  it('uses the slow path when it is nearly as fast as waiting would be', () => {
    // Fast: 1.1 * 10 = 11 ms < 21 ms, but the slow path needs one RTT, 20 ms < 2 * 10 + 1.
    const s = new EcfScheduler();
    const near = subflow(2, { srtt: 20, rttVar: 1, cwnd });
    expect(s.pick(input([fast, near], { unsentBytes: MSS }))).toEqual([2]);
  });

  it('charges the slow path at least one full RTT, even for less than a window', () => {
    // One segment queued: fast 1.1 * 10 = 11 ms < 51 ms; slow one RTT = 50 ms >= 21 ms.
    // Charging only 0.1 of a slow RTT (5 ms) would wrongly pick the slow path.
    const s = new EcfScheduler();
    const mid = subflow(2, { srtt: 50, rttVar: 1, cwnd });
    expect(s.pick(input([fast, mid], { unsentBytes: MSS }))).toEqual([]);
  });

  it('keeps waiting within the hysteresis margin once it has chosen to wait', () => {
    // k = 10 windows: fast 11 * 10 = 110 ms, between 101 and 1.25 * 101.
    const middle = { unsentBytes: 10 * cwnd };
    const fresh = new EcfScheduler();
    expect(fresh.pick(input([fast, slow], middle))).toEqual([2]);

    const primed = new EcfScheduler();
    expect(primed.pick(input([fast, slow], { unsentBytes: cwnd }))).toEqual([]);
    expect(primed.pick(input([fast, slow], middle))).toEqual([]);

    // With no hysteresis the same sequence switches.
    const flat = new EcfScheduler({ beta: 0 });
    expect(flat.pick(input([fast, slow], { unsentBytes: cwnd }))).toEqual([]);
    expect(flat.pick(input([fast, slow], middle))).toEqual([2]);
  });

  it('leaves the waiting state once the slow path is clearly worth it', () => {
    const s = new EcfScheduler();
    expect(s.pick(input([fast, slow], { unsentBytes: cwnd }))).toEqual([]);
    expect(s.pick(input([fast, slow], { unsentBytes: 100 * cwnd }))).toEqual([2]);
    expect(s.isWaiting).toBe(false);
    expect(s.pick(input([fast, slow], { unsentBytes: 10 * cwnd }))).toEqual([2]);
  });

  it('counts RTT variation as margin against the slow path', () => {
    // delta = 30: fast 20 ms < 130 ms; slow 100 ms >= 2 * 10 + 30, so it waits.
    const s = new EcfScheduler();
    expect(s.pick(input([fast, { ...slow, rttVar: 30 }], { unsentBytes: cwnd }))).toEqual([]);
    // delta = 85: now the slow path (100 ms) beats 2 * 10 + 85 = 105 ms.
    expect(new EcfScheduler().pick(input([fast, { ...slow, rttVar: 85 }], { unsentBytes: cwnd }))).toEqual([2]);
  });

  it('waits when no usable subflow has room; never uses failed or standby paths', () => {
    const s = new EcfScheduler();
    const lots = { unsentBytes: 1000 * cwnd };
    expect(s.pick(input([fast, full(2, { srtt: 100 })], lots))).toEqual([]);
    expect(s.pick(input([fast, subflow(2, { srtt: 100, potentiallyFailed: true })], lots))).toEqual([]);
    expect(s.pick(input([fast, subflow(2, { srtt: 100, backup: true })], lots))).toEqual([]);
  });

  it('sends on a path without an RTT sample rather than comparing with none', () => {
    expect(new EcfScheduler().pick(input([fast, subflow(2, { srtt: 0 })], { unsentBytes: MSS }))).toEqual([2]);
  });

  it('survives a collapsed window without dividing by zero', () => {
    const s = new EcfScheduler();
    const zero = full(1, { srtt: 10, rttVar: 1, cwnd: 0, mss: 0 });
    expect(s.pick(input([zero, slow], { unsentBytes: 100 * cwnd }))).toEqual([2]);
  });

  it('defaults beta to 0.25 and rejects nonsense', () => {
    expect(new EcfScheduler().beta).toBe(DEFAULT_ECF_BETA);
    expect(DEFAULT_ECF_BETA).toBe(0.25);
    expect(new EcfScheduler().name).toBe('ecf');
    for (const beta of [-0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new EcfScheduler({ beta })).toThrow(RangeError);
    }
  });
});
