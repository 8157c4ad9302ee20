import { describe, it, expect } from 'vitest';
import { keyIdsn, keyToken, u64Bytes } from '../../src/crypto/keys.js';

// Vectors from the design notes, checked against the Linux implementation.
const K_A = 0x0102030405060708n;
const K_B = 0x1122334455667788n;

describe('keyToken / keyIdsn (RFC 8684 §3.1)', () => {
  it('derives token and IDSN for K_A', () => {
    expect(keyToken(K_A)).toBe(0x66840dda);
    expect(keyIdsn(K_A)).toBe(0xf5a101d3d29d6f72n);
  });

  it('derives token and IDSN for K_B', () => {
    expect(keyToken(K_B)).toBe(0x1dce6604);
    expect(keyIdsn(K_B)).toBe(0x62815714b76ae9a5n);
  });

  it('returns an unsigned token even when the top bit is set', () => {
    // SHA-256 of 8 zero bytes starts with 0xaf: the token must not come back negative
    expect(keyToken(0n)).toBe(0xaf5570f5);
    expect(keyToken(0n)).toBeGreaterThan(0);
  });

  it('encodes keys big-endian and rejects values outside u64', () => {
    expect(Array.from(u64Bytes(K_A))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(u64Bytes((1n << 64n) - 1n))).toEqual(new Array(8).fill(0xff));
    expect(() => u64Bytes(-1n)).toThrow(RangeError);
    expect(() => u64Bytes(1n << 64n)).toThrow(RangeError);
  });
});
