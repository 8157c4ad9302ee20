import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventHeap } from '../src/heap.js';
import { Ring } from '../src/ring.js';

describe('EventHeap', () => {
  it('pops by time, and in insertion order among equal times (property)', () => {
    const seed = 555;
    console.log(`heap property: seed ${seed}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 300 }), (ops) => {
        const heap = new EventHeap<{ time: number; seq: number }>();
        const model: Array<{ time: number; seq: number }> = [];
        let seq = 0;
        for (const [time, popNow] of ops) {
          if (popNow) {
            model.sort((a, b) => a.time - b.time || a.seq - b.seq);
            expect(heap.pop()).toBe(model.shift());
          } else {
            const ev = { time, seq: seq++ };
            heap.push(ev);
            model.push(ev);
          }
          expect(heap.size).toBe(model.length);
        }
        model.sort((a, b) => a.time - b.time || a.seq - b.seq);
        for (const want of model) expect(heap.pop()).toBe(want);
        expect(heap.pop()).toBeUndefined();
        expect(heap.peek()).toBeUndefined();
      }),
      { seed, numRuns: 300 },
    );
  });
});

describe('Ring', () => {
  it('is a FIFO that grows past its initial capacity (property)', () => {
    const seed = 556;
    console.log(`ring property: seed ${seed}`);
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer(), { nil: undefined }), { maxLength: 400 }), (ops) => {
        const ring = new Ring<number>(2);
        const model: number[] = [];
        for (const op of ops) {
          if (op === undefined) expect(ring.shift()).toBe(model.shift());
          else {
            ring.push(op);
            model.push(op);
          }
          expect(ring.size).toBe(model.length);
          expect(ring.peek()).toBe(model[0]);
          expect(ring.at(model.length - 1)).toBe(model[model.length - 1]);
        }
        expect(ring.at(-1)).toBeUndefined();
        expect(ring.at(model.length)).toBeUndefined();
      }),
      { seed, numRuns: 300 },
    );
  });
});
