import { describe, it, expect } from 'vitest';
import { LINKTYPE_RAW, PcapWriter, parseIPv4, parseIPv6 } from '../src/pcap.js';

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// PSH|ACK 10.0.0.1:40001 → 10.0.0.2:443, NOP NOP timestamps, payload "hello", with its
// checksum field zeroed. The correct checksum over IPv4 is 0f12 (confirmed by tshark).
const SEGMENT = fromHex('9c4101bb 01020304 a0b0c0d0 8018faf0 00000000 0101080a 11223344 55667788 68656c6c6f');

/** RFC 1071 sum, written out again here so the test does not trust the code under test. */
function sum16(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe('PcapWriter', () => {
  it('starts with the classic little-endian global header, LINKTYPE_RAW', () => {
    const file = new PcapWriter().bytes();
    expect(hex(file)).toBe(
      'd4c3b2a1' + // magic a1b2c3d4, little-endian
        '0200' + '0400' + // version 2.4
        '00000000' + '00000000' + // thiszone, sigfigs
        'ffff0000' + // snaplen 65535
        '65000000', // network 101
    );
    expect(LINKTYPE_RAW).toBe(101);
  });

  it('writes one record: timestamp, lengths, IPv4 header, checksummed TCP segment', () => {
    const writer = new PcapWriter();
    const original = SEGMENT.slice();
    writer.add(1500.25, '10.0.0.1', '10.0.0.2', SEGMENT);
    const file = writer.bytes();
    const packetLength = 20 + SEGMENT.length;
    expect(file.length).toBe(24 + 16 + packetLength);

    const record = file.subarray(24);
    const view = new DataView(record.buffer, record.byteOffset);
    expect(view.getUint32(0, true)).toBe(1); // seconds
    expect(view.getUint32(4, true)).toBe(500_250); // microseconds
    expect(view.getUint32(8, true)).toBe(packetLength);
    expect(view.getUint32(12, true)).toBe(packetLength);

    const ip = record.subarray(16, 36);
    // version/IHL, TOS, total length, id 1, DF, TTL 64, protocol 6, checksum, src, dst
    expect(hex(ip.subarray(0, 10))).toBe('45' + '00' + packetLength.toString(16).padStart(4, '0') + '0001' + '4000' + '40' + '06');
    expect(hex(ip.subarray(12))).toBe('0a000001' + '0a000002');
    expect(sum16(ip)).toBe(0xffff); // header checksum verifies

    const tcp = record.subarray(36);
    expect(hex(tcp.subarray(16, 18))).toBe('0f12');
    expect(hex(tcp.subarray(0, 16))).toBe(hex(SEGMENT.subarray(0, 16)));
    expect(hex(tcp.subarray(18))).toBe(hex(SEGMENT.subarray(18)));
    expect(hex(SEGMENT)).toBe(hex(original)); // caller's bytes untouched
  });

  it('appends records in order with rising IP ids and rounded timestamps', () => {
    const writer = new PcapWriter();
    writer.add(0, '10.0.0.1', '10.0.0.2', SEGMENT);
    writer.add(999.9996, '10.0.0.2', '10.0.0.1', SEGMENT);
    const file = writer.bytes();
    const recordLength = 16 + 20 + SEGMENT.length;
    expect(file.length).toBe(24 + 2 * recordLength);
    const second = file.subarray(24 + recordLength);
    const view = new DataView(second.buffer, second.byteOffset);
    expect(view.getUint32(0, true)).toBe(1); // 999.9996 ms rounds up to exactly 1 s
    expect(view.getUint32(4, true)).toBe(0);
    expect(hex(second.subarray(16 + 4, 16 + 6))).toBe('0002');
    expect(hex(second.subarray(16 + 12, 16 + 20))).toBe('0a0000020a000001');
    expect(sum16(second.subarray(16, 36))).toBe(0xffff);
  });

  it('rejects bad addresses, times and segments', () => {
    const writer = new PcapWriter();
    expect(() => writer.add(0, '10.0.0.256', '10.0.0.2', SEGMENT)).toThrow(RangeError);
    expect(() => writer.add(0, '10.0.0', '10.0.0.2', SEGMENT)).toThrow(RangeError);
    expect(() => writer.add(0, '10.0.0.1', '010.0.0.2', SEGMENT)).toThrow(RangeError);
    expect(() => writer.add(-1, '10.0.0.1', '10.0.0.2', SEGMENT)).toThrow(RangeError);
    expect(() => writer.add(Number.NaN, '10.0.0.1', '10.0.0.2', SEGMENT)).toThrow(RangeError);
    expect(() => writer.add(0, '10.0.0.1', '10.0.0.2', new Uint8Array(19))).toThrow();
    expect(() => writer.add(0, '10.0.0.1', '10.0.0.2', new Uint8Array(0xffff))).toThrow(RangeError);
    expect(writer.bytes().length).toBe(24); // nothing half-written
  });

  it('parses dotted quads strictly', () => {
    expect(Array.from(parseIPv4('192.168.0.199'))).toEqual([192, 168, 0, 199]);
    expect(Array.from(parseIPv4('0.0.0.0'))).toEqual([0, 0, 0, 0]);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.-4', '1.2.3.4 ', 'a.b.c.d', '1..3.4', '1.2.3.1000']) {
      expect(() => parseIPv4(bad), bad).toThrow(RangeError);
    }
  });

  it('writes an IPv6 record: 40-byte header, next header TCP, checksum over the IPv6 pseudo-header', () => {
    const writer = new PcapWriter();
    writer.add(0, '2001:db8::1', '::1', SEGMENT);
    const record = writer.bytes().subarray(24);
    const view = new DataView(record.buffer, record.byteOffset);
    expect(view.getUint32(8, true)).toBe(40 + SEGMENT.length);
    const ip = record.subarray(16, 56);
    // version 6, no class or flow label, payload length, next header 6, hop limit 64
    expect(hex(ip.subarray(0, 8))).toBe('60000000' + SEGMENT.length.toString(16).padStart(4, '0') + '06' + '40');
    expect(hex(ip.subarray(8, 24))).toBe('20010db8000000000000000000000001');
    expect(hex(ip.subarray(24, 40))).toBe('00000000000000000000000000000001');
    // RFC 8200 §8.1 pseudo-header (addresses, 32-bit length, next header) plus the segment sums to all ones
    const tcp = record.subarray(56);
    const pseudo = new Uint8Array(40);
    pseudo.set(ip.subarray(8, 40));
    new DataView(pseudo.buffer).setUint32(32, tcp.length);
    pseudo[39] = 6;
    const joined = new Uint8Array(pseudo.length + tcp.length);
    joined.set(pseudo);
    joined.set(tcp, pseudo.length);
    expect(sum16(joined)).toBe(0xffff);
  });

  it('writes an IPv4-mapped address as IPv4, and maps IPv4 into IPv6 when the other end is IPv6', () => {
    const writer = new PcapWriter();
    writer.add(0, '::ffff:10.0.0.1', '10.0.0.2', SEGMENT);
    writer.add(0, '10.0.0.1', 'fe80::2%lo', SEGMENT);
    const file = writer.bytes();
    const first = file.subarray(24 + 16, 24 + 16 + 20);
    expect(first[0]).toBe(0x45);
    expect(hex(first.subarray(12))).toBe('0a0000010a000002');
    const second = file.subarray(24 + 16 + 20 + SEGMENT.length + 16);
    expect(second[0]).toBe(0x60);
    expect(hex(second.subarray(8, 24))).toBe('00000000000000000000ffff0a000001');
    expect(hex(second.subarray(24, 40))).toBe('fe800000000000000000000000000002');
  });

  it('parses IPv6 text forms', () => {
    expect(hex(parseIPv6('::'))).toBe('0'.repeat(32));
    expect(hex(parseIPv6('1::'))).toBe('0001' + '0'.repeat(28));
    expect(hex(parseIPv6('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008');
    expect(hex(parseIPv6('::ffff:192.0.2.128'))).toBe('00000000000000000000ffffc0000280');
    expect(hex(parseIPv6('fe80::1%eth0'))).toBe('fe80' + '0'.repeat(24) + '0001');
    for (const bad of ['', ':', '1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', '10.0.0.1', '::ffff:1.2.3.256']) {
      expect(() => parseIPv6(bad), bad).toThrow(RangeError);
    }
  });
});
