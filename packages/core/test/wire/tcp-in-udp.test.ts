import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  TCP_IN_UDP_HEADER,
  TCP_IN_UDP_SAVING,
  segmentToUdpPayload,
  udpPayloadToSegment,
} from '../../src/wire/tcp-in-udp.js';
import { WireError } from '../../src/wire/error.js';

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function expectWireError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).code).toBe(code);
    return;
  }
  expect.fail(`expected WireError ${code}`);
}

// 40001 → 443, seq 01020304, ack a0b0c0d0, offset 8 words, PSH|ACK, window faf0,
// checksum 0f12, urgent 0, NOP NOP timestamps, payload "hello".
const SEGMENT = fromHex('9c4101bb 01020304 a0b0c0d0 8018faf0 0f120000 0101080a 11223344 55667788 68656c6c6f');
// The same segment as tcp-in-udp's UDP payload: offset/flags/window, seq, ack, options, data.
const PAYLOAD = fromHex('8018faf0 01020304 a0b0c0d0 0101080a 11223344 55667788 68656c6c6f');
// Back from the payload: checksum and urgent pointer are not carried and come back as 0.
const RESTORED = fromHex('9c4101bb 01020304 a0b0c0d0 8018faf0 00000000 0101080a 11223344 55667788 68656c6c6f');

describe('tcp-in-udp fixed vectors', () => {
  it('moves offset/flags/window to the front and drops ports, checksum, urgent pointer', () => {
    expect(hex(segmentToUdpPayload(SEGMENT))).toBe(hex(PAYLOAD));
    expect(PAYLOAD.length).toBe(SEGMENT.length - TCP_IN_UDP_SAVING);
  });

  it('rebuilds the segment with the UDP ports and zero checksum/urgent', () => {
    expect(hex(udpPayloadToSegment(PAYLOAD, 40001, 443))).toBe(hex(RESTORED));
  });

  it('carries a bare 20-byte header (SYN, no options) as 12 bytes', () => {
    const syn = fromHex('9c4101bb 00000001 00000000 5002ffff abcd0000');
    expect(hex(segmentToUdpPayload(syn))).toBe('5002ffff0000000100000000');
    expect(hex(udpPayloadToSegment(fromHex('5002ffff0000000100000000'), 40001, 443))).toBe(
      '9c4101bb00000001000000005002ffff00000000',
    );
  });
});

describe('tcp-in-udp rejects what it cannot carry', () => {
  it('segment shorter than 20 bytes', () => {
    expectWireError(() => segmentToUdpPayload(SEGMENT.subarray(0, 19)), 'TRUNCATED');
  });

  it('segment data offset below 5 words or past the end', () => {
    const low = SEGMENT.slice();
    low[12] = 0x40;
    expectWireError(() => segmentToUdpPayload(low), 'BAD_OFFSET');
    expectWireError(() => segmentToUdpPayload(SEGMENT.subarray(0, 28)), 'BAD_OFFSET');
  });

  it('segment with URG', () => {
    const urg = SEGMENT.slice();
    urg[13] = urg[13]! | 0x20;
    expectWireError(() => segmentToUdpPayload(urg), 'BAD_VALUE');
  });

  it('segment too long for one UDP datagram', () => {
    const big = new Uint8Array(0x10000);
    big[12] = 0x50;
    expectWireError(() => segmentToUdpPayload(big), 'TOO_LARGE');
    expect(segmentToUdpPayload(big.subarray(0, 0xffff)).length).toBe(0xffff - 8);
  });

  it('payload shorter than 12 bytes, bad offset, URG, or longer than UDP allows', () => {
    expectWireError(() => udpPayloadToSegment(PAYLOAD.subarray(0, 11), 1, 2), 'TRUNCATED');
    expectWireError(() => udpPayloadToSegment(new Uint8Array(12), 1, 2), 'BAD_OFFSET');
    expectWireError(() => udpPayloadToSegment(PAYLOAD.subarray(0, 23), 1, 2), 'BAD_OFFSET');
    const urg = PAYLOAD.slice();
    urg[1] = urg[1]! | 0x20;
    expectWireError(() => udpPayloadToSegment(urg, 1, 2), 'BAD_VALUE');
    const big = new Uint8Array(0xffff - 7);
    big[0] = 0x50;
    expectWireError(() => udpPayloadToSegment(big, 1, 2), 'BAD_LENGTH');
  });

  it('ports outside u16 are a caller bug', () => {
    expect(() => udpPayloadToSegment(PAYLOAD, -1, 443)).toThrow(RangeError);
    expect(() => udpPayloadToSegment(PAYLOAD, 1, 65536)).toThrow(RangeError);
  });
});

