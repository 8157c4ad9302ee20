import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/error.js';
import type { TcpOption } from '../../src/wire/tcp-option.js';
import { emitTcpOptions, parseTcpOptions, tcpOptionsLength } from '../../src/wire/tcp-options.js';
import { arbMutated, arbTcpOptions, fcParams } from './tcp-arbitraries.js';

function expectWireError(fn: () => unknown, code?: WireError['code']): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    if (code !== undefined) expect((err as WireError).code).toBe(code);
    return;
  }
  expect.fail(`expected WireError ${code ?? ''}`);
}

const bytes = (...b: number[]) => Uint8Array.from(b);

/** Emits into a fresh buffer and returns exactly the bytes written. */
function emit(opts: TcpOption[]): Uint8Array {
  const buf = new Uint8Array(40);
  const n = emitTcpOptions(opts, buf, 0);
  return buf.subarray(0, n);
}

describe('parseTcpOptions on fixed vectors', () => {
  it('reads the options of a Linux MPTCP SYN', () => {
    const region = bytes(
      0x02, 0x04, 0x05, 0xb4, // MSS 1460
      0x04, 0x02, // SACK-permitted
      0x08, 0x0a, 0x9d, 0x3e, 0x61, 0x7a, 0x00, 0x00, 0x00, 0x00, // TS
      0x01, // NOP
      0x03, 0x03, 0x07, // WS 7
      0x1e, 0x04, 0x01, 0x01, // MP_CAPABLE v1, flags H (HMAC-SHA256)
    );
    expect(parseTcpOptions(region)).toEqual([
      { kind: 'mss', mss: 1460 },
      { kind: 'sack-permitted' },
      { kind: 'timestamps', tsval: 0x9d3e617a, tsecr: 0 },
      { kind: 'window-scale', shift: 7 },
      { kind: 'mptcp', option: { type: 'mp-capable', version: 1, flags: 0x01 } },
    ]);
  });

  it('reads a pure ACK with timestamps and two SACK blocks, NOP-aligned as Linux does', () => {
    const region = bytes(
      0x01, 0x01, 0x08, 0x0a, 0x00, 0x01, 0x02, 0x03, 0xf0, 0xe0, 0xd0, 0xc0, // NOP NOP TS
      0x01, 0x01, 0x05, 0x12, // NOP NOP SACK, 2 blocks
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00,
      0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x10, // a block that wraps past 2^32
    );
    expect(parseTcpOptions(region)).toEqual([
      { kind: 'timestamps', tsval: 0x00010203, tsecr: 0xf0e0d0c0 },
      {
        kind: 'sack',
        blocks: [
          { left: 0x1000, right: 0x2000 },
          { left: 0xffffff00, right: 0x10 },
        ],
      },
    ]);
  });

  it('reads DSS with a 64-bit data ACK and a 64-bit mapping, NOP-padded as Linux does', () => {
    const region = bytes(
      0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, // NOP NOP TS
      0x1e, 0x1a, 0x20, 0x0f, // DSS, length 26, flags a A m M
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // data ACK
      0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // DSN
      0x00, 0x00, 0x00, 0x01, // subflow sequence 1
      0x04, 0xb0, // data-level length 1200
      0x01, 0x01, // NOP NOP (no checksum)
    );
    expect(parseTcpOptions(region)).toEqual([
      { kind: 'timestamps', tsval: 1, tsecr: 2 },
      {
        kind: 'mptcp',
        option: {
          type: 'dss',
          dataAck: 0x0102030405060708n,
          dataAck64: true,
          mapping: { dsn: 0x1112131415161718n, dsn64: true, subflowSeq: 1, length: 1200 },
          dataFin: false,
        },
      },
    ]);
  });

  it('skips NOPs and returns nothing for an empty or all-padding region', () => {
    expect(parseTcpOptions(bytes())).toEqual([]);
    expect(parseTcpOptions(bytes(1, 1, 1, 1))).toEqual([]);
    expect(parseTcpOptions(bytes(0, 0, 0, 0))).toEqual([]);
  });

  it('stops at EOL and ignores whatever follows it', () => {
    expect(parseTcpOptions(bytes(0x02, 0x04, 0x05, 0xb4, 0x00, 0xff, 0x00, 0x08))).toEqual([{ kind: 'mss', mss: 1460 }]);
    expect(parseTcpOptions(bytes(0x00, 0x02))).toEqual([]);
  });

  it('keeps unknown kinds whole, copying their data', () => {
    const region = bytes(0xfe, 0x06, 0xaa, 0xbb, 0xcc, 0xdd, 0x22, 0x02);
    const parsed = parseTcpOptions(region);
    expect(parsed).toEqual([
      { kind: 'unknown', type: 0xfe, data: bytes(0xaa, 0xbb, 0xcc, 0xdd) },
      { kind: 'unknown', type: 0x22, data: bytes() },
    ]);
    region[2] = 0;
    expect((parsed[0] as { data: Uint8Array }).data[0]).toBe(0xaa);
  });

  it('accepts a window-scale shift above 14 as sent (RFC 7323 §2.3 clamps at use)', () => {
    expect(parseTcpOptions(bytes(0x03, 0x03, 15))).toEqual([{ kind: 'window-scale', shift: 15 }]);
    expect(parseTcpOptions(bytes(0x03, 0x03, 255))).toEqual([{ kind: 'window-scale', shift: 255 }]);
  });

  it('reads four SACK blocks, the most that fit', () => {
    const region = new Uint8Array(34);
    region[0] = 5;
    region[1] = 34;
    for (let k = 0; k < 8; k++) region[2 + 4 * k + 3] = k;
    expect(parseTcpOptions(region)).toEqual([
      {
        kind: 'sack',
        blocks: [
          { left: 0, right: 1 },
          { left: 2, right: 3 },
          { left: 4, right: 5 },
          { left: 6, right: 7 },
        ],
      },
    ]);
  });
});

