import { describe, expect, it } from 'vitest';
import type { SchedSubflow } from '../../src/sched/scheduler.js';
import { BackupScheduler } from '../../src/sched/backup.js';
import { OverflowScheduler } from '../../src/sched/overflow.js';
import { full, input, subflow } from './fixtures.js';

interface Case {
  name: string;
  subflows: SchedSubflow[];
  /** Hot-standby's choice. */
  backup: number[];
  /** Overflow's choice. */
  overflow: number[];
}

// Both policies side by side: they agree until the preferred path is full.
const cases: Case[] = [
  {
    name: 'the lowest-RTT regular subflow carries everything',
    subflows: [subflow(1, { srtt: 30 }), subflow(2, { srtt: 10 }), subflow(3, { srtt: 5, backup: true })],
    backup: [2],
    overflow: [2],
  },
  {
    name: 'preferred path full: hot-standby waits, overflow spills to the next regular path',
    subflows: [full(1, { srtt: 10 }), subflow(2, { srtt: 30 })],
    backup: [],
    overflow: [2],
  },
  {
    name: 'every regular path full: overflow spills onto a backup',
    subflows: [full(1, { srtt: 10 }), full(2, { srtt: 30 }), subflow(3, { srtt: 60, backup: true })],
    backup: [],
    overflow: [3],
  },
  {
    name: 'overflow spills in rank order: regular first, then backups by RTT',
    subflows: [full(1, { srtt: 10 }), subflow(2, { srtt: 80, backup: true }), subflow(3, { srtt: 40, backup: true }), subflow(4, { srtt: 90 })],
    backup: [],
    overflow: [4],
  },
  {
    name: 'the preferred path potentially failed: the next regular path takes over',
    subflows: [subflow(1, { srtt: 10, potentiallyFailed: true }), subflow(2, { srtt: 30 }), subflow(3, { srtt: 5, backup: true })],
    backup: [2],
    overflow: [2],
  },
  {
    name: 'the preferred path gone: the next regular path takes over',
    subflows: [subflow(2, { srtt: 30 }), subflow(3, { srtt: 5, backup: true })],
    backup: [2],
    overflow: [2],
  },
  {
    name: 'every regular path failed: the lowest-RTT backup takes over alone',
    subflows: [subflow(1, { potentiallyFailed: true }), subflow(2, { srtt: 60, backup: true }), subflow(3, { srtt: 40, backup: true })],
    backup: [3],
    overflow: [3],
  },
  {
    name: 'the standby backup full: hot-standby waits, overflow uses the other backup',
    subflows: [subflow(1, { potentiallyFailed: true }), subflow(2, { srtt: 60, backup: true }), full(3, { srtt: 40, backup: true })],
    backup: [],
    overflow: [2],
  },
  {
    name: 'potentially failed subflows are never used, backups included',
    subflows: [full(1), subflow(2, { backup: true, potentiallyFailed: true })],
    backup: [],
    overflow: [],
  },
  { name: 'nothing established', subflows: [], backup: [], overflow: [] },
];

describe('BackupScheduler (hot-standby) and OverflowScheduler', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(new BackupScheduler().pick(input(c.subflows))).toEqual(c.backup);
      expect(new OverflowScheduler().pick(input(c.subflows))).toEqual(c.overflow);
    });
  }

  it('are named backup and overflow', () => {
    expect(new BackupScheduler().name).toBe('backup');
    expect(new OverflowScheduler().name).toBe('overflow');
  });
});
