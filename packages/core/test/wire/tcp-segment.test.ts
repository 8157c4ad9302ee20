import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/error.js';
import type { TcpOption } from '../../src/wire/tcp-option.js';
import { TcpFlag, emitSegment, parseSegment, parseSegmentLenient, segmentLength, type TcpSegment } from '../../src/wire/tcp-segment.js';
import { arbMutated, arbTcpSegment, fcParams } from './tcp-arbitraries.js';

function expectWireError(fn: () => unknown, code: WireError['code']): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).code).toBe(code);
    return;
  }
  expect.fail(`expected WireError ${code}`);
}

/** A SYN laid out as Linux sends it on an MPTCP socket (see tcp-header.test.ts). */
const linuxSyn = Uint8Array.from([
  0xa6, 0x5e, 0x00, 0x50, 0x3c, 0x1f, 0x22, 0x8b, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x02, 0xfa, 0xf0, 0x5c, 0x33, 0x00, 0x00,
  0x02, 0x04, 0x05, 0xb4, // MSS 1460
  0x04, 0x02, 0x08, 0x0a, 0x9d, 0x3e, 0x61, 0x7a, 0x00, 0x00, 0x00, 0x00, // SACK-perm, TS
  0x01, 0x03, 0x03, 0x07, // NOP, WS 7
  0x1e, 0x04, 0x01, 0x01, // MP_CAPABLE v1, flags H
]);

const linuxSynOptions: TcpOption[] = [
  { kind: 'mss', mss: 1460 },
  { kind: 'sack-permitted' },
  { kind: 'timestamps', tsval: 0x9d3e617a, tsecr: 0 },
  { kind: 'window-scale', shift: 7 },
  { kind: 'mptcp', option: { type: 'mp-capable', version: 1, flags: 0x01 } },
];

/** A data segment: NOP NOP TS, DSS (64-bit data ACK and mapping, no checksum), NOP NOP. */
const dataSegment = Uint8Array.from([
  0xc3, 0x50, 0x01, 0xbb, // 50000 → 443
  0x00, 0x00, 0x10, 0x01, // seq 4097
  0x87, 0x65, 0x43, 0x21, // ack
  0xf0, 0x18, // data offset 15, ACK|PSH
  0x01, 0xf5, // window 501
  0x00, 0x00, 0x00, 0x00, // checksum (none in the UDP encapsulation), urgent
  0x01, 0x01, 0x08, 0x0a, 0x00, 0x0a, 0xbc, 0xde, 0x00, 0x0b, 0xcd, 0xef, // NOP NOP TS
  0x1e, 0x1a, 0x20, 0x0f, // DSS, length 26, A a M m
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // data ACK
  0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x10, 0x00, // DSN
  0x00, 0x00, 0x10, 0x00, // subflow sequence
  0x00, 0x05, // data-level length 5
  0x01, 0x01, // NOP NOP
  0x68, 0x65, 0x6c, 0x6c, 0x6f, // "hello"
]);

/** A pure ACK carrying timestamps and two SACK blocks, NOP-aligned. */
const sackAck = Uint8Array.from([
  0x00, 0x50, 0xa6, 0x5e, 0x00, 0x00, 0x00, 0x64, 0x3c, 0x1f, 0x30, 0x00, 0xd0, 0x10, 0x02, 0x00, 0x12, 0x34, 0x00, 0x00,
  0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x9d, 0x3e, 0x61, 0x7a, // NOP NOP TS
  0x01, 0x01, 0x05, 0x12, // NOP NOP SACK, 2 blocks
  0x3c, 0x1f, 0x40, 0x00, 0x3c, 0x1f, 0x44, 0xb0,
  0x3c, 0x1f, 0x50, 0x00, 0x3c, 0x1f, 0x54, 0xb0,
]);

describe('parseSegment on fixed vectors', () => {
  it('parses a Linux MPTCP SYN', () => {
    expect(parseSegment(linuxSyn)).toEqual({
      srcPort: 42590,
      dstPort: 80,
      seq: 0x3c1f228b,
      ack: 0,
      flags: TcpFlag.SYN,
      window: 64240,
      checksum: 0x5c33,
      urgent: 0,
      options: linuxSynOptions,
      payload: new Uint8Array(0),
    });
  });

  it('parses a data segment with DSS, its payload a view into the input', () => {
    const seg = parseSegment(dataSegment);
    expect(seg).toEqual({
      srcPort: 50000,
      dstPort: 443,
      seq: 4097,
      ack: 0x87654321,
      flags: TcpFlag.ACK | TcpFlag.PSH,
      window: 501,
      checksum: 0,
      urgent: 0,
      options: [
        { kind: 'timestamps', tsval: 0x000abcde, tsecr: 0x000bcdef },
        {
          kind: 'mptcp',
          option: {
            type: 'dss',
            dataAck: 0x0000000100000002n,
            dataAck64: true,
            mapping: { dsn: 0x0000000300001000n, dsn64: true, subflowSeq: 0x1000, length: 5 },
            dataFin: false,
          },
        },
      ],
      payload: new TextEncoder().encode('hello'),
    });
    expect(seg.payload.buffer).toBe(dataSegment.buffer);
    expect(seg.payload.byteOffset).toBe(dataSegment.byteOffset + 60);
  });

  it('parses a pure ACK with SACK blocks', () => {
    const seg = parseSegment(sackAck);
    expect(seg.flags).toBe(TcpFlag.ACK);
    expect(seg.ack).toBe(0x3c1f3000);
    expect(seg.options).toEqual([
      { kind: 'timestamps', tsval: 7, tsecr: 0x9d3e617a },
      {
        kind: 'sack',
        blocks: [
          { left: 0x3c1f4000, right: 0x3c1f44b0 },
          { left: 0x3c1f5000, right: 0x3c1f54b0 },
        ],
      },
    ]);
    expect(seg.payload.length).toBe(0);
  });

  it('ignores the reserved bits, and emits them as zero', () => {
    const bytes = sackAck.slice();
    bytes[12] = 0xdf; // data offset 13, all 4 reserved bits set
    const seg = parseSegment(bytes);
    expect(seg).toEqual(parseSegment(sackAck));
    expect(emitSegment(seg)[12]).toBe(0xc0); // 48 bytes of header: our layout has no NOPs
  });
});

