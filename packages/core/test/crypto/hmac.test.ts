import { describe, it, expect } from 'vitest';
import { addAddrHmac, hmacEqual, joinAckHmac, joinSynAckHmac } from '../../src/crypto/hmac.js';

const K_A = 0x0102030405060708n;
const K_B = 0x1122334455667788n;
const R_A = 0xaaaaaaaa;
const R_B = 0xbbbbbbbb;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('MP_JOIN HMACs (RFC 8684 §3.2)', () => {
  it('SYN/ACK carries the leftmost 64 bits of HMAC(K_B‖K_A, R_B‖R_A)', () => {
    const mac = joinSynAckHmac(K_B, K_A, R_B, R_A);
    expect(mac.length).toBe(8);
    expect(hex(mac)).toBe('03bdebe6b63e1b50');
  });

  it('third ACK carries the leftmost 160 bits of HMAC(K_A‖K_B, R_A‖R_B)', () => {
    const mac = joinAckHmac(K_A, K_B, R_A, R_B);
    expect(mac.length).toBe(20);
    expect(hex(mac)).toBe('6ef2afbf7995ed2ac4d22adeedd9156b9ea86705');
  });

  it('depends on which side is which (swapping roles changes the MAC)', () => {
    expect(hex(joinSynAckHmac(K_A, K_B, R_A, R_B))).not.toBe('03bdebe6b63e1b50');
    expect(hex(joinAckHmac(K_B, K_A, R_B, R_A))).not.toBe('6ef2afbf7995ed2ac4d22adeedd9156b9ea86705');
  });

  it('rejects nonces outside u32', () => {
    expect(() => joinSynAckHmac(K_B, K_A, -1, R_A)).toThrow(RangeError);
    expect(() => joinAckHmac(K_A, K_B, R_A, 2 ** 32)).toThrow(RangeError);
  });
});

describe('ADD_ADDR HMAC (RFC 8684 §3.4.1)', () => {
  const addr = new Uint8Array([10, 0, 0, 3]);

  it('is the rightmost 64 bits of HMAC(K_sender‖K_receiver, id‖addr‖port)', () => {
    const mac = addAddrHmac(K_B, K_A, 1, addr, 47001);
    expect(mac.length).toBe(8);
    expect(hex(mac)).toBe('3edcaae3ba9f6ed7');
  });

  it('treats an absent port as port 0', () => {
    expect(hex(addAddrHmac(K_B, K_A, 1, addr))).toBe(hex(addAddrHmac(K_B, K_A, 1, addr, 0)));
    expect(hex(addAddrHmac(K_B, K_A, 1, addr))).not.toBe('3edcaae3ba9f6ed7');
  });

  it('accepts IPv6 addresses and rejects other lengths', () => {
    expect(addAddrHmac(K_A, K_B, 7, new Uint8Array(16).fill(0x20), 443).length).toBe(8);
    expect(() => addAddrHmac(K_A, K_B, 1, new Uint8Array(5))).toThrow(RangeError);
    expect(() => addAddrHmac(K_A, K_B, 256, addr)).toThrow(RangeError);
    expect(() => addAddrHmac(K_A, K_B, 1, addr, 65536)).toThrow(RangeError);
  });
});

describe('hmacEqual', () => {
  it('is true only for identical bytes of identical length', () => {
    const a = new Uint8Array([1, 2, 3, 4]);
    expect(hmacEqual(a, new Uint8Array([1, 2, 3, 4]))).toBe(true);
    expect(hmacEqual(a, new Uint8Array([1, 2, 3, 5]))).toBe(false);
    expect(hmacEqual(a, new Uint8Array([1, 2, 3]))).toBe(false);
    expect(hmacEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});
