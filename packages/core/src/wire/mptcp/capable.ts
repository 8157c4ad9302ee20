/**
 * MP_CAPABLE, RFC 8684 §3.1 (protocol version 1).
 *
 *   byte 0 kind (30)   1 length   2 subtype (0) << 4 | version   3 flags A..H
 *   4..11  Option Sender's Key      (SYN/ACK, ACK)
 *   12..19 Option Receiver's Key    (ACK)
 *   20..21 Data-Level Length        (ACK carrying data)
 *   22..23 Checksum                 (ACK carrying data, checksums negotiated)
 *
 * The form follows from the length alone: 4, 12, 20, 22 or 24.
 */
import { WireError } from '../error.js';
import { CapableFlag, MPTCP_KIND, MptcpSubtype, type MpCapable } from './option.js';

/** The MPTCP version this codec speaks. RFC 8684 §3.1 */
export const MPTCP_VERSION = 1;

/**
 * RFC 8684 §3.1: an MP_CAPABLE whose H bit is clear (no crypto algorithm we know) or whose B
 * bit is set (an extension we do not speak) must be ignored, so the handshake is plain TCP.
 * The option still parses; this says whether it may start MPTCP.
 */
export function capableFlagsUsable(flags: number): boolean {
  return (flags & CapableFlag.HMAC_SHA256) !== 0 && (flags & CapableFlag.EXTENSIBILITY) === 0;
}

/** On-wire lengths of the MP_CAPABLE forms. RFC 8684 §3.1 */
export const MpCapableLength = {
  SYN: 4,
  SYN_ACK: 12,
  ACK: 20,
  ACK_DATA: 22,
  ACK_DATA_CHECKSUM: 24,
} as const;

const VERSION_OFFSET = 2;
const FLAGS_OFFSET = 3;
const SENDER_KEY_OFFSET = 4;
const RECEIVER_KEY_OFFSET = 12;
const DATA_LENGTH_OFFSET = 20;
const CHECKSUM_OFFSET = 22;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * Parses an MP_CAPABLE option (kind, length and body; the buffer length is the option
 * length). Throws WireError: UNSUPPORTED for version 0 (RFC 6824 layouts) and for a later
 * version outside the SYN, BAD_LENGTH when the length is none of the v1 forms.
 */
export function parseMpCapable(option: Uint8Array): MpCapable {
  const length = option.length;
  if (length < MpCapableLength.SYN) {
    throw new WireError('BAD_LENGTH', `MP_CAPABLE length ${length}, the shortest form is 4`);
  }
  const version = option[VERSION_OFFSET]! & 0x0f;
  // RFC 8684 §3.1: the initiator offers its highest version in the SYN and the listener
  // answers with the version it wants, so a SYN offering a later version must still parse
  // (Linux does the same). Every other form must carry the version we speak.
  if (version < MPTCP_VERSION || (version !== MPTCP_VERSION && length !== MpCapableLength.SYN)) {
    throw new WireError('UNSUPPORTED', `MP_CAPABLE version ${version} in a ${length}-byte option`);
  }
  const flags = option[FLAGS_OFFSET]!;
  if (length === MpCapableLength.SYN) return { type: 'mp-capable', version, flags };

  if (
    length !== MpCapableLength.SYN_ACK &&
    length !== MpCapableLength.ACK &&
    length !== MpCapableLength.ACK_DATA &&
    length !== MpCapableLength.ACK_DATA_CHECKSUM
  ) {
    throw new WireError('BAD_LENGTH', `MP_CAPABLE length ${length} is not 4, 12, 20, 22 or 24`);
  }
  const view = new DataView(option.buffer, option.byteOffset, length);
  const senderKey = view.getBigUint64(SENDER_KEY_OFFSET);
  if (length === MpCapableLength.SYN_ACK) return { type: 'mp-capable', version, flags, senderKey };

  const receiverKey = view.getBigUint64(RECEIVER_KEY_OFFSET);
  if (length === MpCapableLength.ACK) {
    return { type: 'mp-capable', version, flags, senderKey, receiverKey };
  }
  const dataLength = view.getUint16(DATA_LENGTH_OFFSET);
  if (length === MpCapableLength.ACK_DATA) {
    return { type: 'mp-capable', version, flags, senderKey, receiverKey, dataLength };
  }
  const checksum = view.getUint16(CHECKSUM_OFFSET);
  return { type: 'mp-capable', version, flags, senderKey, receiverKey, dataLength, checksum };
}

