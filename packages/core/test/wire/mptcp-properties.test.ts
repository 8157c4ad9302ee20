/**
 * Properties of the MPTCP option codec (RFC 8684 §3):
 * - every valid representation round-trips through emit and parse, written exactly where asked;
 * - the decoder, fed arbitrary bytes, either parses or throws WireError, nothing else; when it
 *   parses, emitting the result gives back the input with only the RFC's reserved bits cleared;
 * - the emitter, fed a representation with one field replaced by anything at all, either
 *   writes something the decoder reads or throws WireError('BAD_VALUE').
 * Seeds are fixed (override with MPTUN_SEED) and printed, so a failure reproduces.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/error.js';
import { emitMptcpOption, mptcpOptionLength, parseMptcpOption } from '../../src/wire/mptcp/codec.js';
import { MptcpSubtype, type MptcpOption } from '../../src/wire/mptcp/option.js';
import {
  arbAddAddr,
  arbDss,
  arbMpCapable,
  arbMpFail,
  arbMpFastclose,
  arbMpJoinAck,
  arbMpJoinSyn,
  arbMpJoinSynAck,
  arbMpPrio,
  arbMpTcpRst,
  arbMptcpOption,
  arbMptcpUnknown,
  arbRemoveAddr,
  TCP_OPTIONS_SPACE,
} from './mptcp-arbitraries.js';

const BASE_SEED = Number(process.env.MPTUN_SEED ?? 0x6d70_7463);

/** Runs one property with its own fixed seed, printed first. */
function check<Ts extends [unknown, ...unknown[]]>(
  label: string,
  index: number,
  property: fc.IProperty<Ts>,
  numRuns: number,
): void {
  const seed = (BASE_SEED + index * 7919) | 0;
  console.log(`[mptcp-properties] ${label}: seed ${seed}, ${numRuns} runs`);
  fc.assert(property, { seed, numRuns });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/**
 * The input with the bits RFC 8684 reserves set to zero: what a parse-then-emit must give
 * back. Written from the RFC's figures, independently of the codec.
 */
function clearReserved(input: Uint8Array): Uint8Array {
  const b = input.slice();
  switch (b[2]! >>> 4) {
    case MptcpSubtype.MP_JOIN: // §3.2: B and address id, or 12 reserved bits in the ACK
      if (b.length === 24) {
        b[2]! &= 0xf0;
        b[3] = 0;
      } else b[2]! &= 0xf1;
      break;
    case MptcpSubtype.DSS: // §3.3: 4 + 3 reserved bits; 'm' means nothing without 'M'
      b[2]! &= 0xf0;
      b[3]! &= 0x1f;
      if ((b[3]! & 0x04) === 0) b[3]! &= ~0x08;
      break;
    case MptcpSubtype.ADD_ADDR: // §3.4.1: (rsv)|E
    case MptcpSubtype.MP_PRIO: // §3.3.8: (rsv)|B
      b[2]! &= 0xf1;
      break;
    case MptcpSubtype.REMOVE_ADDR: // §3.4.2
      b[2]! &= 0xf0;
      break;
    case MptcpSubtype.MP_FAIL: // §3.7
    case MptcpSubtype.MP_FASTCLOSE: // §3.5
      b[2]! &= 0xf0;
      b[3] = 0;
      break;
    default: // MP_CAPABLE, MP_TCPRST and unknown subtypes keep every bit
      break;
  }
  return b;
}

const scratch = new Uint8Array(512);

/**
 * The decoder's contract on any input: parse, or throw WireError. A parsed result must emit
 * back to the input minus reserved bits. Returns whether it parsed.
 */
function decodesOrRejects(bytes: Uint8Array): boolean {
  let parsed: MptcpOption;
  try {
    parsed = parseMptcpOption(bytes);
  } catch (e) {
    if (e instanceof WireError) return false;
    throw new Error(`non-WireError for ${toHex(bytes)}: ${String(e)}`);
  }
  const written = emitMptcpOption(parsed, scratch, 0);
  const expected = clearReserved(bytes);
  if (!sameBytes(scratch.subarray(0, written), expected)) {
    throw new Error(`re-emit of ${toHex(bytes)} gave ${toHex(scratch.subarray(0, written))}`);
  }
  return true;
}

describe('every valid representation round-trips', () => {
  const arbitraries: [string, fc.Arbitrary<MptcpOption>][] = [
    ['MP_CAPABLE', arbMpCapable()],
    ['MP_JOIN SYN', arbMpJoinSyn()],
    ['MP_JOIN SYN/ACK', arbMpJoinSynAck()],
    ['MP_JOIN ACK', arbMpJoinAck()],
    ['DSS', arbDss()],
    ['ADD_ADDR', arbAddAddr()],
    ['REMOVE_ADDR (up to 252 ids)', arbRemoveAddr(252)],
    ['MP_PRIO', arbMpPrio()],
    ['MP_FAIL', arbMpFail()],
    ['MP_FASTCLOSE', arbMpFastclose()],
    ['MP_TCPRST', arbMpTcpRst()],
    ['unknown subtypes (up to 253 bytes)', arbMptcpUnknown(253)],
    ['any option', arbMptcpOption()],
  ];
  arbitraries.forEach(([name, arb], i) => {
    it(name, () => {
      check(`round-trip ${name}`, i, fc.property(arb, fc.nat(16), (opt, offset) => {
        const length = mptcpOptionLength(opt);
        const buf = new Uint8Array(offset + length + 5).fill(0xa5);
        expect(emitMptcpOption(opt, buf, offset)).toBe(length);
        // Written exactly where asked, nothing around it touched.
        expect(buf.subarray(0, offset).every((x) => x === 0xa5)).toBe(true);
        expect(buf.subarray(offset + length).every((x) => x === 0xa5)).toBe(true);
        const bytes = buf.subarray(offset, offset + length);
        expect(bytes[0]).toBe(30);
        expect(bytes[1]).toBe(length);
        expect(parseMptcpOption(bytes)).toStrictEqual(opt);
      }), 1000);
    });
  });

  it('the default arbitraries fit the TCP options space, covering every type', () => {
    const seen = new Set<string>();
    check('fits 40 bytes', 20, fc.property(arbMptcpOption(), (opt) => {
      seen.add(opt.type);
      expect(mptcpOptionLength(opt)).toBeLessThanOrEqual(TCP_OPTIONS_SPACE);
    }), 5000);
    expect(seen.size).toBe(12);
  });
});

describe('the decoder parses or throws WireError, on any input', () => {
  // Every length some form has, so that structured paths get exercised, not only rejects.
  const FORM_LENGTHS = [3, 4, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];

  it('kind 30 and a consistent length byte, random subtype and body (100,000 inputs)', () => {
    let parsedCount = 0;
    const arbInput = fc
      .record({
        length: fc.oneof(fc.constantFrom(...FORM_LENGTHS), fc.integer({ min: 2, max: 44 })),
        subtypeByte: fc.integer({ min: 0, max: 0xff }),
        body: fc.uint8Array({ minLength: 42, maxLength: 42 }),
      })
      .map(({ length, subtypeByte, body }) => {
        const bytes = new Uint8Array(length);
        bytes[0] = 30;
        bytes[1] = length;
        if (length > 2) bytes[2] = subtypeByte;
        if (length > 3) bytes.set(body.subarray(0, length - 3), 3);
        return bytes;
      });
    check('consistent length', 30, fc.property(arbInput, (bytes) => {
      if (decodesOrRejects(bytes)) parsedCount++;
    }), 100_000);
    console.log(`[mptcp-properties] consistent length: ${parsedCount} of 100000 parsed`);
    // Unknown subtypes alone (7 of 16) always parse: a decoder rejecting everything fails here.
    expect(parsedCount).toBeGreaterThan(20_000);
  });

  it('fully random bytes (100,000 inputs)', () => {
    check('random bytes', 31, fc.property(fc.uint8Array({ minLength: 0, maxLength: 48 }), (bytes) => {
      decodesOrRejects(bytes);
    }), 100_000);
  });

  it('random bytes with kind 30 and any length byte (20,000 inputs)', () => {
    const arbInput = fc.uint8Array({ minLength: 0, maxLength: 46 }).map((body) => {
      const bytes = new Uint8Array(body.length + 1);
      bytes[0] = 30;
      bytes.set(body, 1);
      return bytes;
    });
    check('kind 30, any length byte', 32, fc.property(arbInput, (bytes) => {
      decodesOrRejects(bytes);
    }), 20_000);
  });

  it('mutations of valid encodings (50,000 inputs)', () => {
    const byte = fc.integer({ min: 0, max: 0xff });
    const nonZeroByte = fc.integer({ min: 1, max: 0xff });
    const arbMutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: nonZeroByte }),
      fc.record({
        kind: fc.constant('flips' as const),
        at: fc.array(fc.nat(), { minLength: 2, maxLength: 6 }),
        xor: nonZeroByte,
      }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('extend' as const),
        extra: fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fixLength: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('lengthByte' as const), value: byte }),
      fc.record({ kind: fc.constant('flagsBytes' as const), b2: byte, b3: byte }),
    );
    let parsedCount = 0;
    check('mutations', 33, fc.property(arbMptcpOption(), arbMutation, (opt, m) => {
      const valid = new Uint8Array(mptcpOptionLength(opt));
      emitMptcpOption(opt, valid, 0);
      let bytes: Uint8Array;
      switch (m.kind) {
        case 'flip':
          bytes = valid.slice();
          bytes[m.at % bytes.length]! ^= m.xor;
          break;
        case 'flips':
          bytes = valid.slice();
          for (const at of m.at) bytes[at % bytes.length]! ^= m.xor;
          break;
        case 'truncate':
          bytes = valid.slice(0, m.at % valid.length);
          break;
        case 'extend':
          bytes = new Uint8Array(valid.length + m.extra.length);
          bytes.set(valid);
          bytes.set(m.extra, valid.length);
          if (m.fixLength && bytes.length <= 0xff) bytes[1] = bytes.length;
          break;
        case 'lengthByte':
          bytes = valid.slice();
          bytes[1] = m.value;
          break;
        case 'flagsBytes':
          bytes = valid.slice();
          bytes[2] = m.b2;
          if (bytes.length > 3) bytes[3] = m.b3;
          break;
      }
      if (decodesOrRejects(bytes)) parsedCount++;
    }), 50_000);
    console.log(`[mptcp-properties] mutations: ${parsedCount} of 50000 parsed`);
  });
});

