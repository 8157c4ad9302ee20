import { describe, expect, it } from 'vitest';
import { TimerTable } from '../src/timer.js';

enum T {
  A,
  B,
  C,
}

describe('TimerTable', () => {
  it('starts disarmed; next() is the earliest armed deadline', () => {
    const t = new TimerTable<T>(3);
    expect(t.next()).toBe(Infinity);
    expect(t.isArmed(T.A)).toBe(false);
    t.set(T.B, 50);
    t.set(T.C, 20);
    expect(t.next()).toBe(20);
    expect(t.get(T.B)).toBe(50);
    t.clear(T.C);
    expect(t.next()).toBe(50);
    expect(t.isArmed(T.C)).toBe(false);
  });

  it('a kind is due at and after its deadline, never before', () => {
    const t = new TimerTable<T>(3);
    t.set(T.A, 100);
    expect(t.isDue(T.A, 99.999)).toBe(false);
    expect(t.isDue(T.A, 100)).toBe(true);
    expect(t.isDue(T.A, 250)).toBe(true);
    expect(t.isDue(T.B, 1e12)).toBe(false); // disarmed: never due
  });

  it('a derived kind follows its source on every read and counts in next()', () => {
    const t = new TimerTable<T>(3);
    let source = Infinity;
    t.derive(T.C, () => source);
    t.set(T.A, 40);
    expect(t.next()).toBe(40);
    source = 10;
    expect(t.get(T.C)).toBe(10);
    expect(t.next()).toBe(10);
    expect(t.isDue(T.C, 10)).toBe(true);
    expect(() => t.set(T.C, 5)).toThrow(/derived/);
  });

  it('clearAll disarms the stored kinds and leaves derived ones to their source', () => {
    const t = new TimerTable<T>(3);
    t.derive(T.B, () => 70);
    t.set(T.A, 30);
    t.set(T.C, 60);
    t.clearAll();
    expect(t.get(T.A)).toBe(Infinity);
    expect(t.get(T.C)).toBe(Infinity);
    expect(t.next()).toBe(70);
  });
});
