import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER, isSchedulerName, schedulerFactory, schedulerNames, schedulers } from '../../src/sched/registry.js';
import { input, subflow } from './fixtures.js';

const expected = ['minrtt', 'roundrobin', 'redundant', 'backup', 'overflow', 'blest', 'ecf'];

describe('scheduler registry', () => {
  it('lists the seven schedulers, minRTT the default', () => {
    expect([...schedulerNames].sort()).toEqual([...expected].sort());
    expect(Object.keys(schedulers).sort()).toEqual([...expected].sort());
    expect(DEFAULT_SCHEDULER).toBe('minrtt');
  });

  for (const name of expected) {
    it(`${name}: the factory builds a scheduler of that name that can pick`, () => {
      const make = schedulerFactory(name);
      const scheduler = make();
      expect(scheduler.name).toBe(name);
      expect(scheduler.pick(input([subflow(1)]))).toEqual([1]);
    });
  }

  it('gives every call a fresh instance, so state is never shared', () => {
    const make = schedulerFactory('roundrobin');
    expect(make()).not.toBe(make());
    const sf = [subflow(1), subflow(2)];
    const a = make();
    expect(a.pick(input(sf))).toEqual([1]);
    expect(make().pick(input(sf))).toEqual([1]);
    expect(a.pick(input(sf))).toEqual([2]);
  });

  it('rejects an unknown name with an error listing the valid ones', () => {
    expect(() => schedulerFactory('fastest')).toThrow(/unknown scheduler "fastest"/);
    expect(() => schedulerFactory('fastest')).toThrow(/minrtt, roundrobin, redundant, backup, overflow, blest, ecf/);
    expect(() => schedulerFactory('MinRTT')).toThrow(Error);
    expect(() => schedulerFactory('')).toThrow(Error);
  });

  it('does not mistake inherited object keys for schedulers', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(isSchedulerName(name)).toBe(false);
      expect(() => schedulerFactory(name)).toThrow(/valid names/);
    }
  });
});
