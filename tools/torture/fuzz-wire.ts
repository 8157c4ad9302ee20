/**
 * `fuzz-wire`: every decoder of packages/core/src/wire against random and mutated bytes.
 * The typed error is WireError; anything else thrown is a crash. Where a decoder accepts
 * an input, the matching encoder must write it back so that it parses to the same thing
 * (a decoder that accepts what its encoder cannot express is a bug worth knowing about).
 *
 * Targets: the TCP header view, a whole segment, the TCP options region, one target per
 * MPTCP option subtype (RFC 8684 §3, each pinned to its subtype so its own codec is
 * reached), and both directions of the tcp-in-udp encapsulation.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  MPTCP_KIND,
  MptcpSubtype,
  TcpFlag,
  TcpHeaderView,
  TcpOptionKind,
  WireError,
  emitMptcpOption,
  emitSegment,
  emitTcpOptions,
  mptcpOptionLength,
  parseMptcpOption,
  parseSegment,
  parseTcpOptions,
  segmentToUdpPayload,
  udpPayloadToSegment,
  type MptcpOption,
  type TcpOption,
  type TcpSegment,
} from '@mptun/core';
import type { TortureCheck } from './types.js';
import {
  byteInputs,
  bytesEqual,
  invariant,
  runFuzzTargets,
  type ByteInput,
  type ByteSeed,
  type FuzzCheckOptions,
  type FuzzTarget,
} from './fuzz-harness.js';

/** Inputs per target in CI mode (the wire decoders are cheap: a few µs each). */
export const WIRE_CI_INPUTS = 30_000;

const isWireError = (err: unknown): boolean => err instanceof WireError;

const HMAC8 = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const HMAC20 = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);

/** One valid option of each form of each subtype. */
export function mptcpSeedOptions(): MptcpOption[] {
  return [
    { type: 'mp-capable', version: 1, flags: 0x81 },
    { type: 'mp-capable', version: 1, flags: 0x01, senderKey: 0x0102030405060708n },
    { type: 'mp-capable', version: 1, flags: 0x01, senderKey: 0x0102030405060708n, receiverKey: 0x1122334455667788n },
    { type: 'mp-capable', version: 1, flags: 0x01, senderKey: 1n, receiverKey: 2n, dataLength: 1400 },
    { type: 'mp-capable', version: 1, flags: 0x81, senderKey: 1n, receiverKey: 2n, dataLength: 1400, checksum: 0xbeef },
    { type: 'mp-join-syn', backup: true, addressId: 2, token: 0x66840dda, nonce: 0xaaaaaaaa },
    { type: 'mp-join-synack', backup: false, addressId: 3, hmac: HMAC8, nonce: 0xbbbbbbbb },
    { type: 'mp-join-ack', hmac: HMAC20 },
    { type: 'dss', dataAck: 0x1234_5678_9abc_def0n, dataAck64: true, dataFin: false },
    { type: 'dss', dataAck: 0x1234n, dataAck64: false, dataFin: true },
    { type: 'dss', dataAck64: false, dataFin: false, mapping: { dsn: 0xffff_ffff_0000_0001n, dsn64: true, subflowSeq: 1, length: 1400 } },
    { type: 'dss', dataAck: 7n, dataAck64: true, dataFin: true, mapping: { dsn: 5n, dsn64: false, subflowSeq: 0xffff_ffff, length: 0, checksum: 0x1234 } },
    { type: 'add-addr', echo: false, addressId: 1, address: Uint8Array.of(10, 0, 0, 3), port: 47001, hmac: HMAC8 },
    { type: 'add-addr', echo: true, addressId: 9, address: Uint8Array.from({ length: 16 }, (_, i) => i) },
    { type: 'add-addr', echo: false, addressId: 4, address: Uint8Array.from({ length: 16 }, (_, i) => 255 - i), port: 1, hmac: HMAC8 },
    { type: 'remove-addr', addressIds: [1] },
    { type: 'remove-addr', addressIds: [1, 2, 3, 250] },
    { type: 'mp-prio', backup: true },
    { type: 'mp-fail', dsn: 0xdead_beef_0000_0001n },
    { type: 'mp-fastclose', receiverKey: 0x1122334455667788n },
    { type: 'mp-tcprst', flags: 0x1, reason: 0x02 },
    { type: 'mptcp-unknown', subtype: MptcpSubtype.MP_EXPERIMENTAL, data: Uint8Array.of(0xf0, 1, 2, 3) },
  ];
}