/** On-wire length of the form the present fields select. */
export function mpCapableLength(opt: MpCapable): number {
  if (opt.senderKey === undefined) return MpCapableLength.SYN;
  if (opt.receiverKey === undefined) return MpCapableLength.SYN_ACK;
  if (opt.dataLength === undefined) return MpCapableLength.ACK;
  return opt.checksum === undefined ? MpCapableLength.ACK_DATA : MpCapableLength.ACK_DATA_CHECKSUM;
}

/** Validates, then writes the option at offset; returns the bytes written. */
export function emitMpCapable(opt: MpCapable, buf: Uint8Array, offset: number): number {
  validateMpCapable(opt);
  const length = mpCapableLength(opt);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireError('TOO_LARGE', `MP_CAPABLE needs ${length} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = length;
  buf[offset + VERSION_OFFSET] = (MptcpSubtype.MP_CAPABLE << 4) | opt.version;
  buf[offset + FLAGS_OFFSET] = opt.flags;
  if (length === MpCapableLength.SYN) return length;

  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  view.setBigUint64(SENDER_KEY_OFFSET, opt.senderKey!);
  if (length === MpCapableLength.SYN_ACK) return length;
  view.setBigUint64(RECEIVER_KEY_OFFSET, opt.receiverKey!);
  if (length === MpCapableLength.ACK) return length;
  view.setUint16(DATA_LENGTH_OFFSET, opt.dataLength!);
  if (length === MpCapableLength.ACK_DATA) return length;
  view.setUint16(CHECKSUM_OFFSET, opt.checksum!);
  return length;
}

function validateMpCapable(opt: MpCapable): void {
  const { version, flags, senderKey, receiverKey, dataLength, checksum } = opt;
  if (!Number.isInteger(version) || version < MPTCP_VERSION || version > 0x0f) {
    throw new WireError('BAD_VALUE', `MP_CAPABLE version ${shown(version)} is not 1..15`);
  }
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) {
    throw new WireError('BAD_VALUE', `MP_CAPABLE flags ${shown(flags)} is not a byte`);
  }
  // Each form adds fields to the previous one; a field without its predecessor has no form.
  if (senderKey === undefined && receiverKey !== undefined) {
    throw new WireError('BAD_VALUE', 'MP_CAPABLE receiverKey without senderKey');
  }
  if (receiverKey === undefined && dataLength !== undefined) {
    throw new WireError('BAD_VALUE', 'MP_CAPABLE dataLength without both keys');
  }
  if (dataLength === undefined && checksum !== undefined) {
    throw new WireError('BAD_VALUE', 'MP_CAPABLE checksum without dataLength');
  }
  // Only the SYN may offer a later version (see parseMpCapable).
  if (version !== MPTCP_VERSION && senderKey !== undefined) {
    throw new WireError('BAD_VALUE', `MP_CAPABLE version ${version} outside the SYN form`);
  }
  if (senderKey !== undefined && !isU64(senderKey)) {
    throw new WireError('BAD_VALUE', 'MP_CAPABLE senderKey is not a 64-bit unsigned bigint');
  }
  if (receiverKey !== undefined && !isU64(receiverKey)) {
    throw new WireError('BAD_VALUE', 'MP_CAPABLE receiverKey is not a 64-bit unsigned bigint');
  }
  if (dataLength !== undefined && !isU16(dataLength)) {
    throw new WireError('BAD_VALUE', `MP_CAPABLE dataLength ${shown(dataLength)} is not a u16`);
  }
  if (checksum !== undefined && !isU16(checksum)) {
    throw new WireError('BAD_VALUE', `MP_CAPABLE checksum ${shown(checksum)} is not a u16`);
  }
}

function isU64(v: unknown): boolean {
  return typeof v === 'bigint' && v >= 0n && v <= U64_MAX;
}

function isU16(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff;
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