describe('parseSegment rejects', () => {
  it('a buffer shorter than the fixed header (TRUNCATED)', () => {
    expectWireError(() => parseSegment(new Uint8Array(0)), 'TRUNCATED');
    expectWireError(() => parseSegment(linuxSyn.subarray(0, 19)), 'TRUNCATED');
  });

  it('a data offset below 5 or past the end (BAD_OFFSET)', () => {
    const low = sackAck.slice();
    low[12] = 0x40;
    expectWireError(() => parseSegment(low), 'BAD_OFFSET');
    expectWireError(() => parseSegment(linuxSyn.subarray(0, 43)), 'BAD_OFFSET');
  });

  it('a malformed option inside the header (the option’s code)', () => {
    const bad = linuxSyn.slice();
    bad[21] = 0x05; // MSS length 5
    expectWireError(() => parseSegment(bad), 'BAD_LENGTH');
    const past = linuxSyn.slice();
    past[41] = 0x08; // MP_CAPABLE claims 8 bytes, 4 remain in the header
    expectWireError(() => parseSegment(past), 'TRUNCATED');
  });

  it('an option that would reach into the payload (TRUNCATED: the region ends at the offset)', () => {
    const bytes = new Uint8Array(24 + 8);
    bytes[12] = 0x60; // 24-byte header
    bytes.set([0x08, 0x0a, 0, 0], 20); // timestamps needs 10, the region has 4
    expectWireError(() => parseSegment(bytes), 'TRUNCATED');
  });
});

describe('parseSegmentLenient', () => {
  it('keeps an MPTCP option the codec cannot read as an unknown kind-30 option; everything else still parses', () => {
    const v0 = linuxSyn.slice();
    const at = v0.indexOf(0x1e, 20); // the MP_CAPABLE option
    v0[at + 2] = 0x00; // subtype 0, version 0 (RFC 6824)
    expectWireError(() => parseSegment(v0), 'UNSUPPORTED');
    const seg = parseSegmentLenient(v0);
    const strict = parseSegment(linuxSyn);
    expect(seg.options.filter((o) => o.kind !== 'mptcp' && o.kind !== 'unknown')).toEqual(strict.options.filter((o) => o.kind !== 'mptcp'));
    expect(seg.options.find((o) => o.kind === 'unknown')).toMatchObject({ kind: 'unknown', type: 30 });
    // A length error in the options region itself is still an error.
    const past = linuxSyn.slice();
    past[41] = 0x08;
    expectWireError(() => parseSegmentLenient(past), 'TRUNCATED');
  });
});

const base: TcpSegment = {
  srcPort: 1,
  dstPort: 2,
  seq: 3,
  ack: 4,
  flags: TcpFlag.ACK,
  window: 5,
  checksum: 6,
  urgent: 0,
  options: [],
  payload: new Uint8Array(0),
};

