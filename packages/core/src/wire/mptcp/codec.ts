/**
 * The MPTCP option codec: one entry point per direction for every subtype of TCP option
 * kind 30 (RFC 8684 §3). This file checks what all options share (kind, length byte,
 * subtype nibble) and hands the option to its form's codec; it also keeps options of
 * unknown or experimental subtypes whole, so they can be passed on byte for byte.
 */
import { WireError } from '../error.js';
import { emitAddAddr, addAddrLength, parseAddAddr } from './add-addr.js';
import { emitMpCapable, mpCapableLength, parseMpCapable } from './capable.js';
import { dssLength, emitDss, parseDss } from './dss.js';
import { emitMpFail, MP_FAIL_LENGTH, parseMpFail } from './fail.js';
import { emitMpFastclose, MP_FASTCLOSE_LENGTH, parseMpFastclose } from './fastclose.js';
import { emitMpJoin, mpJoinLength, parseMpJoin } from './join.js';
import { MPTCP_KIND, MptcpSubtype, type MptcpOption, type MptcpUnknown } from './option.js';
import { emitMpPrio, MP_PRIO_LENGTH, parseMpPrio } from './prio.js';
import { emitRemoveAddr, parseRemoveAddr, removeAddrLength } from './remove-addr.js';
import { emitMpTcpRst, MP_TCPRST_LENGTH, parseMpTcpRst } from './tcprst.js';

/** Kind, length and the subtype byte: the least any MPTCP option holds. RFC 8684 §3 */
const MIN_OPTION_LENGTH = 3;
const MAX_OPTION_LENGTH = 0xff;

/**
 * Parses one MPTCP option: `option` is exactly the option, kind (30), length and body.
 * Throws WireError: TRUNCATED when the buffer is shorter than the length byte says,
 * BAD_LENGTH when it is longer, when the length is below 3 or does not fit the subtype's
 * form, BAD_VALUE when the kind is not 30, UNSUPPORTED for MP_CAPABLE versions we do not
 * speak. Byte strings in the result (HMACs, addresses, unknown data) are copies.
 */
export function parseMptcpOption(option: Uint8Array): MptcpOption {
  if (option.length < 2) {
    throw new WireError('TRUNCATED', `MPTCP option of ${option.length} bytes has no length byte`);
  }
  if (option[0] !== MPTCP_KIND) {
    throw new WireError('BAD_VALUE', `option kind ${option[0]!} is not MPTCP (30)`);
  }
  const length = option[1]!;
  if (length > option.length) {
    throw new WireError('TRUNCATED', `MPTCP option says ${length} bytes, buffer has ${option.length}`);
  }
  if (length < option.length) {
    throw new WireError('BAD_LENGTH', `MPTCP option says ${length} bytes, buffer has ${option.length}`);
  }
  if (length < MIN_OPTION_LENGTH) {
    throw new WireError('BAD_LENGTH', `MPTCP option length ${length} leaves no room for the subtype`);
  }
  const subtype = option[2]! >>> 4;
  switch (subtype) {
    case MptcpSubtype.DSS:
      return parseDss(option);
    case MptcpSubtype.MP_CAPABLE:
      return parseMpCapable(option);
    case MptcpSubtype.MP_JOIN:
      return parseMpJoin(option);
    case MptcpSubtype.ADD_ADDR:
      return parseAddAddr(option);
    case MptcpSubtype.REMOVE_ADDR:
      return parseRemoveAddr(option);
    case MptcpSubtype.MP_PRIO:
      return parseMpPrio(option);
    case MptcpSubtype.MP_FAIL:
      return parseMpFail(option);
    case MptcpSubtype.MP_FASTCLOSE:
      return parseMpFastclose(option);
    case MptcpSubtype.MP_TCPRST:
      return parseMpTcpRst(option);
    default:
      // MP_EXPERIMENTAL and unassigned subtypes (RFC 8684 §8): kept whole.
      return { type: 'mptcp-unknown', subtype, data: option.slice(2) };
  }
}

