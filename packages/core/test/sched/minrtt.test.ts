import { describe, expect, it } from 'vitest';
import type { SchedSubflow } from '../../src/sched/scheduler.js';
import { MinRttScheduler } from '../../src/sched/minrtt.js';
import { full, input, subflow } from './fixtures.js';

interface Case {
  name: string;
  subflows: SchedSubflow[];
  want: number[];
}

const cases: Case[] = [
  {
    name: 'picks the lowest RTT with room',
    subflows: [subflow(1, { srtt: 40 }), subflow(2, { srtt: 10 }), subflow(3, { srtt: 25 })],
    want: [2],
  },
  {
    // minRTT fills paths in RTT order: a full fast path does not hold data back.
    name: 'uses the next-fastest subflow with room when the fastest is full',
    subflows: [full(1, { srtt: 10 }), subflow(2, { srtt: 200 })],
    want: [2],
  },
  {
    name: 'waits when every usable regular subflow is full',
    subflows: [full(1, { srtt: 10 }), full(2, { srtt: 30 })],
    want: [],
  },
  {
    name: 'does not spill onto a backup while a regular subflow is usable but full',
    subflows: [full(1, { srtt: 10 }), subflow(2, { srtt: 5, backup: true })],
    want: [],
  },
  {
    name: 'uses a backup when no regular subflow is usable',
    subflows: [subflow(1, { srtt: 10, potentiallyFailed: true }), subflow(2, { srtt: 50, backup: true })],
    want: [2],
  },
  {
    name: 'uses the fastest backup with room',
    subflows: [subflow(3, { srtt: 30, backup: true }), full(4, { srtt: 5, backup: true }), subflow(5, { srtt: 20, backup: true })],
    want: [5],
  },
  {
    name: 'never picks a potentially failed subflow, however fast',
    subflows: [subflow(1, { srtt: 1, potentiallyFailed: true }), subflow(2, { srtt: 90 })],
    want: [2],
  },
  {
    name: 'waits when everything is potentially failed',
    subflows: [subflow(1, { potentiallyFailed: true }), subflow(2, { backup: true, potentiallyFailed: true })],
    want: [],
  },
  {
    name: 'prefers a measured subflow over one without an RTT sample',
    subflows: [subflow(1, { srtt: 0 }), subflow(2, { srtt: 300 })],
    want: [2],
  },
  {
    name: 'probes the unmeasured subflow once the measured ones are full',
    subflows: [subflow(1, { srtt: 0 }), full(2, { srtt: 300 })],
    want: [1],
  },
  {
    name: 'with no sample anywhere, the lowest id with room',
    subflows: [subflow(7, { srtt: 0 }), subflow(3, { srtt: 0 }), full(1, { srtt: 0 })],
    want: [3],
  },
  {
    name: 'breaks RTT ties by id',
    subflows: [subflow(9, { srtt: 15 }), subflow(4, { srtt: 15 })],
    want: [4],
  },
  { name: 'waits with no subflow at all', subflows: [], want: [] },
];

describe('MinRttScheduler', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(new MinRttScheduler().pick(input(c.subflows))).toEqual(c.want);
    });
  }

  it('is named minrtt and keeps no state between picks', () => {
    const s = new MinRttScheduler();
    expect(s.name).toBe('minrtt');
    const sf = [subflow(1, { srtt: 10 }), subflow(2, { srtt: 20 })];
    expect([s.pick(input(sf)), s.pick(input(sf)), s.pick(input(sf))]).toEqual([[1], [1], [1]]);
  });
});