function encodeMptcp(opt: MptcpOption): Uint8Array {
  const out = new Uint8Array(mptcpOptionLength(opt));
  emitMptcpOption(opt, out, 0);
  return out;
}

/** The subtype nibble of a representation (9..15 for unknown ones). */
function subtypeOf(opt: MptcpOption): number {
  switch (opt.type) {
    case 'mp-capable':
      return MptcpSubtype.MP_CAPABLE;
    case 'mp-join-syn':
    case 'mp-join-synack':
    case 'mp-join-ack':
      return MptcpSubtype.MP_JOIN;
    case 'dss':
      return MptcpSubtype.DSS;
    case 'add-addr':
      return MptcpSubtype.ADD_ADDR;
    case 'remove-addr':
      return MptcpSubtype.REMOVE_ADDR;
    case 'mp-prio':
      return MptcpSubtype.MP_PRIO;
    case 'mp-fail':
      return MptcpSubtype.MP_FAIL;
    case 'mp-fastclose':
      return MptcpSubtype.MP_FASTCLOSE;
    case 'mp-tcprst':
      return MptcpSubtype.MP_TCPRST;
    case 'mptcp-unknown':
      return opt.subtype;
  }
}

const SUBTYPE_NAMES: Array<[string, number]> = [
  ['mp-capable', MptcpSubtype.MP_CAPABLE],
  ['mp-join', MptcpSubtype.MP_JOIN],
  ['dss', MptcpSubtype.DSS],
  ['add-addr', MptcpSubtype.ADD_ADDR],
  ['remove-addr', MptcpSubtype.REMOVE_ADDR],
  ['mp-prio', MptcpSubtype.MP_PRIO],
  ['mp-fail', MptcpSubtype.MP_FAIL],
  ['mp-fastclose', MptcpSubtype.MP_FASTCLOSE],
  ['mp-tcprst', MptcpSubtype.MP_TCPRST],
  ['experimental', MptcpSubtype.MP_EXPERIMENTAL],
];

/** Parse, then the representation must encode and parse back to itself. */
function mptcpRoundTrip(bytes: Uint8Array): MptcpOption {
  const parsed = parseMptcpOption(bytes);
  let again: MptcpOption;
  try {
    again = parseMptcpOption(encodeMptcp(parsed));
  } catch (err) {
    invariant(false, `parsed option ${describe(parsed)} does not encode back: ${(err as Error).message}`);
    throw err;
  }
  invariant(isDeepStrictEqual(again, parsed), `option ${describe(parsed)} re-parses as ${describe(again)}`);
  return parsed;
}

/** An MPTCP option target pinned to one subtype: most inputs keep kind, subtype and (often) a true length. */
function mptcpTarget(name: string, subtype: number, seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  const draw = byteInputs(seeds, { maxRandomLength: 48, randomShare: 0.15 });
  return {
    name: `mptcp ${name}`,
    generate(rng) {
      const input = draw(rng);
      const b = input.bytes;
      const r = rng.next();
      // Keep the input aimed at this subtype's codec most of the time; leave the rest raw.
      if (r < 0.85 && b.length >= 3) {
        b[0] = MPTCP_KIND;
        b[2] = (subtype << 4) | (b[2]! & 0x0f);
        if (r < 0.6) b[1] = Math.min(b.length, 0xff);
      }
      return input;
    },
    run: (input) => mptcpRoundTrip(input.bytes),
    isExpected: isWireError,
    show: (input) => showBytes(input.bytes),
  };
}