describe('the emitter validates whatever it is given', () => {
  it('one field replaced by anything: writes a parseable option or throws BAD_VALUE (20,000 inputs)', () => {
    let rejected = 0;
    const arbCase = fc.record({
      opt: arbMptcpOption(),
      pick: fc.nat(),
      intoMapping: fc.boolean(),
      value: fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: false }),
    });
    check('garbage field', 40, fc.property(arbCase, ({ opt, pick, intoMapping, value }) => {
      // Shallow copies, so the arbitrary's own value is not changed.
      const target: Record<string, unknown> = { ...opt };
      let holder = target;
      if (intoMapping && opt.type === 'dss' && opt.mapping !== undefined) {
        holder = { ...opt.mapping };
        target.mapping = holder;
      }
      const keys = Object.keys(holder).filter((k) => k !== 'type');
      if (keys.length === 0) return;
      holder[keys[pick % keys.length]!] = value;
      const candidate = target as unknown as MptcpOption;

      const buf = new Uint8Array(300);
      let written: number;
      try {
        written = emitMptcpOption(candidate, buf, 0);
      } catch (e) {
        if (!(e instanceof WireError) || e.code !== 'BAD_VALUE') throw e;
        rejected++;
        return;
      }
      expect(written).toBe(mptcpOptionLength(candidate));
      const reparsed = parseMptcpOption(buf.subarray(0, written)); // throws if not a valid encoding
      expect(reparsed.type).toBe(candidate.type);
    }), 20_000);
    console.log(`[mptcp-properties] garbage field: ${rejected} of 20000 rejected`);
    expect(rejected).toBeGreaterThan(1000);
  });
});
