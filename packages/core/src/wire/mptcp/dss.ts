/**
 * DSS (Data Sequence Signal), RFC 8684 §3.3. On the per-segment hot path, so parse and emit
 * read and write bytes directly: no DataView per call, no closures, no copies.
 *
 *   byte 0 kind (30)   1 length   2 subtype (2) << 4 | rsv   3 rsv | F m M a A
 *   then, in order, each only when its flag says so:
 *   Data ACK (4 or 8)   DSN (4 or 8)   subflow sequence number (4)
 *   data-level length (2)   checksum (2, only when checksums were negotiated)
 *
 * The length must be exactly what the flags imply; with a mapping it may be 2 more, which
 * is how a receiver learns that the checksum is there (RFC 8684 §3.3: "the checksum field
 * is present only when checksums were negotiated").
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type Dss, type DssMapping } from './option.js';

/** Flag bits of byte 3. RFC 8684 §3.3 */
export const DssFlag = {
  /** F: DATA_FIN */
  DATA_FIN: 0x10,
  /** m: DSN is 8 octets */
  DSN64: 0x08,
  /** M: data sequence mapping present */
  MAPPING: 0x04,
  /** a: data ACK is 8 octets */
  DATA_ACK64: 0x02,
  /** A: data ACK present */
  DATA_ACK: 0x01,
} as const;

const DSS_HEADER_LENGTH = 4;
/** Subflow sequence number (4) + data-level length (2). RFC 8684 §3.3.1 */
const MAPPING_FIXED_LENGTH = 6;
const CHECKSUM_LENGTH = 2;
const FLAGS_OFFSET = 3;
const SUBTYPE_BYTE = MptcpSubtype.DSS << 4;

const U32_MAX = 0xffff_ffff;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