/** Valid segments with a spread of options, and where their length bytes sit. */
function segmentSeeds(): ByteSeed[] {
  const m = mptcpSeedOptions();
  const optionSets: TcpOption[][] = [
    [],
    [{ kind: 'mss', mss: 1460 }, { kind: 'sack-permitted' }, { kind: 'window-scale', shift: 7 }, { kind: 'mptcp', option: m[0]! }],
    [{ kind: 'timestamps', tsval: 1, tsecr: 0xffff_ffff }, { kind: 'mptcp', option: m[10]! }],
    [{ kind: 'sack', blocks: [{ left: 1, right: 2 }, { left: 3, right: 4 }] }, { kind: 'mptcp', option: m[8]! }],
    [{ kind: 'mptcp', option: m[2]! }, { kind: 'unknown', type: 99, data: Uint8Array.of(1, 2, 3) }],
    [{ kind: 'mptcp', option: m[5]! }, { kind: 'mptcp', option: m[17]! }],
    [{ kind: 'mptcp', option: m[12]! }],
    [{ kind: 'sack', blocks: [{ left: 1, right: 2 }, { left: 3, right: 4 }, { left: 5, right: 6 }, { left: 7, right: 8 }] }],
  ];
  return optionSets.map((options, i) => {
    const seg: TcpSegment = {
      srcPort: 40000 + i,
      dstPort: 443,
      seq: 0x0102_0304 * (i + 1),
      ack: 0xfffe_0000 + i,
      flags: i % 2 === 0 ? TcpFlag.SYN | TcpFlag.ACK : TcpFlag.ACK | TcpFlag.PSH,
      window: 65535 - i,
      checksum: 0,
      urgent: 0,
      options,
      payload: Uint8Array.from({ length: i * 7 }, (_, k) => k),
    };
    const bytes = emitSegment(seg).slice();
    return { bytes, lengthFields: [12, ...optionLengthOffsets(bytes, 20, ((bytes[12]! >>> 4) << 2))] };
  });
}

/** Offsets of the length byte of every option in bytes[start, end). */
function optionLengthOffsets(bytes: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  let i = start;
  while (i + 1 < end) {
    const kind = bytes[i]!;
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    out.push(i + 1);
    if (kind === MPTCP_KIND) out.push(i + 2);
    i += Math.max(2, bytes[i + 1]!);
  }
  return out;
}

function headerViewTarget(seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  const draw = byteInputs(seeds, { maxRandomLength: 80 });
  return {
    name: 'tcp header view',
    generate: draw,
    run({ bytes }) {
      const v = TcpHeaderView.checked(bytes);
      // Every accessor must stay within the buffer and agree with the checked length.
      const fields = [v.srcPort, v.dstPort, v.seq, v.ack, v.dataOffset, v.flags, v.window, v.checksum, v.urgent];
      invariant(fields.every((f) => Number.isInteger(f) && f >= 0), `a header field read as ${fields.join(',')}`);
      invariant(v.headerLength >= 20 && v.headerLength <= 60 && v.headerLength <= bytes.length, `header length ${v.headerLength}`);
      invariant(v.optionBytes().length === v.headerLength - 20, 'options region length');
      invariant(v.payload().length === bytes.length - v.headerLength, 'payload length');
      v.hasFlags(TcpFlag.SYN | TcpFlag.ACK);
      return v;
    },
    isExpected: isWireError,
    show: (input) => showBytes(input.bytes),
  };
}

function segmentTarget(seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  const draw = byteInputs(seeds, { maxRandomLength: 80 });
  return {
    name: 'tcp segment',
    generate: draw,
    run({ bytes }) {
      const seg = parseSegment(bytes);
      const again = parseSegment(reEmit(seg));
      invariant(isDeepStrictEqual(again, seg), `segment re-parses differently: ${describe(seg)} vs ${describe(again)}`);
      return seg;
    },
    isExpected: isWireError,
    show: (input) => showBytes(input.bytes),
  };
}

function reEmit(seg: TcpSegment): Uint8Array {
  try {
    return emitSegment(seg);
  } catch (err) {
    invariant(false, `parsed segment ${describe(seg)} does not encode back: ${(err as Error).message}`);
    throw err;
  }
}

function optionsTarget(seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  // The options regions of the segment seeds, with their length bytes re-based to 0.
  const regions: ByteSeed[] = seeds
    .map((s) => {
      const end = (s.bytes[12]! >>> 4) << 2;
      return { bytes: s.bytes.slice(20, end), lengthFields: (s.lengthFields ?? []).filter((o) => o >= 20 && o < end).map((o) => o - 20) };
    })
    .filter((s) => s.bytes.length > 0);
  const draw = byteInputs(regions, { maxRandomLength: 40 });
  return {
    name: 'tcp options',
    generate: draw,
    run({ bytes }) {
      const opts = parseTcpOptions(bytes);
      if (bytes.length <= 40) {
        // Whatever fit in a real options region must encode back into one.
        const out = new Uint8Array(40);
        let n: number;
        try {
          n = emitTcpOptions(opts, out, 0);
        } catch (err) {
          invariant(false, `parsed options ${describe(opts)} do not encode back: ${(err as Error).message}`);
          throw err;
        }
        const again = parseTcpOptions(out.subarray(0, n));
        invariant(isDeepStrictEqual(again, opts), `options re-parse differently: ${describe(opts)} vs ${describe(again)}`);
      }
      return opts;
    },
    isExpected: isWireError,
    show: (input) => showBytes(input.bytes),
  };
}