describe('parseTcpOptions rejects', () => {
  it('an option without its length byte (TRUNCATED)', () => {
    expectWireError(() => parseTcpOptions(bytes(0x02)), 'TRUNCATED');
    expectWireError(() => parseTcpOptions(bytes(0x01, 0x01, 0x01, 0xfe)), 'TRUNCATED');
  });

  it('a length byte below 2 (BAD_LENGTH), which would otherwise loop or overlap', () => {
    expectWireError(() => parseTcpOptions(bytes(0x02, 0x00, 0x05, 0xb4)), 'BAD_LENGTH');
    expectWireError(() => parseTcpOptions(bytes(0xfe, 0x01, 0x00, 0x00)), 'BAD_LENGTH');
  });

  it('an option that runs past the region (TRUNCATED)', () => {
    expectWireError(() => parseTcpOptions(bytes(0x02, 0x04, 0x05)), 'TRUNCATED');
    expectWireError(() => parseTcpOptions(bytes(0x08, 0x0a, 0, 0, 0, 0, 0, 0, 0)), 'TRUNCATED');
    expectWireError(() => parseTcpOptions(bytes(0xfe, 0xff, 0, 0)), 'TRUNCATED');
  });

  it('a fixed-size option with the wrong length (BAD_LENGTH)', () => {
    expectWireError(() => parseTcpOptions(bytes(0x02, 0x03, 0x05, 0x00)), 'BAD_LENGTH'); // MSS 3
    expectWireError(() => parseTcpOptions(bytes(0x02, 0x05, 0x05, 0xb4, 0x00)), 'BAD_LENGTH'); // MSS 5
    expectWireError(() => parseTcpOptions(bytes(0x03, 0x02, 0x00, 0x00)), 'BAD_LENGTH'); // WS 2
    expectWireError(() => parseTcpOptions(bytes(0x03, 0x04, 0x07, 0x00)), 'BAD_LENGTH'); // WS 4
    expectWireError(() => parseTcpOptions(bytes(0x04, 0x03, 0x00, 0x00)), 'BAD_LENGTH'); // SACK-perm 3
    expectWireError(() => parseTcpOptions(new Uint8Array([0x08, 0x08, 0, 0, 0, 0, 0, 0])), 'BAD_LENGTH'); // TS 8
    expectWireError(() => parseTcpOptions(new Uint8Array([0x08, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), 'BAD_LENGTH'); // TS 12
  });

  it('a SACK whose length is not 2 + 8n with n in 1..4 (BAD_LENGTH)', () => {
    for (const length of [2, 3, 9, 11, 17, 33, 35]) {
      const region = new Uint8Array(40);
      region[0] = 5;
      region[1] = length;
      expectWireError(() => parseTcpOptions(region), 'BAD_LENGTH');
    }
    // Five blocks cannot come from a 40-byte region, but the parser is also given longer ones.
    const five = new Uint8Array(42);
    five[0] = 5;
    five[1] = 42;
    expectWireError(() => parseTcpOptions(five), 'BAD_LENGTH');
  });

  it('a malformed MPTCP option, with the MPTCP codec’s error', () => {
    expectWireError(() => parseTcpOptions(bytes(0x1e, 0x02, 0x01, 0x01)));
    expectWireError(() => parseTcpOptions(bytes(0x1e, 0x03, 0x20, 0x01)));
  });
});

describe('emitTcpOptions', () => {
  it('writes options in the order given and pads with EOL/zero to 4 bytes', () => {
    expect(Array.from(emit([{ kind: 'mss', mss: 1460 }]))).toEqual([0x02, 0x04, 0x05, 0xb4]);
    expect(Array.from(emit([{ kind: 'window-scale', shift: 7 }]))).toEqual([0x03, 0x03, 0x07, 0x00]);
    expect(Array.from(emit([{ kind: 'sack-permitted' }, { kind: 'mss', mss: 536 }]))).toEqual([
      0x04, 0x02, 0x02, 0x04, 0x02, 0x18, 0x00, 0x00,
    ]);
    expect(Array.from(emit([{ kind: 'timestamps', tsval: 0xdeadbeef, tsecr: 7 }]))).toEqual([
      0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7, 0, 0,
    ]);
    expect(Array.from(emit([{ kind: 'sack', blocks: [{ left: 1, right: 0xffffffff }] }]))).toEqual([
      0x05, 0x0a, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0,
    ]);
    expect(Array.from(emit([{ kind: 'unknown', type: 0xfd, data: bytes(9) }]))).toEqual([0xfd, 0x03, 0x09, 0x00]);
    expect(Array.from(emit([]))).toEqual([]);
  });

  it('writes a Linux SYN option set that parses back unchanged', () => {
    const syn: TcpOption[] = [
      { kind: 'mss', mss: 1460 },
      { kind: 'sack-permitted' },
      { kind: 'timestamps', tsval: 0x9d3e617a, tsecr: 0 },
      { kind: 'window-scale', shift: 7 },
      { kind: 'mptcp', option: { type: 'mp-capable', version: 1, flags: 0x01 } },
    ];
    const out = emit(syn);
    // 4 + 2 + 10 + 3 + 4 = 23 bytes, one byte of padding.
    expect(out.length).toBe(24);
    expect(Array.from(out.subarray(19))).toEqual([0x1e, 0x04, 0x01, 0x01, 0x00]);
    expect(parseTcpOptions(out)).toEqual(syn);
  });

  it('writes at an offset and touches nothing else', () => {
    const buf = new Uint8Array(16).fill(0xaa);
    expect(emitTcpOptions([{ kind: 'window-scale', shift: 14 }], buf, 5)).toBe(4);
    expect(Array.from(buf)).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 3, 3, 14, 0, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('refuses more than 40 bytes with TOO_LARGE, before writing anything', () => {
    const blocks = [1, 2, 3, 4].map((k) => ({ left: k, right: k + 1 }));
    const opts: TcpOption[] = [
      { kind: 'sack', blocks },
      { kind: 'timestamps', tsval: 1, tsecr: 2 },
    ];
    expect(tcpOptionsLength(opts)).toBe(44);
    const buf = new Uint8Array(64).fill(0xaa);
    expectWireError(() => emitTcpOptions(opts, buf, 0), 'TOO_LARGE');
    expect(buf.every((b) => b === 0xaa)).toBe(true);
    // 38 bytes of unknown data plus kind and length is exactly 40, and fits.
    expect(emitTcpOptions([{ kind: 'unknown', type: 0xfe, data: new Uint8Array(38) }], buf, 0)).toBe(40);
  });

  it('refuses a buffer without room with TOO_LARGE, before writing anything', () => {
    const buf = new Uint8Array(10).fill(0xaa);
    expectWireError(() => emitTcpOptions([{ kind: 'timestamps', tsval: 1, tsecr: 2 }], buf, 0), 'TOO_LARGE');
    expectWireError(() => emitTcpOptions([{ kind: 'mss', mss: 1 }], buf, 7), 'TOO_LARGE');
    expectWireError(() => emitTcpOptions([{ kind: 'mss', mss: 1 }], buf, -1), 'TOO_LARGE');
    expect(buf.every((b) => b === 0xaa)).toBe(true);
  });

  it('refuses representations that do not fit their wire fields with BAD_VALUE', () => {
    const bad: TcpOption[] = [
      { kind: 'mss', mss: 65536 },
      { kind: 'mss', mss: -1 },
      { kind: 'mss', mss: 1.5 },
      { kind: 'mss', mss: Number.NaN },
      { kind: 'window-scale', shift: 256 },
      { kind: 'sack', blocks: [] },
      { kind: 'sack', blocks: [1, 2, 3, 4, 5].map((k) => ({ left: k, right: k })) },
      { kind: 'sack', blocks: [{ left: 2 ** 32, right: 0 }] },
      { kind: 'sack', blocks: [{ left: 0, right: -1 }] },
      { kind: 'timestamps', tsval: -1, tsecr: 0 },
      { kind: 'timestamps', tsval: 0, tsecr: 2 ** 32 },
      { kind: 'unknown', type: 0xfe, data: new Uint8Array(39) },
      { kind: 'unknown', type: 256, data: bytes() },
      // Kinds the parser reads as something else would not round-trip.
      ...[0, 1, 2, 3, 4, 5, 8, 30].map((type): TcpOption => ({ kind: 'unknown', type, data: bytes() })),
    ];
    for (const opt of bad) {
      const buf = new Uint8Array(40);
      expectWireError(() => emitTcpOptions([opt], buf, 0), 'BAD_VALUE');
      expect(buf.every((b) => b === 0)).toBe(true);
    }
  });
});

describe('tcpOptionsLength', () => {
  it('counts every option and pads to a multiple of 4', () => {
    expect(tcpOptionsLength([])).toBe(0);
    expect(tcpOptionsLength([{ kind: 'sack-permitted' }])).toBe(4);
    expect(tcpOptionsLength([{ kind: 'timestamps', tsval: 0, tsecr: 0 }])).toBe(12);
    expect(
      tcpOptionsLength([
        { kind: 'timestamps', tsval: 0, tsecr: 0 },
        { kind: 'sack', blocks: [{ left: 0, right: 0 }] },
      ]),
    ).toBe(20);
    expect(tcpOptionsLength([{ kind: 'unknown', type: 0xfe, data: new Uint8Array(38) }])).toBe(40);
  });
});

/**
 * Random regions built from option-shaped pieces: known kinds with right or nearly right
 * lengths, NOP and EOL, MPTCP subtypes, unknown kinds, and bytes out of step.
 */
const arbOptionish: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      fc.constantFrom(0, 1).map((k) => [k]),
      fc
        .record({
          kind: fc.constantFrom(2, 3, 4, 5, 8, 30, 30, 30, 0x22, 0xfe),
          length: fc.oneof(fc.constantFrom(2, 3, 4, 10, 12, 18, 20, 24, 26, 28, 34), fc.integer({ min: 0, max: 255 })),
          body: fc.uint8Array({ maxLength: 38 }),
        })
        .map(({ kind, length, body }) => [kind, length, ...body.subarray(0, Math.max(0, length - 2))]),
      fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Array.from(b)),
    ),
    { maxLength: 6 },
  )
  .map((pieces) => Uint8Array.from(pieces.flat().slice(0, 40)));

/**
 * Parses `region`; anything thrown must be a WireError. What parses must emit again (its
 * options took no more room than the region) and parse back to the same list.
 */
function parseOrWireError(region: Uint8Array): void {
  let opts: TcpOption[];
  try {
    opts = parseTcpOptions(region);
  } catch (err) {
    if (err instanceof WireError) return;
    throw err;
  }
  expect(parseTcpOptions(emit(opts))).toEqual(opts);
}

describe('parseTcpOptions / emitTcpOptions properties', () => {
  it('every option list within 40 bytes round-trips, at the length tcpOptionsLength gives', () => {
    fc.assert(
      fc.property(arbTcpOptions(), fc.nat({ max: 8 }), (opts, offset) => {
        const buf = new Uint8Array(offset + 40);
        const n = emitTcpOptions(opts, buf, offset);
        expect(n).toBe(tcpOptionsLength(opts));
        expect(n % 4).toBe(0);
        expect(parseTcpOptions(buf.subarray(offset, offset + n))).toEqual(opts);
      }),
      fcParams('TCP options round trip', 0x6f707431, 20_000),
    );
  });

  it('any byte string parses or throws WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), parseOrWireError),
      fcParams('parseTcpOptions on random bytes', 0x6f707432, 100_000),
    );
  });

  it('option-shaped random regions parse or throw WireError', () => {
    fc.assert(
      fc.property(arbOptionish, parseOrWireError),
      fcParams('parseTcpOptions on option-shaped bytes', 0x6f707433, 100_000),
    );
  });

  it('mutated valid encodings parse or throw WireError', () => {
    const encoded = arbTcpOptions().map((opts) => emit(opts).slice());
    fc.assert(
      fc.property(arbMutated(encoded, 40), (region) => parseOrWireError(region.subarray(0, 40))),
      fcParams('parseTcpOptions on mutated encodings', 0x6f707434, 50_000),
    );
  });
});
