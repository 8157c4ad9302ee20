import { describe, expect, it } from 'vitest';
import type { SchedSubflow } from '../../src/sched/scheduler.js';
import { RedundantScheduler } from '../../src/sched/redundant.js';
import { full, input, subflow } from './fixtures.js';

const cases: { name: string; subflows: SchedSubflow[]; want: number[] }[] = [
  {
    name: 'returns every usable regular subflow with room',
    subflows: [subflow(1, { srtt: 10 }), subflow(2, { srtt: 200 }), subflow(3, { srtt: 0 })],
    want: [1, 2, 3],
  },
  {
    name: 'leaves out full subflows',
    subflows: [subflow(1), full(2), subflow(3)],
    want: [1, 3],
  },
  {
    name: 'leaves out backups while a regular subflow is usable, even a full one',
    subflows: [full(1), subflow(2, { backup: true })],
    want: [],
  },
  {
    name: 'leaves out potentially failed subflows',
    subflows: [subflow(1), subflow(2, { potentiallyFailed: true })],
    want: [1],
  },
  {
    name: 'copies onto every backup with room when no regular subflow is usable',
    subflows: [subflow(1, { potentiallyFailed: true }), subflow(2, { backup: true }), full(3, { backup: true }), subflow(4, { backup: true })],
    want: [2, 4],
  },
  {
    name: 'waits when none has room',
    subflows: [full(1), full(2)],
    want: [],
  },
];

describe('RedundantScheduler', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(new RedundantScheduler().pick(input(c.subflows))).toEqual(c.want);
    });
  }

  it('is named redundant', () => {
    expect(new RedundantScheduler().name).toBe('redundant');
  });
});
