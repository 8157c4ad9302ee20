import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { DEFAULT_RETRY_POLICY, backoffCeiling, backoffDelay, resolveRetryPolicy } from '../src/backoff.js';
import { PathManagerError } from '../src/errors.js';

const SEED = 0xbac0ff;

describe('retry backoff', () => {
  it('the ceiling doubles from baseMs and stops at maxMs', () => {
    const p = resolveRetryPolicy({ baseMs: 500, factor: 2, maxMs: 6000 });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n, p))).toEqual([500, 1000, 2000, 4000, 6000, 6000, 6000]);
  });

  it('jitter only shortens, within (ceiling·(1−jitter), ceiling], and is reproducible from the seed', () => {
    console.log('backoff seed', SEED);
    const p = resolveRetryPolicy({ jitter: 0.5 });
    const a = new SeededRandom(SEED);
    const b = new SeededRandom(SEED);
    const seen = new Set<number>();
    for (let n = 1; n <= 40; n++) {
      const c = backoffCeiling(((n - 1) % 8) + 1, p);
      const d = backoffDelay(((n - 1) % 8) + 1, p, a);
      expect(d).toBeLessThanOrEqual(c);
      expect(d).toBeGreaterThan(c * 0.5);
      expect(backoffDelay(((n - 1) % 8) + 1, p, b)).toBe(d);
      seen.add(d / c);
    }
    expect(seen.size).toBeGreaterThan(30); // it really is random
  });

  it('without jitter the delay is the ceiling', () => {
    const p = resolveRetryPolicy({ jitter: 0, baseMs: 100, factor: 3, maxMs: 10_000 });
    const r = new SeededRandom(SEED);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, r))).toEqual([100, 300, 900, 2700, 8100]);
  });

  it('defaults are sane and bad policies are refused with ERR_PM_BAD_OPTION', () => {
    expect(resolveRetryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
    for (const bad of [{ baseMs: -1 }, { factor: 0.5 }, { maxMs: 10, baseMs: 20 }, { jitter: 1.5 }, { maxAttempts: 0 }, { maxAttempts: 2.5 }, { baseMs: NaN }]) {
      try {
        resolveRetryPolicy(bad);
        expect.unreachable(JSON.stringify(bad));
      } catch (e) {
        expect(e).toBeInstanceOf(PathManagerError);
        expect((e as PathManagerError).code).toBe('ERR_PM_BAD_OPTION');
      }
    }
  });
});