/** The option's on-wire length, without padding. */
export function mptcpOptionLength(opt: MptcpOption): number {
  switch (opt.type) {
    case 'dss':
      return dssLength(opt);
    case 'mp-capable':
      return mpCapableLength(opt);
    case 'mp-join-syn':
    case 'mp-join-synack':
    case 'mp-join-ack':
      return mpJoinLength(opt);
    case 'add-addr':
      return addAddrLength(opt);
    case 'remove-addr':
      return removeAddrLength(opt);
    case 'mp-prio':
      return MP_PRIO_LENGTH;
    case 'mp-fail':
      return MP_FAIL_LENGTH;
    case 'mp-fastclose':
      return MP_FASTCLOSE_LENGTH;
    case 'mp-tcprst':
      return MP_TCPRST_LENGTH;
    case 'mptcp-unknown':
      return 2 + opt.data.length;
    default:
      throw unknownType(opt);
  }
}

/**
 * Writes `opt` at `offset` in `buf` and returns the bytes written (its mptcpOptionLength).
 * Validates first, so nothing is written when it throws: BAD_VALUE for a representation
 * that has no encoding (out-of-range field, wrong byte-string size, missing or extra
 * fields), TOO_LARGE when the buffer has no room at offset.
 */
export function emitMptcpOption(opt: MptcpOption, buf: Uint8Array, offset: number): number {
  switch (opt.type) {
    case 'dss':
      return emitDss(opt, buf, offset);
    case 'mp-capable':
      return emitMpCapable(opt, buf, offset);
    case 'mp-join-syn':
    case 'mp-join-synack':
    case 'mp-join-ack':
      return emitMpJoin(opt, buf, offset);
    case 'add-addr':
      return emitAddAddr(opt, buf, offset);
    case 'remove-addr':
      return emitRemoveAddr(opt, buf, offset);
    case 'mp-prio':
      return emitMpPrio(opt, buf, offset);
    case 'mp-fail':
      return emitMpFail(opt, buf, offset);
    case 'mp-fastclose':
      return emitMpFastclose(opt, buf, offset);
    case 'mp-tcprst':
      return emitMpTcpRst(opt, buf, offset);
    case 'mptcp-unknown':
      return emitUnknown(opt, buf, offset);
    default:
      throw unknownType(opt);
  }
}

/** Writes an unknown-subtype option back exactly as it was received. */
function emitUnknown(opt: MptcpUnknown, buf: Uint8Array, offset: number): number {
  const { subtype, data } = opt;
  // A known subtype here would read back as that option, not as this one.
  if (!Number.isInteger(subtype) || subtype <= MptcpSubtype.MP_TCPRST || subtype > 0x0f) {
    throw new WireError('BAD_VALUE', `mptcp-unknown subtype ${shown(subtype)} is not an unknown subtype (9..15)`);
  }
  if (!(data instanceof Uint8Array) || data.length < 1 || data.length > MAX_OPTION_LENGTH - 2) {
    throw new WireError('BAD_VALUE', `mptcp-unknown data must be 1..${MAX_OPTION_LENGTH - 2} bytes`);
  }
  if (data[0]! >>> 4 !== subtype) {
    throw new WireError('BAD_VALUE', `mptcp-unknown data starts with subtype ${data[0]! >>> 4}, not ${subtype}`);
  }
  const length = 2 + data.length;
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireError('TOO_LARGE', `MPTCP option needs ${length} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = length;
  buf.set(data, offset + 2);
  return length;
}

function unknownType(opt: never): WireError {
  return new WireError('BAD_VALUE', `not an MPTCP option representation: ${typeNameOf(opt)}`);
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}

function typeNameOf(opt: unknown): string {
  const type = typeof opt === 'object' && opt !== null ? (opt as { type?: unknown }).type : undefined;
  return typeof type === 'string' ? `'${type}'` : typeof type;
}
