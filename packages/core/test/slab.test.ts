import { describe, expect, it } from 'vitest';
import { Slab } from '../src/slab.js';

describe('Slab', () => {
  it('hands out zeroed, disjoint buffers of the asked size', () => {
    const slab = new Slab(1024);
    const got: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const b = slab.take(100);
      expect(b.length).toBe(100);
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill(i + 1);
      got.push(b);
    }
    // Writing each one changed no other: every buffer still holds its own fill.
    got.forEach((b, i) => expect(b.every((x) => x === i + 1)).toBe(true));
  });

  it('starts a new block when the current one has no room, and never reuses a full one', () => {
    const slab = new Slab(1024);
    const a = slab.take(200);
    const b = slab.take(200);
    expect(b.buffer).toBe(a.buffer);
    slab.take(200);
    slab.take(200);
    slab.take(200);
    const f = slab.take(200); // 1200 > 1024: a fresh block
    expect(f.buffer).not.toBe(a.buffer);
    expect(f.byteOffset).toBe(0);
  });

  it('gives a request above a quarter of the block a buffer of its own', () => {
    const slab = new Slab(1024);
    const small = slab.take(10);
    const big = slab.take(257);
    expect(big.buffer).not.toBe(small.buffer);
    expect(big.buffer.byteLength).toBe(257);
    // The block was not touched by the big one: the next small one follows the first.
    expect(slab.take(10).byteOffset).toBe(10);
  });

  it('by default carves a 16 KiB segment with its headers from a shared block', () => {
    const slab = new Slab();
    const a = slab.take(16 * 1024 + 60);
    const b = slab.take(16 * 1024 + 60);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.length);
  });

  it('trimLast returns the unused tail of the last buffer to the next take', () => {
    const slab = new Slab(1024);
    const a = slab.take(100);
    slab.trimLast(30);
    const b = slab.take(10);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + 30);
    // Only the last take can be trimmed, and only once.
    slab.trimLast(0);
    slab.trimLast(0);
    expect(slab.take(1).byteOffset).toBe(b.byteOffset);
  });

  it('trimLast after a buffer of its own changes nothing', () => {
    const slab = new Slab(1024);
    const a = slab.take(10);
    slab.take(500);
    slab.trimLast(0);
    expect(slab.take(10).byteOffset).toBe(a.byteOffset + 10);
  });
});
