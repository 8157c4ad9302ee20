import { describe, expect, it } from 'vitest';
import { compareByRtt, fastest, fastestWithRoom, usableTier, withRoom } from '../../src/sched/candidates.js';
import { full, subflow } from './fixtures.js';

describe('usableTier', () => {
  const cases = [
    {
      name: 'regular subflows only, when one is usable',
      subflows: [subflow(1), subflow(2, { backup: true }), subflow(3)],
      want: [1, 3],
    },
    {
      name: 'a full regular subflow still counts as usable',
      subflows: [full(1), subflow(2, { backup: true })],
      want: [1],
    },
    {
      name: 'backups when every regular subflow is potentially failed',
      subflows: [subflow(1, { potentiallyFailed: true }), subflow(2, { backup: true }), subflow(3, { backup: true })],
      want: [2, 3],
    },
    {
      name: 'backups when there is no regular subflow',
      subflows: [subflow(4, { backup: true })],
      want: [4],
    },
    {
      name: 'potentially failed backups are left out too',
      subflows: [subflow(1, { potentiallyFailed: true }), subflow(2, { backup: true, potentiallyFailed: true })],
      want: [],
    },
    { name: 'nothing from nothing', subflows: [], want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(usableTier(c.subflows).map((s) => s.id)).toEqual(c.want);
    });
  }
});

describe('compareByRtt / fastest', () => {
  it('orders by srtt, then id', () => {
    const list = [subflow(3, { srtt: 30 }), subflow(2, { srtt: 10 }), subflow(1, { srtt: 30 })];
    expect([...list].sort(compareByRtt).map((s) => s.id)).toEqual([2, 1, 3]);
  });

  it('ranks an unknown RTT after every measured one', () => {
    const list = [subflow(1, { srtt: 0 }), subflow(2, { srtt: 500 }), subflow(3, { srtt: 40 })];
    expect([...list].sort(compareByRtt).map((s) => s.id)).toEqual([3, 2, 1]);
    expect(fastest(list)?.id).toBe(3);
  });

  it('with no sample anywhere, the lowest id goes first', () => {
    const list = [subflow(5, { srtt: 0 }), subflow(2, { srtt: 0 }), subflow(9, { srtt: 0 })];
    expect(fastest(list)?.id).toBe(2);
  });

  it('fastestWithRoom skips full subflows; withRoom keeps input order', () => {
    const list = [full(1, { srtt: 5 }), subflow(2, { srtt: 50 }), subflow(3, { srtt: 20 })];
    expect(fastest(list)?.id).toBe(1);
    expect(fastestWithRoom(list)?.id).toBe(3);
    expect(withRoom(list).map((s) => s.id)).toEqual([2, 3]);
    expect(fastestWithRoom([full(1)])).toBeUndefined();
    expect(fastest([])).toBeUndefined();
  });

  it('treats NaN or negative sendable as no room', () => {
    expect(fastestWithRoom([subflow(1, { sendable: Number.NaN }), subflow(2, { sendable: -5 })])).toBeUndefined();
  });
});