// One 8-byte scratch word for 64-bit conversions: byte moves into a BigUint64Array are
// several times faster than a DataView made per call or than bigint shifts.
const scratch64 = new BigUint64Array(1);
const scratchBytes = new Uint8Array(scratch64.buffer);
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// Index in scratchBytes of the most significant byte, and the step towards the least.
const MSB = LITTLE_ENDIAN_HOST ? 7 : 0;
const STEP = LITTLE_ENDIAN_HOST ? -1 : 1;

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function readU64(b: Uint8Array, at: number): bigint {
  const s = scratchBytes;
  s[MSB] = b[at]!;
  s[MSB + STEP] = b[at + 1]!;
  s[MSB + 2 * STEP] = b[at + 2]!;
  s[MSB + 3 * STEP] = b[at + 3]!;
  s[MSB + 4 * STEP] = b[at + 4]!;
  s[MSB + 5 * STEP] = b[at + 5]!;
  s[MSB + 6 * STEP] = b[at + 6]!;
  s[MSB + 7 * STEP] = b[at + 7]!;
  return scratch64[0]!;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

function writeU64(b: Uint8Array, at: number, v: bigint): void {
  scratch64[0] = v;
  const s = scratchBytes;
  b[at] = s[MSB]!;
  b[at + 1] = s[MSB + STEP]!;
  b[at + 2] = s[MSB + 2 * STEP]!;
  b[at + 3] = s[MSB + 3 * STEP]!;
  b[at + 4] = s[MSB + 4 * STEP]!;
  b[at + 5] = s[MSB + 5 * STEP]!;
  b[at + 6] = s[MSB + 6 * STEP]!;
  b[at + 7] = s[MSB + 7 * STEP]!;
}

/**
 * Parses a DSS option (the buffer length is the option length). Reserved bits are ignored;
 * the 'm' flag is ignored without 'M'. The 'a' flag is kept as dataAck64 even without 'A'.
 * Throws WireError('BAD_LENGTH') when the length disagrees with the flags.
 */
export function parseDss(option: Uint8Array): Dss {
  const length = option.length;
  if (length < DSS_HEADER_LENGTH) {
    throw new WireError('BAD_LENGTH', `DSS length ${length}, the header alone is 4`);
  }
  const flags = option[FLAGS_OFFSET]!;
  const hasAck = (flags & DssFlag.DATA_ACK) !== 0;
  const ack64 = (flags & DssFlag.DATA_ACK64) !== 0;
  const hasMapping = (flags & DssFlag.MAPPING) !== 0;
  const dsn64 = (flags & DssFlag.DSN64) !== 0;

  // RFC 8684 §3.3: fields follow in flag order; their sizes fix the length.
  let expected = DSS_HEADER_LENGTH;
  if (hasAck) expected += ack64 ? 8 : 4;
  if (hasMapping) expected += (dsn64 ? 8 : 4) + MAPPING_FIXED_LENGTH;
  let hasChecksum = false;
  if (length !== expected) {
    if (hasMapping && length === expected + CHECKSUM_LENGTH) hasChecksum = true;
    else throw new WireError('BAD_LENGTH', `DSS length ${length} but flags 0x${flags.toString(16)} imply ${expected}`);
  }

  const dss: Dss = { type: 'dss', dataAck64: ack64, dataFin: (flags & DssFlag.DATA_FIN) !== 0 };
  let at = DSS_HEADER_LENGTH;
  if (hasAck) {
    // RFC 8684 §3.3.2: Data ACK
    if (ack64) {
      dss.dataAck = readU64(option, at);
      at += 8;
    } else {
      dss.dataAck = BigInt(readU32(option, at));
      at += 4;
    }
  }
  if (hasMapping) {
    // RFC 8684 §3.3.1: data sequence mapping
    let dsn: bigint;
    if (dsn64) {
      dsn = readU64(option, at);
      at += 8;
    } else {
      dsn = BigInt(readU32(option, at));
      at += 4;
    }
    const subflowSeq = readU32(option, at);
    const dataLength = (option[at + 4]! << 8) | option[at + 5]!;
    const mapping: DssMapping = hasChecksum
      ? { dsn, dsn64, subflowSeq, length: dataLength, checksum: (option[at + 6]! << 8) | option[at + 7]! }
      : { dsn, dsn64, subflowSeq, length: dataLength };
    dss.mapping = mapping;
  }
  return dss;
}

/** On-wire length of a DSS option. */
export function dssLength(opt: Dss): number {
  let length = DSS_HEADER_LENGTH;
  if (opt.dataAck !== undefined) length += opt.dataAck64 ? 8 : 4;
  const m = opt.mapping;
  if (m !== undefined) {
    length += (m.dsn64 ? 8 : 4) + MAPPING_FIXED_LENGTH;
    if (m.checksum !== undefined) length += CHECKSUM_LENGTH;
  }
  return length;
}

/**
 * Validates, then writes the option at offset (reserved bits zero); returns the bytes
 * written. Throws BAD_VALUE for out-of-range fields (a 32-bit data ACK or DSN above 2^32-1
 * included), TOO_LARGE when the buffer has no room.
 */
export function emitDss(opt: Dss, buf: Uint8Array, offset: number): number {
  const { dataAck, mapping } = opt;
  const ack64 = Boolean(opt.dataAck64); // the same reading dssLength makes
  const ackMax = ack64 ? U64_MAX : 0xffff_ffffn;
  if (dataAck !== undefined && !(typeof dataAck === 'bigint' && dataAck >= 0n && dataAck <= ackMax)) {
    throw new WireError('BAD_VALUE', `DSS dataAck ${shown(dataAck)} does not fit ${ack64 ? 64 : 32} bits`);
  }
  if (mapping !== undefined) validateMapping(mapping);
  const length = dssLength(opt);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireError('TOO_LARGE', `DSS needs ${length} bytes at offset ${offset} of ${buf.length}`);
  }

  let flags = opt.dataFin ? DssFlag.DATA_FIN : 0;
  if (ack64) flags |= DssFlag.DATA_ACK64;
  if (dataAck !== undefined) flags |= DssFlag.DATA_ACK;
  if (mapping !== undefined) flags |= mapping.dsn64 ? DssFlag.MAPPING | DssFlag.DSN64 : DssFlag.MAPPING;
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = length;
  buf[offset + 2] = SUBTYPE_BYTE;
  buf[offset + FLAGS_OFFSET] = flags;

  let at = offset + DSS_HEADER_LENGTH;
  if (dataAck !== undefined) {
    if (ack64) {
      writeU64(buf, at, dataAck);
      at += 8;
    } else {
      writeU32(buf, at, Number(dataAck));
      at += 4;
    }
  }
  if (mapping !== undefined) {
    if (mapping.dsn64) {
      writeU64(buf, at, mapping.dsn);
      at += 8;
    } else {
      writeU32(buf, at, Number(mapping.dsn));
      at += 4;
    }
    writeU32(buf, at, mapping.subflowSeq);
    buf[at + 4] = mapping.length >>> 8;
    buf[at + 5] = mapping.length;
    if (mapping.checksum !== undefined) {
      buf[at + 6] = mapping.checksum >>> 8;
      buf[at + 7] = mapping.checksum;
    }
  }
  return length;
}

function validateMapping(m: DssMapping): void {
  if (typeof m !== 'object' || m === null) throw new WireError('BAD_VALUE', 'DSS mapping is not an object');
  const { dsn, subflowSeq, length, checksum } = m;
  if (!(typeof dsn === 'bigint' && dsn >= 0n && dsn <= (m.dsn64 ? U64_MAX : 0xffff_ffffn))) {
    throw new WireError('BAD_VALUE', `DSS dsn ${shown(dsn)} does not fit ${m.dsn64 ? 64 : 32} bits`);
  }
  if (!Number.isInteger(subflowSeq) || subflowSeq < 0 || subflowSeq > U32_MAX) {
    throw new WireError('BAD_VALUE', `DSS subflowSeq ${shown(subflowSeq)} is not a u32`);
  }
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) {
    throw new WireError('BAD_VALUE', `DSS data-level length ${shown(length)} is not a u16`);
  }
  if (checksum !== undefined && (!Number.isInteger(checksum) || checksum < 0 || checksum > 0xffff)) {
    throw new WireError('BAD_VALUE', `DSS checksum ${shown(checksum)} is not a u16`);
  }
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
