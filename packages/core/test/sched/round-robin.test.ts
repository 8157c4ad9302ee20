import { describe, expect, it } from 'vitest';
import { RoundRobinScheduler } from '../../src/sched/round-robin.js';
import { full, input, subflow } from './fixtures.js';

describe('RoundRobinScheduler', () => {
  it('rotates through the subflows in id order, whatever their RTT', () => {
    const s = new RoundRobinScheduler();
    const sf = [subflow(3, { srtt: 5 }), subflow(1, { srtt: 100 }), subflow(2, { srtt: 50 })];
    const picks = Array.from({ length: 7 }, () => s.pick(input(sf)));
    expect(picks).toEqual([[1], [2], [3], [1], [2], [3], [1]]);
  });

  it('skips a subflow with no room and comes back to it later', () => {
    const s = new RoundRobinScheduler();
    expect(s.pick(input([subflow(1), subflow(2), subflow(3)]))).toEqual([1]);
    expect(s.pick(input([subflow(1), full(2), subflow(3)]))).toEqual([3]);
    expect(s.pick(input([subflow(1), subflow(2), subflow(3)]))).toEqual([1]);
    expect(s.pick(input([subflow(1), subflow(2), subflow(3)]))).toEqual([2]);
  });

  it('keeps its place when the subflow it served last goes away', () => {
    const s = new RoundRobinScheduler();
    const all = [subflow(1), subflow(2), subflow(3)];
    expect(s.pick(input(all))).toEqual([1]);
    expect(s.pick(input(all))).toEqual([2]);
    expect(s.pick(input([subflow(1), subflow(3)]))).toEqual([3]);
    expect(s.pick(input([subflow(1), subflow(3), subflow(4)]))).toEqual([4]);
    expect(s.pick(input([subflow(1), subflow(3), subflow(4)]))).toEqual([1]);
  });

  it('leaves out backups and potentially failed subflows while a regular one is usable', () => {
    const s = new RoundRobinScheduler();
    const sf = [subflow(1), subflow(2, { backup: true }), subflow(3, { potentiallyFailed: true }), subflow(4)];
    const picks = Array.from({ length: 4 }, () => s.pick(input(sf)));
    expect(picks).toEqual([[1], [4], [1], [4]]);
  });

  it('rotates over the backups when no regular subflow is usable', () => {
    const s = new RoundRobinScheduler();
    const sf = [subflow(1, { potentiallyFailed: true }), subflow(2, { backup: true }), subflow(5, { backup: true })];
    expect([s.pick(input(sf)), s.pick(input(sf)), s.pick(input(sf))]).toEqual([[2], [5], [2]]);
  });

  it('waits when no usable subflow has room, without moving the cursor', () => {
    const s = new RoundRobinScheduler();
    expect(s.pick(input([subflow(1), subflow(2)]))).toEqual([1]);
    expect(s.pick(input([full(1), full(2), subflow(3, { backup: true })]))).toEqual([]);
    expect(s.pick(input([subflow(1), subflow(2)]))).toEqual([2]);
  });

  it('instances do not share a cursor', () => {
    const a = new RoundRobinScheduler();
    const b = new RoundRobinScheduler();
    const sf = [subflow(1), subflow(2)];
    expect(a.pick(input(sf))).toEqual([1]);
    expect(b.pick(input(sf))).toEqual([1]);
    expect(a.name).toBe('roundrobin');
  });
});
