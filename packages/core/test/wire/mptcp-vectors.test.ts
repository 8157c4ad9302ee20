/**
 * Hand-built byte vectors for every form of every MPTCP option (RFC 8684 §3), decoded and
 * encoded both ways, and malformed inputs with the WireError code each must raise.
 * Keys, tokens, nonces and HMACs are the worked example of docs/architecture.md (K_A, K_B, R_A, R_B).
 */
import { describe, expect, it } from 'vitest';
import { WireError, type WireErrorCode } from '../../src/wire/error.js';
import { emitMptcpOption, mptcpOptionLength, parseMptcpOption } from '../../src/wire/mptcp/codec.js';
import type { MptcpOption } from '../../src/wire/mptcp/option.js';

/** '1e 04 01 81' → bytes; spaces and line breaks are layout. */
function hex(s: string): Uint8Array {
  const digits = s.replace(/\s+/g, '');
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) throw new Error(`bad hex: ${s}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function encode(opt: MptcpOption): Uint8Array {
  const buf = new Uint8Array(mptcpOptionLength(opt));
  const written = emitMptcpOption(opt, buf, 0);
  expect(written).toBe(buf.length);
  return buf;
}

function codeOf(f: () => unknown): WireErrorCode | 'no error' | 'not a WireError' {
  try {
    f();
    return 'no error';
  } catch (e) {
    return e instanceof WireError ? e.code : 'not a WireError';
  }
}

const K_A = '01 02 03 04 05 06 07 08';
const K_B = '11 22 33 44 55 66 77 88';
const KEY_A = 0x0102030405060708n;
const KEY_B = 0x1122334455667788n;
const IDSN_A = 0xf5a101d3d29d6f72n;
const IDSN_B = 0x62815714b76ae9a5n;
const SYNACK_HMAC = '03 bd eb e6 b6 3e 1b 50';
const ACK_HMAC = '6e f2 af bf 79 95 ed 2a c4 d2 2a de ed d9 15 6b 9e a8 67 05';
const ADD_ADDR_HMAC = '3e dc aa e3 ba 9f 6e d7';
const V6 = '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 03'; // 2001:db8::3
const v6 = hex(V6);
const v4 = hex('0a 00 00 03'); // 10.0.0.3

interface Vector {
  name: string;
  bytes: string;
  repr: MptcpOption;
}

/** Canonical encodings: parse(bytes) equals repr and emit(repr) equals bytes. */
const vectors: Vector[] = [
  // MP_CAPABLE, RFC 8684 §3.1
  { name: 'MP_CAPABLE SYN', bytes: '1e 04 01 81', repr: { type: 'mp-capable', version: 1, flags: 0x81 } },
  {
    name: 'MP_CAPABLE SYN offering version 2',
    bytes: '1e 04 02 01',
    repr: { type: 'mp-capable', version: 2, flags: 0x01 },
  },
  {
    name: 'MP_CAPABLE SYN/ACK',
    bytes: `1e 0c 01 81 ${K_B}`,
    repr: { type: 'mp-capable', version: 1, flags: 0x81, senderKey: KEY_B },
  },
  {
    name: 'MP_CAPABLE ACK',
    bytes: `1e 14 01 81 ${K_A} ${K_B}`,
    repr: { type: 'mp-capable', version: 1, flags: 0x81, senderKey: KEY_A, receiverKey: KEY_B },
  },
  {
    name: 'MP_CAPABLE ACK with data',
    bytes: `1e 16 01 01 ${K_A} ${K_B} 00 64`,
    repr: { type: 'mp-capable', version: 1, flags: 0x01, senderKey: KEY_A, receiverKey: KEY_B, dataLength: 100 },
  },
  {
    name: 'MP_CAPABLE ACK with data and checksum',
    bytes: `1e 18 01 81 ${K_A} ${K_B} 05 dc ab cd`,
    repr: {
      type: 'mp-capable',
      version: 1,
      flags: 0x81,
      senderKey: KEY_A,
      receiverKey: KEY_B,
      dataLength: 1500,
      checksum: 0xabcd,
    },
  },
  // MP_JOIN, RFC 8684 §3.2 (B = lowest bit of byte 2)
  {
    name: 'MP_JOIN SYN (backup)',
    bytes: '1e 0c 11 02 1d ce 66 04 aa aa aa aa',
    repr: { type: 'mp-join-syn', backup: true, addressId: 2, token: 0x1dce6604, nonce: 0xaaaaaaaa },
  },
  {
    name: 'MP_JOIN SYN/ACK',
    bytes: `1e 10 10 00 ${SYNACK_HMAC} bb bb bb bb`,
    repr: { type: 'mp-join-synack', backup: false, addressId: 0, hmac: hex(SYNACK_HMAC), nonce: 0xbbbbbbbb },
  },
  {
    name: 'MP_JOIN ACK',
    bytes: `1e 18 10 00 ${ACK_HMAC}`,
    repr: { type: 'mp-join-ack', hmac: hex(ACK_HMAC) },
  },
  // DSS, RFC 8684 §3.3 (byte 3: F=0x10 m=0x08 M=0x04 a=0x02 A=0x01)
  {
    name: 'DSS data ACK only, 4 bytes',
    bytes: '1e 08 20 01 00 00 03 e8',
    repr: { type: 'dss', dataAck: 1000n, dataAck64: false, dataFin: false },
  },
  {
    name: 'DSS data ACK only, 8 bytes',
    bytes: '1e 0c 20 03 f5 a1 01 d3 d2 9d 6f 73',
    repr: { type: 'dss', dataAck: IDSN_A + 1n, dataAck64: true, dataFin: false },
  },
  {
    name: 'DSS mapping, 4-byte DSN, no checksum',
    bytes: '1e 0e 20 04 00 00 00 01 00 00 00 01 05 a0',
    repr: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 1n, dsn64: false, subflowSeq: 1, length: 1440 } },
  },
  {
    name: 'DSS mapping, 4-byte DSN, with checksum',
    bytes: '1e 10 20 04 de ad be ef 00 01 00 00 05 a0 12 34',
    repr: {
      type: 'dss',
      dataAck64: false,
      dataFin: false,
      mapping: { dsn: 0xdeadbeefn, dsn64: false, subflowSeq: 0x10000, length: 1440, checksum: 0x1234 },
    },
  },
  {
    name: 'DSS mapping, 8-byte DSN, no checksum',
    bytes: '1e 12 20 0c 62 81 57 14 b7 6a e9 a6 00 00 00 01 04 b0',
    repr: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: IDSN_B + 1n, dsn64: true, subflowSeq: 1, length: 1200 } },
  },
  {
    name: 'DSS mapping, 8-byte DSN, with checksum',
    bytes: '1e 14 20 0c 62 81 57 14 b7 6a e9 a6 00 00 00 01 04 b0 fe dc',
    repr: {
      type: 'dss',
      dataAck64: false,
      dataFin: false,
      mapping: { dsn: IDSN_B + 1n, dsn64: true, subflowSeq: 1, length: 1200, checksum: 0xfedc },
    },
  },
  {
    name: 'DSS 8-byte data ACK and 8-byte mapping (what Linux sends)',
    bytes: '1e 1a 20 0f f5 a1 01 d3 d2 9d 6f 73 62 81 57 14 b7 6a e9 a6 ff ff ff fe 04 b0',
    repr: {
      type: 'dss',
      dataAck: IDSN_A + 1n,
      dataAck64: true,
      dataFin: false,
      mapping: { dsn: IDSN_B + 1n, dsn64: true, subflowSeq: 0xfffffffe, length: 1200 },
    },
  },
  {
    name: 'DSS 4-byte data ACK, 4-byte mapping with checksum',
    bytes: '1e 14 20 05 00 00 00 02 00 00 00 03 00 00 00 04 00 05 00 06',
    repr: {
      type: 'dss',
      dataAck: 2n,
      dataAck64: false,
      dataFin: false,
      mapping: { dsn: 3n, dsn64: false, subflowSeq: 4, length: 5, checksum: 6 },
    },
  },
  {
    name: 'DSS every field at full size (28 bytes)',
    bytes: '1e 1c 20 1f ff ff ff ff ff ff ff ff 80 00 00 00 00 00 00 00 ff ff ff ff ff ff 00 00',
    repr: {
      type: 'dss',
      dataAck: 0xffffffffffffffffn,
      dataAck64: true,
      dataFin: true,
      mapping: { dsn: 0x8000000000000000n, dsn64: true, subflowSeq: 0xffffffff, length: 0xffff, checksum: 0 },
    },
  },
  { name: 'DSS DATA_FIN alone', bytes: '1e 04 20 10', repr: { type: 'dss', dataAck64: false, dataFin: true } },
  {
    name: 'DSS DATA_FIN with an 8-byte data ACK, no mapping',
    bytes: '1e 0c 20 13 f5 a1 01 d3 d2 9d 6f 73',
    repr: { type: 'dss', dataAck: IDSN_A + 1n, dataAck64: true, dataFin: true },
  },
  {
    name: 'DSS DATA_FIN with mapping (no data: subflow seq 0, length 1)',
    bytes: '1e 1a 20 1f f5 a1 01 d3 d2 9d 6f 73 62 81 57 14 b7 6a ea 00 00 00 00 00 00 01',
    repr: {
      type: 'dss',
      dataAck: IDSN_A + 1n,
      dataAck64: true,
      dataFin: true,
      mapping: { dsn: IDSN_B + 0x5bn, dsn64: true, subflowSeq: 0, length: 1 },
    },
  },
  {
    name: 'DSS infinite mapping (data-level length 0)',
    bytes: '1e 0e 20 04 00 00 10 00 00 00 00 00 00 00',
    repr: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 4096n, dsn64: false, subflowSeq: 0, length: 0 } },
  },
  {
    name: "DSS 'a' flag without a data ACK",
    bytes: '1e 04 20 02',
    repr: { type: 'dss', dataAck64: true, dataFin: false },
  },
  // ADD_ADDR, RFC 8684 §3.4.1 (E = lowest bit of byte 2; family from the length)
  {
    name: 'ADD_ADDR IPv4 with port and HMAC (18)',
    bytes: `1e 12 30 01 0a 00 00 03 b7 99 ${ADD_ADDR_HMAC}`,
    repr: { type: 'add-addr', echo: false, addressId: 1, address: v4, port: 47001, hmac: hex(ADD_ADDR_HMAC) },
  },
  {
    name: 'ADD_ADDR IPv4 with HMAC, no port (16)',
    bytes: `1e 10 30 01 0a 00 00 03 ${ADD_ADDR_HMAC}`,
    repr: { type: 'add-addr', echo: false, addressId: 1, address: v4, hmac: hex(ADD_ADDR_HMAC) },
  },
  {
    name: 'ADD_ADDR IPv4 echo, no port (8)',
    bytes: '1e 08 31 01 0a 00 00 03',
    repr: { type: 'add-addr', echo: true, addressId: 1, address: v4 },
  },
  {
    name: 'ADD_ADDR IPv4 echo with port (10)',
    bytes: '1e 0a 31 01 0a 00 00 03 b7 99',
    repr: { type: 'add-addr', echo: true, addressId: 1, address: v4, port: 47001 },
  },
  {
    name: 'ADD_ADDR IPv6 with HMAC, no port (28)',
    bytes: `1e 1c 30 07 ${V6} ${ADD_ADDR_HMAC}`,
    repr: { type: 'add-addr', echo: false, addressId: 7, address: v6, hmac: hex(ADD_ADDR_HMAC) },
  },
  {
    name: 'ADD_ADDR IPv6 with port and HMAC (30)',
    bytes: `1e 1e 30 07 ${V6} 00 50 ${ADD_ADDR_HMAC}`,
    repr: { type: 'add-addr', echo: false, addressId: 7, address: v6, port: 80, hmac: hex(ADD_ADDR_HMAC) },
  },
  {
    name: 'ADD_ADDR IPv6 echo, no port (20)',
    bytes: `1e 14 31 07 ${V6}`,
    repr: { type: 'add-addr', echo: true, addressId: 7, address: v6 },
  },
  {
    name: 'ADD_ADDR IPv6 echo with port 0 (22)',
    bytes: `1e 16 31 ff ${V6} 00 00`,
    repr: { type: 'add-addr', echo: true, addressId: 255, address: v6, port: 0 },
  },
  // REMOVE_ADDR, RFC 8684 §3.4.2
  { name: 'REMOVE_ADDR one id', bytes: '1e 04 40 05', repr: { type: 'remove-addr', addressIds: [5] } },
  {
    name: 'REMOVE_ADDR several ids',
    bytes: '1e 07 40 01 02 03 ff',
    repr: { type: 'remove-addr', addressIds: [1, 2, 3, 255] },
  },
  // MP_PRIO, RFC 8684 §3.3.8
  { name: 'MP_PRIO backup', bytes: '1e 03 51', repr: { type: 'mp-prio', backup: true } },
  { name: 'MP_PRIO regular', bytes: '1e 03 50', repr: { type: 'mp-prio', backup: false } },
  // MP_FAIL, RFC 8684 §3.7
  { name: 'MP_FAIL', bytes: '1e 0c 60 00 f5 a1 01 d3 d2 9d 6f 72', repr: { type: 'mp-fail', dsn: IDSN_A } },
  // MP_FASTCLOSE, RFC 8684 §3.5
  { name: 'MP_FASTCLOSE', bytes: `1e 0c 70 00 ${K_B}`, repr: { type: 'mp-fastclose', receiverKey: KEY_B } },
  // MP_TCPRST, RFC 8684 §3.6 (U V W T in the low nibble of byte 2)
  {
    name: 'MP_TCPRST transient, middlebox interference',
    bytes: '1e 04 81 06',
    repr: { type: 'mp-tcprst', flags: 0x1, reason: 0x06 },
  },
  {
    name: 'MP_TCPRST not transient, unspecified',
    bytes: '1e 04 80 00',
    repr: { type: 'mp-tcprst', flags: 0x0, reason: 0x00 },
  },
  // Unknown and experimental subtypes are kept whole
  {
    name: 'MP_EXPERIMENTAL (subtype 15)',
    bytes: '1e 06 f3 de ad be',
    repr: { type: 'mptcp-unknown', subtype: 15, data: hex('f3 de ad be') },
  },
  {
    name: 'unassigned subtype 9, no body',
    bytes: '1e 03 90',
    repr: { type: 'mptcp-unknown', subtype: 9, data: hex('90') },
  },
];

describe('MPTCP option vectors: decode and encode', () => {
  for (const v of vectors) {
    it(v.name, () => {
      const bytes = hex(v.bytes);
      expect(bytes[1]).toBe(bytes.length); // the vector itself is well formed
      expect(parseMptcpOption(bytes)).toStrictEqual(v.repr);
      expect(mptcpOptionLength(v.repr)).toBe(bytes.length);
      expect(toHex(encode(v.repr))).toBe(toHex(bytes));
    });
  }

  it('covers every representation type', () => {
    const types = new Set(vectors.map((v) => v.repr.type));
    expect([...types].sort()).toEqual(
      [
        'add-addr',
        'dss',
        'mp-capable',
        'mp-fail',
        'mp-fastclose',
        'mp-join-ack',
        'mp-join-syn',
        'mp-join-synack',
        'mp-prio',
        'mp-tcprst',
        'mptcp-unknown',
        'remove-addr',
      ].sort(),
    );
  });

  it('parses a view into a larger buffer and copies the byte strings it returns', () => {
    const backing = hex(`00 00 1e 12 30 01 0a 00 00 03 b7 99 ${ADD_ADDR_HMAC} 00`);
    const view = backing.subarray(2, 2 + 18);
    const parsed = parseMptcpOption(view);
    backing.fill(0xee); // the caller reuses its receive buffer
    expect(parsed).toStrictEqual({
      type: 'add-addr',
      echo: false,
      addressId: 1,
      address: v4,
      port: 47001,
      hmac: hex(ADD_ADDR_HMAC),
    });
  });

  it('reads DSS 64-bit fields from an odd offset in a shared buffer', () => {
    const backing = hex('ff 1e 0c 20 03 01 02 03 04 05 06 07 08 ff');
    expect(parseMptcpOption(backing.subarray(1, 13))).toStrictEqual({
      type: 'dss',
      dataAck: 0x0102030405060708n,
      dataAck64: true,
      dataFin: false,
    });
  });
});

describe('reserved bits are ignored on parse and emitted as zero', () => {
  const cases: { name: string; input: string; repr: MptcpOption; canonical: string }[] = [
    {
      name: 'MP_JOIN SYN, bits 1..3 of byte 2',
      input: '1e 0c 1e 02 1d ce 66 04 aa aa aa aa',
      repr: { type: 'mp-join-syn', backup: false, addressId: 2, token: 0x1dce6604, nonce: 0xaaaaaaaa },
      canonical: '1e 0c 10 02 1d ce 66 04 aa aa aa aa',
    },
    {
      name: 'MP_JOIN SYN/ACK, bits 1..3 of byte 2',
      input: `1e 10 1f 09 ${SYNACK_HMAC} bb bb bb bb`,
      repr: { type: 'mp-join-synack', backup: true, addressId: 9, hmac: hex(SYNACK_HMAC), nonce: 0xbbbbbbbb },
      canonical: `1e 10 11 09 ${SYNACK_HMAC} bb bb bb bb`,
    },
    {
      name: 'MP_JOIN ACK, the 12 bits after the subtype',
      input: `1e 18 1f ff ${ACK_HMAC}`,
      repr: { type: 'mp-join-ack', hmac: hex(ACK_HMAC) },
      canonical: `1e 18 10 00 ${ACK_HMAC}`,
    },
    {
      name: 'DSS, low nibble of byte 2 and top 3 bits of byte 3',
      input: '1e 08 2f e1 00 00 03 e8',
      repr: { type: 'dss', dataAck: 1000n, dataAck64: false, dataFin: false },
      canonical: '1e 08 20 01 00 00 03 e8',
    },
    {
      name: "DSS, 'm' without 'M' means nothing",
      input: '1e 08 20 09 00 00 03 e8',
      repr: { type: 'dss', dataAck: 1000n, dataAck64: false, dataFin: false },
      canonical: '1e 08 20 01 00 00 03 e8',
    },
    {
      name: 'ADD_ADDR, bits 1..3 of byte 2',
      input: '1e 08 3f 01 0a 00 00 03',
      repr: { type: 'add-addr', echo: true, addressId: 1, address: v4 },
      canonical: '1e 08 31 01 0a 00 00 03',
    },
    {
      name: 'REMOVE_ADDR, low nibble of byte 2',
      input: '1e 04 4f 05',
      repr: { type: 'remove-addr', addressIds: [5] },
      canonical: '1e 04 40 05',
    },
    {
      name: 'MP_PRIO, bits 1..3 of byte 2',
      input: '1e 03 5e',
      repr: { type: 'mp-prio', backup: false },
      canonical: '1e 03 50',
    },
    {
      name: 'MP_FAIL, the 12 bits after the subtype',
      input: '1e 0c 6a bc f5 a1 01 d3 d2 9d 6f 72',
      repr: { type: 'mp-fail', dsn: IDSN_A },
      canonical: '1e 0c 60 00 f5 a1 01 d3 d2 9d 6f 72',
    },
    {
      name: 'MP_FASTCLOSE, the 12 bits after the subtype',
      input: `1e 0c 7f ff ${K_A}`,
      repr: { type: 'mp-fastclose', receiverKey: KEY_A },
      canonical: `1e 0c 70 00 ${K_A}`,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseMptcpOption(hex(c.input))).toStrictEqual(c.repr);
      expect(toHex(encode(c.repr))).toBe(toHex(hex(c.canonical)));
    });
  }

  it('MP_TCPRST keeps U, V and W as received (they are named flags, not reserved bits)', () => {
    const repr = parseMptcpOption(hex('1e 04 8f 02'));
    expect(repr).toStrictEqual({ type: 'mp-tcprst', flags: 0xf, reason: 2 });
    expect(toHex(encode(repr))).toBe('1e 04 8f 02');
  });

  it('MP_CAPABLE keeps every flag bit as sent', () => {
    const repr = parseMptcpOption(hex('1e 04 01 ff'));
    expect(repr).toStrictEqual({ type: 'mp-capable', version: 1, flags: 0xff });
    expect(toHex(encode(repr))).toBe('1e 04 01 ff');
  });
});

describe('malformed options raise the right WireError code', () => {
  const cases: { name: string; bytes: string; code: WireErrorCode }[] = [
    // What every option shares
    { name: 'empty buffer', bytes: '', code: 'TRUNCATED' },
    { name: 'kind alone', bytes: '1e', code: 'TRUNCATED' },
    { name: 'not kind 30 (an MSS option)', bytes: '02 04 05 b4', code: 'BAD_VALUE' },
    { name: 'length byte beyond the buffer', bytes: '1e 08 20 01 00', code: 'TRUNCATED' },
    { name: 'buffer beyond the length byte', bytes: '1e 04 01 81 00', code: 'BAD_LENGTH' },
    { name: 'length 2: no subtype', bytes: '1e 02', code: 'BAD_LENGTH' },
    { name: 'length 0', bytes: '1e 00', code: 'BAD_LENGTH' },
    { name: 'length 1', bytes: '1e 01', code: 'BAD_LENGTH' },
    // MP_CAPABLE
    { name: 'MP_CAPABLE length 3', bytes: '1e 03 01', code: 'BAD_LENGTH' },
    { name: 'MP_CAPABLE length 5', bytes: '1e 05 01 81 00', code: 'BAD_LENGTH' },
    { name: 'MP_CAPABLE length 13', bytes: `1e 0d 01 81 ${K_A} 00`, code: 'BAD_LENGTH' },
    { name: 'MP_CAPABLE length 21', bytes: `1e 15 01 81 ${K_A} ${K_B} 00`, code: 'BAD_LENGTH' },
    { name: 'MP_CAPABLE length 23', bytes: `1e 17 01 81 ${K_A} ${K_B} 00 00 00`, code: 'BAD_LENGTH' },
    { name: 'MP_CAPABLE length 26', bytes: `1e 1a 01 81 ${K_A} ${K_B} 00 00 00 00 00 00`, code: 'BAD_LENGTH' },
    { name: 'MP_CAPABLE v0 SYN (RFC 6824, carries a key)', bytes: `1e 0c 00 81 ${K_A}`, code: 'UNSUPPORTED' },
    { name: 'MP_CAPABLE v0 in 4 bytes', bytes: '1e 04 00 81', code: 'UNSUPPORTED' },
    { name: 'MP_CAPABLE v2 SYN/ACK', bytes: `1e 0c 02 81 ${K_B}`, code: 'UNSUPPORTED' },
    { name: 'MP_CAPABLE v2 ACK', bytes: `1e 14 02 81 ${K_A} ${K_B}`, code: 'UNSUPPORTED' },
    // MP_JOIN
    { name: 'MP_JOIN length 3', bytes: '1e 03 10', code: 'BAD_LENGTH' },
    { name: 'MP_JOIN length 11', bytes: '1e 0b 10 00 00 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'MP_JOIN length 20', bytes: `1e 14 10 00 ${SYNACK_HMAC} 00 00 00 00 00 00 00 00`, code: 'BAD_LENGTH' },
    { name: 'MP_JOIN length 25', bytes: `1e 19 10 00 ${ACK_HMAC} 00`, code: 'BAD_LENGTH' },
    // DSS: length must be what the flags imply (+2 for the checksum when M is set)
    { name: 'DSS length 3', bytes: '1e 03 20', code: 'BAD_LENGTH' },
    { name: 'DSS no fields, length 6', bytes: '1e 06 20 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS A, length 4', bytes: '1e 04 20 01', code: 'BAD_LENGTH' },
    { name: 'DSS A, length 9', bytes: '1e 09 20 01 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS A+a, length 8', bytes: '1e 08 20 03 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS A, length 10 (no checksum without M)', bytes: '1e 0a 20 01 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS M, length 15', bytes: '1e 0f 20 04 00 00 00 00 00 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS M, length 17', bytes: '1e 11 20 04 00 00 00 00 00 00 00 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS M+m, length 14 (4-byte DSN size)', bytes: '1e 0e 20 0c 00 00 00 00 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'DSS M+m+A+a, length 30', bytes: `1e 1e 20 0f ${'00 '.repeat(26)}`, code: 'BAD_LENGTH' },
    // ADD_ADDR: E decides which lengths are possible
    { name: 'ADD_ADDR length 3', bytes: '1e 03 30', code: 'BAD_LENGTH' },
    { name: 'ADD_ADDR echo with HMAC-sized length 16', bytes: `1e 10 31 01 0a 00 00 03 ${ADD_ADDR_HMAC}`, code: 'BAD_LENGTH' },
    { name: 'ADD_ADDR no echo, length 8 (no HMAC)', bytes: '1e 08 30 01 0a 00 00 03', code: 'BAD_LENGTH' },
    { name: 'ADD_ADDR no echo, length 12', bytes: '1e 0c 30 01 0a 00 00 03 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'ADD_ADDR echo, length 9', bytes: '1e 09 31 01 0a 00 00 03 00', code: 'BAD_LENGTH' },
    { name: 'ADD_ADDR echo, length 24', bytes: `1e 18 31 01 ${V6} 00 00 00 00`, code: 'BAD_LENGTH' },
    { name: 'ADD_ADDR no echo, length 32', bytes: `1e 20 30 01 ${V6} 00 00 00 00 ${ADD_ADDR_HMAC}`, code: 'BAD_LENGTH' },
    // The rest
    { name: 'REMOVE_ADDR with no id', bytes: '1e 03 40', code: 'BAD_LENGTH' },
    { name: 'MP_PRIO length 4 (RFC 6824 form)', bytes: '1e 04 51 00', code: 'BAD_LENGTH' },
    { name: 'MP_FAIL length 11', bytes: '1e 0b 60 00 00 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'MP_FAIL length 13', bytes: '1e 0d 60 00 00 00 00 00 00 00 00 00 00', code: 'BAD_LENGTH' },
    { name: 'MP_FASTCLOSE length 4', bytes: '1e 04 70 00', code: 'BAD_LENGTH' },
    { name: 'MP_FASTCLOSE length 20', bytes: `1e 14 70 00 ${K_A} ${K_B}`, code: 'BAD_LENGTH' },
    { name: 'MP_TCPRST length 3', bytes: '1e 03 81', code: 'BAD_LENGTH' },
    { name: 'MP_TCPRST length 5', bytes: '1e 05 81 01 00', code: 'BAD_LENGTH' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(codeOf(() => parseMptcpOption(hex(c.bytes)))).toBe(c.code);
    });
  }

  it('throws WireError instances with the code on them', () => {
    let caught: unknown;
    try {
      parseMptcpOption(hex('1e 03 40'));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).name).toBe('WireError');
    expect((caught as WireError).code).toBe('BAD_LENGTH');
  });

  it('every truncation of every vector is rejected as TRUNCATED', () => {
    for (const v of vectors) {
      const bytes = hex(v.bytes);
      for (let n = 0; n < bytes.length; n++) {
        expect(codeOf(() => parseMptcpOption(bytes.subarray(0, n))), `${v.name} cut to ${n}`).toBe('TRUNCATED');
      }
    }
  });
});

describe('emit validates the representation', () => {
  const bad: { name: string; opt: unknown }[] = [
    // MP_CAPABLE
    { name: 'MP_CAPABLE version 0', opt: { type: 'mp-capable', version: 0, flags: 0x81 } },
    { name: 'MP_CAPABLE version 16', opt: { type: 'mp-capable', version: 16, flags: 0x81 } },
    { name: 'MP_CAPABLE version 1.5', opt: { type: 'mp-capable', version: 1.5, flags: 0x81 } },
    { name: 'MP_CAPABLE version 2 with a key', opt: { type: 'mp-capable', version: 2, flags: 1, senderKey: 1n } },
    { name: 'MP_CAPABLE flags 256', opt: { type: 'mp-capable', version: 1, flags: 256 } },
    { name: 'MP_CAPABLE flags -1', opt: { type: 'mp-capable', version: 1, flags: -1 } },
    { name: 'MP_CAPABLE senderKey 2^64', opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 1n << 64n } },
    { name: 'MP_CAPABLE senderKey -1', opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: -1n } },
    { name: 'MP_CAPABLE senderKey as a number', opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 5 } },
    {
      name: 'MP_CAPABLE receiverKey 2^64',
      opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 1n, receiverKey: 1n << 64n },
    },
    { name: 'MP_CAPABLE receiverKey without senderKey', opt: { type: 'mp-capable', version: 1, flags: 1, receiverKey: 1n } },
    {
      name: 'MP_CAPABLE dataLength without receiverKey',
      opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 1n, dataLength: 10 },
    },
    {
      name: 'MP_CAPABLE checksum without dataLength',
      opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 1n, receiverKey: 2n, checksum: 3 },
    },
    {
      name: 'MP_CAPABLE dataLength 65536',
      opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 1n, receiverKey: 2n, dataLength: 65536 },
    },
    {
      name: 'MP_CAPABLE checksum -1',
      opt: { type: 'mp-capable', version: 1, flags: 1, senderKey: 1n, receiverKey: 2n, dataLength: 1, checksum: -1 },
    },
    // MP_JOIN
    { name: 'MP_JOIN SYN addressId 256', opt: { type: 'mp-join-syn', backup: false, addressId: 256, token: 1, nonce: 1 } },
    { name: 'MP_JOIN SYN token 2^32', opt: { type: 'mp-join-syn', backup: false, addressId: 1, token: 2 ** 32, nonce: 1 } },
    { name: 'MP_JOIN SYN nonce -1', opt: { type: 'mp-join-syn', backup: false, addressId: 1, token: 1, nonce: -1 } },
    { name: 'MP_JOIN SYN token NaN', opt: { type: 'mp-join-syn', backup: false, addressId: 1, token: NaN, nonce: 1 } },
    {
      name: 'MP_JOIN SYN/ACK hmac of 20 bytes',
      opt: { type: 'mp-join-synack', backup: false, addressId: 1, hmac: new Uint8Array(20), nonce: 1 },
    },
    {
      name: 'MP_JOIN SYN/ACK nonce 2^32',
      opt: { type: 'mp-join-synack', backup: false, addressId: 1, hmac: new Uint8Array(8), nonce: 2 ** 32 },
    },
    { name: 'MP_JOIN ACK hmac of 8 bytes', opt: { type: 'mp-join-ack', hmac: new Uint8Array(8) } },
    { name: 'MP_JOIN ACK hmac as an array', opt: { type: 'mp-join-ack', hmac: new Array(20).fill(0) } },
    // DSS
    { name: 'DSS 32-bit data ACK of 2^32', opt: { type: 'dss', dataAck: 1n << 32n, dataAck64: false, dataFin: false } },
    { name: 'DSS 64-bit data ACK of 2^64', opt: { type: 'dss', dataAck: 1n << 64n, dataAck64: true, dataFin: false } },
    { name: 'DSS data ACK -1', opt: { type: 'dss', dataAck: -1n, dataAck64: true, dataFin: false } },
    { name: 'DSS data ACK as a number', opt: { type: 'dss', dataAck: 7, dataAck64: true, dataFin: false } },
    {
      name: 'DSS 32-bit DSN of 2^32',
      opt: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 1n << 32n, dsn64: false, subflowSeq: 0, length: 1 } },
    },
    {
      name: 'DSS 64-bit DSN of 2^64',
      opt: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 1n << 64n, dsn64: true, subflowSeq: 0, length: 1 } },
    },
    {
      name: 'DSS subflowSeq 2^32',
      opt: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 1n, dsn64: true, subflowSeq: 2 ** 32, length: 1 } },
    },
    {
      name: 'DSS data-level length 65536',
      opt: { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 1n, dsn64: true, subflowSeq: 0, length: 65536 } },
    },
    {
      name: 'DSS checksum 65536',
      opt: {
        type: 'dss',
        dataAck64: false,
        dataFin: false,
        mapping: { dsn: 1n, dsn64: true, subflowSeq: 0, length: 1, checksum: 65536 },
      },
    },
    // ADD_ADDR
    { name: 'ADD_ADDR address of 5 bytes', opt: { type: 'add-addr', echo: true, addressId: 1, address: new Uint8Array(5) } },
    { name: 'ADD_ADDR echo with an hmac', opt: { type: 'add-addr', echo: true, addressId: 1, address: v4, hmac: new Uint8Array(8) } },
    { name: 'ADD_ADDR no echo without an hmac', opt: { type: 'add-addr', echo: false, addressId: 1, address: v4 } },
    {
      name: 'ADD_ADDR hmac of 7 bytes',
      opt: { type: 'add-addr', echo: false, addressId: 1, address: v4, hmac: new Uint8Array(7) },
    },
    { name: 'ADD_ADDR port 65536', opt: { type: 'add-addr', echo: true, addressId: 1, address: v4, port: 65536 } },
    { name: 'ADD_ADDR addressId -1', opt: { type: 'add-addr', echo: true, addressId: -1, address: v4 } },
    // REMOVE_ADDR
    { name: 'REMOVE_ADDR with no id', opt: { type: 'remove-addr', addressIds: [] } },
    { name: 'REMOVE_ADDR with 253 ids', opt: { type: 'remove-addr', addressIds: new Array(253).fill(1) } },
    { name: 'REMOVE_ADDR id 256', opt: { type: 'remove-addr', addressIds: [1, 256] } },
    // The rest
    { name: 'MP_FAIL dsn 2^64', opt: { type: 'mp-fail', dsn: 1n << 64n } },
    { name: 'MP_FAIL dsn -1', opt: { type: 'mp-fail', dsn: -1n } },
    { name: 'MP_FASTCLOSE key 2^64', opt: { type: 'mp-fastclose', receiverKey: 1n << 64n } },
    { name: 'MP_FASTCLOSE key as a number', opt: { type: 'mp-fastclose', receiverKey: 1 } },
    { name: 'MP_TCPRST flags 16', opt: { type: 'mp-tcprst', flags: 16, reason: 0 } },
    { name: 'MP_TCPRST reason 256', opt: { type: 'mp-tcprst', flags: 0, reason: 256 } },
    { name: 'unknown with a known subtype', opt: { type: 'mptcp-unknown', subtype: 2, data: hex('20 00') } },
    { name: 'unknown with subtype 16', opt: { type: 'mptcp-unknown', subtype: 16, data: hex('00') } },
    { name: 'unknown with empty data', opt: { type: 'mptcp-unknown', subtype: 15, data: new Uint8Array(0) } },
    { name: 'unknown data naming another subtype', opt: { type: 'mptcp-unknown', subtype: 15, data: hex('e0') } },
    { name: 'unknown data of 254 bytes', opt: { type: 'mptcp-unknown', subtype: 15, data: new Uint8Array(254).fill(0xf0) } },
    { name: 'not a representation at all', opt: { type: 'mss', mss: 1460 } },
  ];
  for (const c of bad) {
    it(`${c.name} → BAD_VALUE, and nothing is written`, () => {
      const buf = new Uint8Array(300).fill(0xa5);
      expect(codeOf(() => emitMptcpOption(c.opt as MptcpOption, buf, 10))).toBe('BAD_VALUE');
      expect(buf.every((b) => b === 0xa5)).toBe(true);
    });
  }

  it('accepts the largest lists the length byte allows', () => {
    const ids = Array.from({ length: 252 }, (_, i) => i);
    const bytes = encode({ type: 'remove-addr', addressIds: ids });
    expect(bytes.length).toBe(255);
    expect(parseMptcpOption(bytes)).toStrictEqual({ type: 'remove-addr', addressIds: ids });
    const data = new Uint8Array(253).fill(0x77);
    data[0] = 0xf0;
    const unknown: MptcpOption = { type: 'mptcp-unknown', subtype: 15, data };
    expect(parseMptcpOption(encode(unknown))).toStrictEqual(unknown);
  });

  it('writes at the offset and nowhere else', () => {
    const buf = new Uint8Array(40).fill(0xa5);
    const written = emitMptcpOption({ type: 'mp-fastclose', receiverKey: KEY_B }, buf, 7);
    expect(written).toBe(12);
    expect(toHex(buf.subarray(7, 19))).toBe(`1e 0c 70 00 ${K_B}`);
    expect(buf.subarray(0, 7).every((b) => b === 0xa5)).toBe(true);
    expect(buf.subarray(19).every((b) => b === 0xa5)).toBe(true);
  });

  it('TOO_LARGE when the buffer has no room at the offset, and nothing is written', () => {
    const dss: MptcpOption = {
      type: 'dss',
      dataAck: 1n,
      dataAck64: true,
      dataFin: false,
      mapping: { dsn: 1n, dsn64: true, subflowSeq: 1, length: 1 },
    };
    for (const v of vectors) {
      const len = mptcpOptionLength(v.repr);
      const buf = new Uint8Array(len + 3).fill(0xa5);
      expect(codeOf(() => emitMptcpOption(v.repr, buf, 4)), v.name).toBe('TOO_LARGE');
      expect(codeOf(() => emitMptcpOption(v.repr, buf, -1)), v.name).toBe('TOO_LARGE');
      expect(codeOf(() => emitMptcpOption(v.repr, buf, 0.5)), v.name).toBe('TOO_LARGE');
      expect(buf.every((b) => b === 0xa5)).toBe(true);
      expect(emitMptcpOption(v.repr, buf, 3)).toBe(len); // the last offset that fits
    }
    expect(codeOf(() => emitMptcpOption(dss, new Uint8Array(25), 0))).toBe('TOO_LARGE');
  });
});