/** A well-formed segment: any header with URG clear, options that fit the offset, any data. */
const segmentArb = fc
  .record({
    ports: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    seqAck: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    optionWords: fc.integer({ min: 0, max: 10 }),
    reserved: fc.integer({ min: 0, max: 15 }),
    flags: fc.integer({ min: 0, max: 255 }).map((f) => f & ~0x20),
    window: fc.uint8Array({ minLength: 2, maxLength: 2 }),
    checksum: fc.uint8Array({ minLength: 2, maxLength: 2 }),
    options: fc.uint8Array({ minLength: 40, maxLength: 40 }),
    data: fc.uint8Array({ maxLength: 64 }),
  })
  .map((r) => {
    const seg = new Uint8Array(20 + r.optionWords * 4 + r.data.length);
    seg.set(r.ports, 0);
    seg.set(r.seqAck, 4);
    seg[12] = ((5 + r.optionWords) << 4) | r.reserved;
    seg[13] = r.flags;
    seg.set(r.window, 14);
    seg.set(r.checksum, 16);
    seg.set(r.options.subarray(0, r.optionWords * 4), 20);
    seg.set(r.data, 20 + r.optionWords * 4);
    return seg;
  });

describe('tcp-in-udp properties', () => {
  it('segment → payload → segment keeps every byte but checksum', () => {
    const seed = 0x7c91;
    console.log(`tcp-in-udp round-trip seed ${seed}`);
    fc.assert(
      fc.property(segmentArb, (seg) => {
        const payload = segmentToUdpPayload(seg);
        expect(payload.length).toBe(seg.length - 8);
        const srcPort = (seg[0]! << 8) | seg[1]!;
        const dstPort = (seg[2]! << 8) | seg[3]!;
        const back = udpPayloadToSegment(payload, srcPort, dstPort);
        const expected = seg.slice();
        expected[16] = 0;
        expected[17] = 0;
        expect(hex(back)).toBe(hex(expected));
        // and the payload is a fixed point of the reverse trip
        expect(hex(segmentToUdpPayload(back))).toBe(hex(payload));
      }),
      { seed, numRuns: 300 },
    );
  });

  it('random bytes either decode or throw WireError, never anything else', () => {
    const seed = 0x51ab;
    console.log(`tcp-in-udp random-bytes seed ${seed}`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 0, max: 0xffff }), (bytes, port) => {
        for (const attempt of [() => udpPayloadToSegment(bytes, port, 443), () => segmentToUdpPayload(bytes)]) {
          let out: Uint8Array;
          try {
            out = attempt();
          } catch (err) {
            expect(err).toBeInstanceOf(WireError);
            continue;
          }
          expect(out.length === bytes.length + 8 || out.length === bytes.length - 8).toBe(true);
        }
        // a payload that decodes always survives the reverse trip unchanged
        let seg: Uint8Array | undefined;
        try {
          seg = udpPayloadToSegment(bytes, port, 443);
        } catch {
          seg = undefined;
        }
        if (seg !== undefined) {
          expect(hex(segmentToUdpPayload(seg))).toBe(hex(bytes));
          expect(bytes.length).toBeGreaterThanOrEqual(TCP_IN_UDP_HEADER);
        }
      }),
      { seed, numRuns: 1000 },
    );
  });
});
