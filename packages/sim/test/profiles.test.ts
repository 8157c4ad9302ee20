import { describe, expect, it } from 'vitest';
import { Link } from '../src/link.js';
import { Pair } from '../src/pair.js';
import { linkProfile, linkProfiles, type LinkProfileName } from '../src/profiles.js';
import { Echo, Pinger } from './support/endpoints.js';

const names = Object.keys(linkProfiles) as LinkProfileName[];

describe('link profiles', () => {
  it('has the named presets, each a valid set of link options', () => {
    expect(names.sort()).toEqual(['3g', 'dsl', 'lte', 'satellite', 'wifi']);
    for (const name of names) expect(() => new Link(linkProfiles[name])).not.toThrow();
    expect(linkProfiles.wifi).toMatchObject({ rateBps: 50e6, delayMs: 10 });
    expect(linkProfiles.lte).toMatchObject({ rateBps: 20e6, delayMs: 30 });
    expect(linkProfiles.lte.jitterMs).toBeGreaterThan(0);
    expect(2 * linkProfiles.satellite.delayMs!).toBe(600);
  });

  it('a ping over each profile sees about twice its one-way delay', () => {
    const seed = 8;
    console.log(`profiles ping: seed ${seed}`);
    for (const name of names) {
      const p = linkProfiles[name];
      const pinger = new Pinger([0], 50, 200, 100);
      new Pair(pinger, new Echo(), [{ forward: linkProfile(name, { loss: 0 }) }], { seed }).run();
      const rtts = pinger.rtts.get(0)!;
      expect(rtts, name).toHaveLength(50);
      const serialization = (2 * 100 * 8000) / p.rateBps!;
      const floor = 2 * p.delayMs! + serialization;
      expect(Math.min(...rtts), name).toBeGreaterThanOrEqual(floor - 1e-9);
      expect(Math.max(...rtts), name).toBeLessThanOrEqual(floor + 2 * p.jitterMs! + 1e-9);
    }
  });

  it('linkProfile returns a copy with overrides; the presets cannot be changed', () => {
    const mine = linkProfile('wifi', { rateBps: 1e6 });
    expect(mine.rateBps).toBe(1e6);
    expect(mine.delayMs).toBe(10);
    expect(linkProfiles.wifi.rateBps).toBe(50e6);
    (mine.queue as { ms: number }).ms = 1;
    expect(linkProfiles.wifi.queue).toEqual({ ms: 50 });
    expect(Object.isFrozen(linkProfiles.wifi)).toBe(true);
  });
});
