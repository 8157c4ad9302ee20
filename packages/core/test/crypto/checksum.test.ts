import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  dssChecksum,
  finishChecksum,
  onesComplementSum,
  tcpChecksumIPv4,
  tcpChecksumIPv6,
} from '../../src/crypto/checksum.js';
import { WireError } from '../../src/wire/error.js';

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('ones-complement sum (RFC 1071)', () => {
  it('matches the worked example of RFC 1071 §3', () => {
    // 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 once the carry is folded
    const data = fromHex('0001f203f4f5f6f7');
    expect(onesComplementSum(data)).toBe(0xddf2);
    expect(finishChecksum(onesComplementSum(data))).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(onesComplementSum(fromHex('ab'))).toBe(0xab00);
    expect(onesComplementSum(fromHex('0102 03'))).toBe(0x0102 + 0x0300);
  });

  it('verifies a well-known IPv4 header (sum with its checksum is ffff)', () => {
    // 192.168.0.1 → 192.168.0.199, UDP, checksum b861
    const header = fromHex('45000073000040004011b861c0a80001c0a800c7');
    expect(onesComplementSum(header)).toBe(0xffff);
    const zeroed = header.slice();
    zeroed[10] = 0;
    zeroed[11] = 0;
    expect(finishChecksum(onesComplementSum(zeroed))).toBe(0xb861);
  });

  it('gives the same sum in even-length chunks as in one pass', () => {
    const seed = 0x1071;
    console.log(`chunked-sum seed ${seed}`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(150), (data, cut) => {
        const at = Math.min(cut * 2, data.length & ~1);
        const chained = onesComplementSum(data.subarray(at), onesComplementSum(data.subarray(0, at)));
        expect(chained).toBe(onesComplementSum(data));
      }),
      { seed },
    );
  });
});

// A PSH|ACK segment 10.0.0.1:40001 → 10.0.0.2:443 with NOP NOP timestamps and the
// 5-byte payload "hello" (odd length). Its checksum 0f12 was produced by a separate
// Python implementation and confirmed Good by tshark 4.0.17 (tcp.check_checksum:TRUE);
// the same bytes from 2001:db8::1 to 2001:db8::2 carry c79f, also confirmed by tshark.
const SEGMENT = fromHex(
  '9c4101bb 01020304 a0b0c0d0 8018faf0 0f120000 0101080a 11223344 55667788 68656c6c6f',
);

describe('TCP checksum', () => {
  it('IPv4 pseudo-header (RFC 9293 §3.1)', () => {
    expect(tcpChecksumIPv4(new Uint8Array([10, 0, 0, 1]), new Uint8Array([10, 0, 0, 2]), SEGMENT)).toBe(0x0f12);
  });

  it('IPv6 pseudo-header (RFC 8200 §8.1)', () => {
    const src = fromHex('20010db8000000000000000000000001');
    const dst = fromHex('20010db8000000000000000000000002');
    expect(tcpChecksumIPv6(src, dst, SEGMENT)).toBe(0xc79f);
  });

  it('ignores whatever the checksum field holds', () => {
    const scribbled = SEGMENT.slice();
    scribbled[16] = 0xde;
    scribbled[17] = 0xad;
    expect(tcpChecksumIPv4(new Uint8Array([10, 0, 0, 1]), new Uint8Array([10, 0, 0, 2]), scribbled)).toBe(0x0f12);
  });

  it('a segment carrying its checksum sums to ffff with the pseudo-header', () => {
    const seed = 0x9293;
    console.log(`tcp-checksum seed ${seed}`);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 200 }), fc.uint8Array({ minLength: 8, maxLength: 8 }), (seg, addrs) => {
        const src = addrs.subarray(0, 4);
        const dst = addrs.subarray(4, 8);
        const ck = tcpChecksumIPv4(src, dst, seg);
        const filled = seg.slice();
        filled[16] = ck >> 8;
        filled[17] = ck & 0xff;
        const pseudo = new Uint8Array(12);
        pseudo.set(src, 0);
        pseudo.set(dst, 4);
        pseudo[9] = 6;
        pseudo[10] = filled.length >> 8;
        pseudo[11] = filled.length & 0xff;
        // ffff and 0000 are the same value in ones' complement; an all-zero sum cannot occur here
        expect(onesComplementSum(filled, onesComplementSum(pseudo))).toBe(0xffff);
      }),
      { seed },
    );
  });

  it('rejects segments shorter than a TCP header and wrong address sizes', () => {
    const short = new Uint8Array(19);
    const v4 = new Uint8Array(4);
    expect(() => tcpChecksumIPv4(v4, v4, short)).toThrow(WireError);
    expect(() => tcpChecksumIPv4(new Uint8Array(16), v4, SEGMENT)).toThrow(RangeError);
    expect(() => tcpChecksumIPv6(v4, new Uint8Array(16), SEGMENT)).toThrow(RangeError);
    expect(() => tcpChecksumIPv4(v4, v4, new Uint8Array(65536))).toThrow(WireError);
  });
});

describe('DSS checksum (RFC 8684 §3.3.1)', () => {
  const payload = new TextEncoder().encode('The quick brown fox');
  const dsn = 0xf5a101d3d29d6f73n; // IDSN of K_A plus one

  it('matches an independently computed value', () => {
    // computed with a separate Python implementation of the same pseudo-header
    expect(dssChecksum(dsn, 1, payload.length, payload)).toBe(0xa869);
  });

  it('verifies to 0 when the received checksum fills the zero slot', () => {
    const ck = dssChecksum(dsn, 1, payload.length, payload);
    const pseudo = new Uint8Array(16);
    const view = new DataView(pseudo.buffer);
    view.setBigUint64(0, dsn);
    view.setUint32(8, 1);
    view.setUint16(12, payload.length);
    view.setUint16(14, ck);
    expect(finishChecksum(onesComplementSum(payload, onesComplementSum(pseudo)))).toBe(0);
  });

  it('detects a flipped payload bit and a wrong DSN', () => {
    const ck = dssChecksum(dsn, 1, payload.length, payload);
    const flipped = payload.slice();
    flipped[3] = flipped[3]! ^ 0x01;
    expect(dssChecksum(dsn, 1, payload.length, flipped)).not.toBe(ck);
    expect(dssChecksum(dsn + 1n, 1, payload.length, payload)).not.toBe(ck);
  });

  it('rejects out-of-range header fields', () => {
    expect(() => dssChecksum(-1n, 0, 0, new Uint8Array())).toThrow(RangeError);
    expect(() => dssChecksum(0n, 2 ** 32, 0, new Uint8Array())).toThrow(RangeError);
    expect(() => dssChecksum(0n, 0, 65536, new Uint8Array())).toThrow(RangeError);
  });
});
