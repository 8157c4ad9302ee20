/**
 * fast-check arbitraries for MPTCP option representations (RFC 8684 §3). Every value they
 * produce is valid: emitMptcpOption accepts it and parseMptcpOption reads it back equal.
 * Optional fields are absent (never present-but-undefined), as the parser leaves them.
 *
 * By default every generated option is at most 40 bytes long, so it fits the TCP options
 * space on its own; REMOVE_ADDR and unknown-subtype options accept a larger cap for tests
 * of the option codec alone.
 */
import fc from 'fast-check';
import {
  MptcpSubtype,
  TcpRstReason,
  type AddAddr,
  type Dss,
  type DssMapping,
  type MpCapable,
  type MpFail,
  type MpFastclose,
  type MpJoinAck,
  type MpJoinSyn,
  type MpJoinSynAck,
  type MpPrio,
  type MpTcpRst,
  type MptcpOption,
  type MptcpUnknown,
  type RemoveAddr,
} from '../../src/wire/mptcp/option.js';

/** Longest TCP options area (60-byte header minus 20). RFC 9293 §3.1 */
export const TCP_OPTIONS_SPACE = 40;

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;

const u8 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xff });
const u16 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xffff });
const u32 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: U32_MAX });
const u64 = (): fc.Arbitrary<bigint> => fc.bigInt({ min: 0n, max: U64_MAX });
const bytes = (length: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: length, maxLength: length });

export function arbMpCapable(): fc.Arbitrary<MpCapable> {
  const flags = u8();
  // Only the SYN may offer a version above 1 (RFC 8684 §3.1 negotiation).
  const syn = fc
    .record({ version: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 15 })), flags })
    .map(({ version, flags }): MpCapable => ({ type: 'mp-capable', version, flags }));
  const synAck = fc
    .record({ flags, senderKey: u64() })
    .map(({ flags, senderKey }): MpCapable => ({ type: 'mp-capable', version: 1, flags, senderKey }));
  const ack = fc
    .record({
      flags,
      senderKey: u64(),
      receiverKey: u64(),
      data: fc.option(fc.record({ dataLength: u16(), checksum: fc.option(u16(), { nil: undefined }) }), {
        nil: undefined,
      }),
    })
    .map(({ flags, senderKey, receiverKey, data }): MpCapable => {
      const opt: MpCapable = { type: 'mp-capable', version: 1, flags, senderKey, receiverKey };
      if (data !== undefined) {
        opt.dataLength = data.dataLength;
        if (data.checksum !== undefined) opt.checksum = data.checksum;
      }
      return opt;
    });
  return fc.oneof(syn, synAck, ack);
}

export function arbMpJoinSyn(): fc.Arbitrary<MpJoinSyn> {
  return fc
    .record({ backup: fc.boolean(), addressId: u8(), token: u32(), nonce: u32() })
    .map((r): MpJoinSyn => ({ type: 'mp-join-syn', ...r }));
}

export function arbMpJoinSynAck(): fc.Arbitrary<MpJoinSynAck> {
  return fc
    .record({ backup: fc.boolean(), addressId: u8(), hmac: bytes(8), nonce: u32() })
    .map((r): MpJoinSynAck => ({ type: 'mp-join-synack', ...r }));
}

export function arbMpJoinAck(): fc.Arbitrary<MpJoinAck> {
  return bytes(20).map((hmac): MpJoinAck => ({ type: 'mp-join-ack', hmac }));
}

function arbDssMapping(): fc.Arbitrary<DssMapping> {
  return fc
    .record({
      dsn64: fc.boolean(),
      dsn: u64(),
      subflowSeq: u32(),
      length: u16(),
      checksum: fc.option(u16(), { nil: undefined }),
    })
    .map(({ dsn64, dsn, subflowSeq, length, checksum }): DssMapping => {
      // A 32-bit DSN carries only the low 32 bits.
      const mapping: DssMapping = { dsn: dsn64 ? dsn : dsn & 0xffff_ffffn, dsn64, subflowSeq, length };
      if (checksum !== undefined) mapping.checksum = checksum;
      return mapping;
    });
}

