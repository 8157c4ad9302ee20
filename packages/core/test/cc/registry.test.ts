import { describe, expect, it } from 'vitest';
import { ccFactory, ccNames, congestionControllers, isCcName } from '../../src/cc/registry.js';
import { FakeGroup, MSS, subflow } from './harness.js';

describe('congestion controller registry', () => {
  it('lists the eight controllers', () => {
    expect([...ccNames].sort()).toEqual(['balia', 'bbr', 'cubic', 'cubic-ld', 'ledbat', 'lia', 'olia', 'reno']);
  });

  it('builds every controller by name, each answering to its name', () => {
    for (const name of ccNames) {
      const group = new FakeGroup();
      const { cc } = subflow(ccFactory(name), group);
      expect(cc.name).toBe(name);
      expect(cc.window()).toBeGreaterThanOrEqual(2 * MSS);
      expect(cc.ssthresh()).toBe(Infinity);
      // Window-based controllers leave pacing to the subflow; BBR paces from its model.
      if (name === 'bbr') expect(cc.pacingRate()).toBeGreaterThan(0);
      else expect(cc.pacingRate()).toBe(Infinity);
      expect(ccFactory(name)).toBe(congestionControllers[name]);
    }
  });

  it('builds independent controllers for each subflow', () => {
    const group = new FakeGroup();
    const a = subflow(ccFactory('lia'), group);
    const b = subflow(ccFactory('lia'), group);
    expect(a.cc).not.toBe(b.cc);
    a.cc.onRtoExpired(0);
    expect(a.cc.window()).toBe(MSS);
    expect(b.cc.window()).toBe(10 * MSS);
  });

  it('rejects an unknown name with the list of valid ones', () => {
    expect(() => ccFactory('vegas')).toThrow(Error);
    expect(() => ccFactory('vegas')).toThrow(/"vegas".*reno, cubic, cubic-ld, lia, olia, balia, ledbat, bbr/);
    // Not fooled by names every object has.
    expect(() => ccFactory('toString')).toThrow(/valid names/);
    expect(() => ccFactory('')).toThrow(/valid names/);
    expect(isCcName('constructor')).toBe(false);
    expect(isCcName('cubic')).toBe(true);
  });
});