/** tcp-in-udp payloads (what a UDP socket hands over) back into segments, and back again. */
function udpToSegmentTarget(seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  const payloadSeeds: ByteSeed[] = [];
  for (const s of seeds) {
    try {
      payloadSeeds.push({ bytes: segmentToUdpPayload(s.bytes), lengthFields: [0, ...(s.lengthFields ?? []).filter((o) => o >= 20).map((o) => o - 8)] });
    } catch {
      // a seed tcp-in-udp cannot carry (URG): not a payload seed
    }
  }
  const draw = byteInputs(payloadSeeds, { maxRandomLength: 80 });
  return {
    name: 'tcp-in-udp decode',
    generate: draw,
    run({ bytes }) {
      const seg = udpPayloadToSegment(bytes, 40000, 443);
      invariant(seg.length === bytes.length + 8, 'segment is not 8 bytes longer than its payload');
      invariant(bytesEqual(segmentToUdpPayload(seg), bytes), 'payload → segment → payload is not the identity');
      return seg;
    },
    isExpected: isWireError,
    show: (input) => showBytes(input.bytes),
  };
}

function segmentToUdpTarget(seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  const draw = byteInputs(seeds, { maxRandomLength: 80 });
  return {
    name: 'tcp-in-udp encode',
    generate: draw,
    run({ bytes }) {
      const payload = segmentToUdpPayload(bytes);
      const back = udpPayloadToSegment(payload, (bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
      // Everything but the checksum and urgent pointer (which tcp-in-udp does not carry) returns.
      const expected = bytes.slice();
      expected.fill(0, 16, 20);
      invariant(bytesEqual(back, expected), 'segment → payload → segment changed more than checksum and urgent pointer');
      return payload;
    },
    isExpected: isWireError,
    show: (input) => showBytes(input.bytes),
  };
}

/** Every wire target, built from its seeds. */
export function wireTargets(): FuzzTarget<ByteInput>[] {
  const options = mptcpSeedOptions();
  const segments = segmentSeeds();
  const targets: FuzzTarget<ByteInput>[] = [headerViewTarget(segments), segmentTarget(segments), optionsTarget(segments)];
  const all: ByteSeed[] = options.map((o) => ({ bytes: encodeMptcp(o), lengthFields: [1, 2, 3] }));
  for (const [name, subtype] of SUBTYPE_NAMES) {
    const own = options
      .filter((o) => (subtype === MptcpSubtype.MP_EXPERIMENTAL ? subtypeOf(o) > MptcpSubtype.MP_TCPRST : subtypeOf(o) === subtype))
      .map((o) => ({ bytes: encodeMptcp(o), lengthFields: [1, 2, 3] }));
    // Own forms mostly; the other subtypes' bodies too, for splices and cross-form lengths.
    targets.push(mptcpTarget(name, subtype, [...own, ...own, ...own, ...all]));
  }
  targets.push(udpToSegmentTarget(segments), segmentToUdpTarget(segments));
  return targets;
}

export function createFuzzWireCheck(o: FuzzCheckOptions = {}): TortureCheck {
  return {
    id: 'fuzz-wire',
    title: 'Fuzzing the wire decoders (TCP header, options, MPTCP options, tcp-in-udp)',
    run: (opts) => runFuzzTargets('fuzz-wire', wireTargets(), opts, o.inputs ?? (opts.long ? undefined : WIRE_CI_INPUTS)),
  };
}

export const fuzzWireCheck = createFuzzWireCheck();

function showBytes(bytes: Uint8Array): string {
  return `${Buffer.from(bytes).toString('hex')} (${bytes.length} bytes)`;
}

function describe(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
}
