import { describe, expect, it } from 'vitest';
import { chooseFirstPath, QUIET_PATH_MS } from '../src/first-path.js';

describe('chooseFirstPath', () => {
  const heard = (m: Record<number, number>) => (id: number) => m[id] ?? -Infinity;

  it('keeps the configured order while every path is heard from', () => {
    expect(chooseFirstPath([3, 1], heard({ 3: 1000, 1: 1000 + QUIET_PATH_MS }))).toBe(3);
    expect(chooseFirstPath([3, 1], heard({}))).toBe(3);
    expect(chooseFirstPath([], heard({}))).toBeUndefined();
  });

  it('passes over a path that went quiet while another is still heard', () => {
    expect(chooseFirstPath([3, 1, 2], heard({ 3: 1000, 1: 1000 + QUIET_PATH_MS + 1, 2: 5000 }))).toBe(2);
    expect(chooseFirstPath([3, 1], heard({ 1: 10 }))).toBe(1); // 3 never heard at all
  });
});