export function arbDss(): fc.Arbitrary<Dss> {
  return fc
    .record({
      dataAck64: fc.boolean(),
      dataAck: fc.option(u64(), { nil: undefined }),
      mapping: fc.option(arbDssMapping(), { nil: undefined }),
      dataFin: fc.boolean(),
    })
    .map(({ dataAck64, dataAck, mapping, dataFin }): Dss => {
      const dss: Dss = { type: 'dss', dataAck64, dataFin };
      if (dataAck !== undefined) dss.dataAck = dataAck64 ? dataAck : dataAck & 0xffff_ffffn;
      if (mapping !== undefined) dss.mapping = mapping;
      return dss;
    });
}

export function arbAddAddr(): fc.Arbitrary<AddAddr> {
  return fc
    .record({
      echo: fc.boolean(),
      addressId: u8(),
      address: fc.oneof(bytes(4), bytes(16)),
      port: fc.option(u16(), { nil: undefined }),
      hmac: bytes(8),
    })
    .map(({ echo, addressId, address, port, hmac }): AddAddr => {
      const opt: AddAddr = { type: 'add-addr', echo, addressId, address };
      if (port !== undefined) opt.port = port;
      // RFC 8684 §3.4.1: the HMAC is there exactly when E = 0.
      if (!echo) opt.hmac = hmac;
      return opt;
    });
}

/** maxIds defaults to what fits 40 bytes of TCP options; the wire allows up to 252. */
export function arbRemoveAddr(maxIds = TCP_OPTIONS_SPACE - 3): fc.Arbitrary<RemoveAddr> {
  return fc
    .array(u8(), { minLength: 1, maxLength: maxIds })
    .map((addressIds): RemoveAddr => ({ type: 'remove-addr', addressIds }));
}

export function arbMpPrio(): fc.Arbitrary<MpPrio> {
  return fc.boolean().map((backup): MpPrio => ({ type: 'mp-prio', backup }));
}

export function arbMpFail(): fc.Arbitrary<MpFail> {
  return u64().map((dsn): MpFail => ({ type: 'mp-fail', dsn }));
}

export function arbMpFastclose(): fc.Arbitrary<MpFastclose> {
  return u64().map((receiverKey): MpFastclose => ({ type: 'mp-fastclose', receiverKey }));
}

export function arbMpTcpRst(): fc.Arbitrary<MpTcpRst> {
  const reason = fc.oneof(fc.constantFrom(...Object.values(TcpRstReason)), u8());
  return fc
    .record({ flags: fc.integer({ min: 0, max: 0x0f }), reason })
    .map((r): MpTcpRst => ({ type: 'mp-tcprst', ...r }));
}

/**
 * Options of subtypes RFC 8684 does not define (9..14) or MP_EXPERIMENTAL (15).
 * maxDataLength defaults to what fits 40 bytes of TCP options; the wire allows up to 253.
 */
export function arbMptcpUnknown(maxDataLength = TCP_OPTIONS_SPACE - 2): fc.Arbitrary<MptcpUnknown> {
  return fc
    .record({
      subtype: fc.integer({ min: MptcpSubtype.MP_TCPRST + 1, max: 0x0f }),
      low: fc.integer({ min: 0, max: 0x0f }),
      rest: fc.uint8Array({ minLength: 0, maxLength: maxDataLength - 1 }),
    })
    .map(({ subtype, low, rest }): MptcpUnknown => {
      const data = new Uint8Array(1 + rest.length);
      data[0] = (subtype << 4) | low;
      data.set(rest, 1);
      return { type: 'mptcp-unknown', subtype, data };
    });
}

/** Any MPTCP option, each of the 12 representations equally likely. */
export function arbMptcpOption(): fc.Arbitrary<MptcpOption> {
  return fc.oneof(
    arbMpCapable(),
    arbMpJoinSyn(),
    arbMpJoinSynAck(),
    arbMpJoinAck(),
    arbDss(),
    arbAddAddr(),
    arbRemoveAddr(),
    arbMpPrio(),
    arbMpFail(),
    arbMpFastclose(),
    arbMpTcpRst(),
    arbMptcpUnknown(),
  );
}
