import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ReplayWindow, REPLAY_WINDOW_SIZE } from '../src/replay-window.js';

describe('ReplayWindow (RFC 6479)', () => {
  it('is at least 2048 packets wide', () => {
    expect(REPLAY_WINDOW_SIZE).toBeGreaterThanOrEqual(2048);
  });

  it('agrees with a model that remembers everything', () => {
    const seed = 0x5eed;
    console.log(`replay window property seed ${seed}`);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.integer({ min: 0, max: 12_000 }), fc.integer({ min: -64, max: 64 }).map((d) => 2 ** 40 + d)),
          { maxLength: 400 },
        ),
        (counters) => {
          const w = new ReplayWindow();
          const seen = new Set<number>();
          let top = -1;
          for (const c of counters) {
            const expected = !seen.has(c) && (c > top || top - c < REPLAY_WINDOW_SIZE);
            expect(w.check(c)).toBe(expected);
            expect(w.accept(c)).toBe(expected);
            if (expected) {
              seen.add(c);
              top = Math.max(top, c);
            }
          }
          expect(w.highest).toBe(top);
        },
      ),
      { seed, numRuns: 2000 },
    );
  });

  it('a jump of many blocks clears the old bits', () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 100; i++) expect(w.accept(i)).toBe(true);
    expect(w.accept(100 + 128 * 32 * 3)).toBe(true);
    expect(w.accept(100 + 128 * 32 * 3 - 10)).toBe(true);
    expect(w.accept(5)).toBe(false); // too old now
  });
});
