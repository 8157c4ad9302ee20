import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineHeap } from '../src/deadline-heap.js';

describe('DeadlineHeap', () => {
  it('gives the earliest current deadline and takes due keys earliest first', () => {
    const h = new DeadlineHeap<string>();
    h.set('a', 30);
    h.set('b', 10);
    h.set('c', 20);
    h.set('b', 40); // moved: the old 10 is stale
    h.set('d', Infinity);
    expect(h.peek()).toBe(20);
    expect(h.takeDue(30)).toEqual(['c', 'a']);
    expect(h.peek()).toBe(40);
    h.delete('b');
    expect(h.peek()).toBe(Infinity);
    expect(h.size).toBe(0);
  });

  it('agrees with a plain scan under random updates (fast-check, seed printed)', () => {
    const seed = Number(process.env.MPTUN_SEED ?? 0x5eed);
    console.log(`deadline-heap seed ${seed}`);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 30 }), at: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(Infinity)) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('take' as const), now: fc.integer({ min: 0, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const h = new DeadlineHeap<number>();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            if (o.at === Infinity) model.delete(o.key);
            else model.set(o.key, o.at);
            h.set(o.key, o.at);
          } else if (o.kind === 'delete') {
            model.delete(o.key);
            h.delete(o.key);
          } else {
            const due = [...model].filter(([, at]) => at <= o.now).map(([k]) => k);
            for (const k of due) model.delete(k);
            expect(new Set(h.takeDue(o.now))).toEqual(new Set(due));
          }
          expect(h.peek()).toBe(Math.min(Infinity, ...model.values()));
        }
      }),
      { seed, numRuns: 200 },
    );
  });
});
