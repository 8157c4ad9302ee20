import { describe, expect, it } from 'vitest';
import { parseArgs, usage } from '../bench/suite/main.js';
import { formatRate, measure } from '../bench/suite/micro.js';
import { sections } from '../bench/suite/sections.js';

describe('the sections that run without the apps', () => {
  it('are registered after the app sections, with ids --only accepts and --help lists', () => {
    const ids = sections.map((s) => s.id);
    expect(ids.slice(-3)).toEqual(['engine', 'schedulers', 'micro']);
    expect(new Set(ids).size).toBe(ids.length);
    const opts = parseArgs(['--only', 'micro,engine,schedulers', '--seed', '3'], sections, {});
    expect(opts.only).toEqual(['micro', 'engine', 'schedulers']);
    const help = usage(sections);
    for (const id of ['engine', 'schedulers', 'micro']) expect(help).toMatch(new RegExp(`^  ${id} +\\S`, 'm'));
  });
});

describe('micro: measure', () => {
  it('times every sample after a warm-up and reports the median between the extremes', () => {
    const calls: number[] = [];
    const f = measure('demo', { name: 'sum', unit: 'add', iterations: 20_000, run: (n) => (calls.push(n), n) }, 5);
    // Two warm-up runs of half the iterations, then one run per sample.
    expect(calls).toEqual([10_000, 10_000, 20_000, 20_000, 20_000, 20_000, 20_000]);
    expect(f).toMatchObject({ module: 'demo', name: 'sum', unit: 'add' });
    expect(f.median).toBeGreaterThan(0);
    expect(f.min).toBeLessThanOrEqual(f.median);
    expect(f.median).toBeLessThanOrEqual(f.max);
  });

  it('refuses a bench whose result is NaN (its work could have been optimized away unseen)', () => {
    expect(() => measure('demo', { name: 'bad', iterations: 10, run: () => NaN }, 3)).toThrow(/demo\/bad: the bench returned NaN/);
  });

  it('formats rates with M and k', () => {
    expect([formatRate(2_500_000), formatRate(12_340), formatRate(999)]).toEqual(['2.50 M', '12.3 k', '999']);
  });
});