describe('emitSegment', () => {
  it('writes the Linux SYN back byte for byte, given the NOP-free layout', () => {
    const seg = parseSegment(linuxSyn);
    const out = emitSegment(seg);
    // Our layout drops Linux's NOP: MSS, SACK-perm, TS, WS, MP_CAPABLE, one byte of padding.
    expect(Array.from(out.subarray(0, 12))).toEqual(Array.from(linuxSyn.subarray(0, 12)));
    expect(out[12]).toBe(0xb0);
    expect(Array.from(out.subarray(13, 20))).toEqual(Array.from(linuxSyn.subarray(13, 20)));
    expect(Array.from(out.subarray(20))).toEqual([
      0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x9d, 0x3e, 0x61, 0x7a, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x07,
      0x1e, 0x04, 0x01, 0x01, 0x00,
    ]);
    expect(parseSegment(out)).toEqual(seg);
  });

  it('writes a bare header exactly', () => {
    const seg: TcpSegment = {
      srcPort: 0xabcd,
      dstPort: 0x0102,
      seq: 0xfedcba98,
      ack: 0x80000000,
      flags: 0xff,
      window: 0xffff,
      checksum: 0xbeef,
      urgent: 0x7fff,
      options: [],
      payload: Uint8Array.from([9, 8, 7]),
    };
    expect(Array.from(emitSegment(seg))).toEqual([
      0xab, 0xcd, 0x01, 0x02, 0xfe, 0xdc, 0xba, 0x98, 0x80, 0x00, 0x00, 0x00, 0x50, 0xff, 0xff, 0xff, 0xbe, 0xef, 0x7f,
      0xff, 9, 8, 7,
    ]);
    expect(segmentLength(seg)).toBe(23);
  });

  it('writes into a given buffer at an offset and returns a view of just those bytes', () => {
    const out = new Uint8Array(100).fill(0xaa);
    const seg = { ...base, options: [{ kind: 'window-scale', shift: 3 } as TcpOption], payload: Uint8Array.from([1, 2]) };
    const view = emitSegment(seg, out, 10);
    expect(view.buffer).toBe(out.buffer);
    expect(view.byteOffset).toBe(10);
    expect(view.length).toBe(26);
    expect(out.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
    expect(out.subarray(36).every((b) => b === 0xaa)).toBe(true);
    expect(parseSegment(view)).toEqual(seg);
  });

  it('checks every header field (BAD_VALUE) before writing', () => {
    const fields: [keyof TcpSegment, number][] = [
      ['srcPort', 65536],
      ['dstPort', -1],
      ['seq', 2 ** 32],
      ['ack', 0.5],
      ['flags', 256],
      ['window', 70000],
      ['checksum', Number.NaN],
      ['urgent', -0.5],
    ];
    for (const [field, value] of fields) {
      const out = new Uint8Array(64).fill(0xaa);
      expectWireError(() => emitSegment({ ...base, [field]: value }, out), 'BAD_VALUE');
      expect(out.every((b) => b === 0xaa)).toBe(true);
    }
    expectWireError(() => emitSegment({ ...base, options: [{ kind: 'mss', mss: 1 << 16 }] }), 'BAD_VALUE');
  });

  it('refuses too many options, too much in all, and too small a buffer (TOO_LARGE)', () => {
    const sack: TcpOption = { kind: 'sack', blocks: [1, 2, 3, 4].map((k) => ({ left: k, right: k })) };
    expectWireError(() => emitSegment({ ...base, options: [sack, { kind: 'timestamps', tsval: 1, tsecr: 2 }] }), 'TOO_LARGE');
    expectWireError(() => emitSegment({ ...base, payload: new Uint8Array(65536 - 20) }), 'TOO_LARGE');
    expect(emitSegment({ ...base, payload: new Uint8Array(65535 - 20) }).length).toBe(65535);
    const out = new Uint8Array(30).fill(0xaa);
    expectWireError(() => emitSegment({ ...base, payload: new Uint8Array(11) }, out), 'TOO_LARGE');
    expectWireError(() => emitSegment({ ...base, payload: new Uint8Array(8) }, out, 3), 'TOO_LARGE');
    expectWireError(() => emitSegment(base, out, -1), 'TOO_LARGE');
    expect(out.every((b) => b === 0xaa)).toBe(true);
    expect(emitSegment({ ...base, payload: new Uint8Array(10) }, out).length).toBe(30);
  });
});

describe('parseSegment / emitSegment properties', () => {
  it('every segment representation round-trips, at the length segmentLength gives', () => {
    fc.assert(
      fc.property(arbTcpSegment(), (seg) => {
        const bytes = emitSegment(seg);
        expect(bytes.length).toBe(segmentLength(seg));
        expect(parseSegment(bytes)).toEqual(seg);
      }),
      fcParams('segment round trip', 0x73656731, 20_000),
    );
  });

  it('round-trips through a shared output buffer at any offset', () => {
    const out = new Uint8Array(2048);
    fc.assert(
      fc.property(arbTcpSegment(), fc.nat({ max: 400 }), (seg, offset) => {
        const view = emitSegment(seg, out, offset);
        expect(view.byteOffset).toBe(offset);
        expect(parseSegment(view)).toEqual(seg);
      }),
      fcParams('segment round trip at an offset', 0x73656732, 5_000),
    );
  });

  it('any byte string parses or throws WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          const seg = parseSegment(bytes);
          expect(segmentLength(seg)).toBeLessThanOrEqual(bytes.length);
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
        }
      }),
      fcParams('parseSegment on random bytes', 0x73656733, 100_000),
    );
  });

  it('mutated valid encodings parse or throw WireError, and what parses re-emits', () => {
    const encoded = arbTcpSegment().map((seg) => emitSegment(seg));
    fc.assert(
      fc.property(arbMutated(encoded), (bytes) => {
        let seg: TcpSegment;
        try {
          seg = parseSegment(bytes);
        } catch (err) {
          if (err instanceof WireError) return;
          throw err;
        }
        expect(parseSegment(emitSegment(seg))).toEqual(seg);
      }),
      fcParams('parseSegment on mutated segments', 0x73656734, 50_000),
    );
  });
});
