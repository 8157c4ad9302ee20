/**
 * MP_JOIN, RFC 8684 §3.2. The form follows from the length:
 *
 *   SYN (12):     2 subtype (1) << 4 | rsv | B   3 address id   4..7 receiver's token
 *                 8..11 sender's random number
 *   SYN/ACK (16): 2 subtype << 4 | rsv | B      3 address id   4..11 truncated HMAC (64 bits)
 *                 12..15 sender's random number
 *   ACK (24):     2..3 subtype << 4 then 12 reserved bits        4..23 HMAC (160 bits)
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type MpJoinAck, type MpJoinSyn, type MpJoinSynAck } from './option.js';

export type MpJoin = MpJoinSyn | MpJoinSynAck | MpJoinAck;

/** On-wire lengths of the MP_JOIN forms. RFC 8684 §3.2 */
export const MpJoinLength = { SYN: 12, SYN_ACK: 16, ACK: 24 } as const;

/** Truncated HMAC in the SYN/ACK and full (160-bit) HMAC in the third ACK. RFC 8684 §3.2 */
export const MP_JOIN_SYNACK_HMAC_LENGTH = 8;
export const MP_JOIN_ACK_HMAC_LENGTH = 20;

/** B: the sender wants this subflow used as a backup. RFC 8684 §3.2 */
const BACKUP_BIT = 0x01;
const ADDRESS_ID_OFFSET = 3;
const TOKEN_OFFSET = 4;
const SYN_NONCE_OFFSET = 8;
const HMAC_OFFSET = 4;
const SYNACK_NONCE_OFFSET = 12;

/** Parses an MP_JOIN option (the buffer length is the option length); BAD_LENGTH for other lengths. */
export function parseMpJoin(option: Uint8Array): MpJoin {
  const length = option.length;
  if (length === MpJoinLength.SYN) {
    const view = new DataView(option.buffer, option.byteOffset, length);
    return {
      type: 'mp-join-syn',
      backup: (option[2]! & BACKUP_BIT) !== 0,
      addressId: option[ADDRESS_ID_OFFSET]!,
      token: view.getUint32(TOKEN_OFFSET),
      nonce: view.getUint32(SYN_NONCE_OFFSET),
    };
  }
  if (length === MpJoinLength.SYN_ACK) {
    const view = new DataView(option.buffer, option.byteOffset, length);
    return {
      type: 'mp-join-synack',
      backup: (option[2]! & BACKUP_BIT) !== 0,
      addressId: option[ADDRESS_ID_OFFSET]!,
      // A copy: the caller may reuse its receive buffer.
      hmac: option.slice(HMAC_OFFSET, HMAC_OFFSET + MP_JOIN_SYNACK_HMAC_LENGTH),
      nonce: view.getUint32(SYNACK_NONCE_OFFSET),
    };
  }
  if (length === MpJoinLength.ACK) {
    // The 12 bits after the subtype are reserved: ignored here.
    return { type: 'mp-join-ack', hmac: option.slice(HMAC_OFFSET, HMAC_OFFSET + MP_JOIN_ACK_HMAC_LENGTH) };
  }
  throw new WireError('BAD_LENGTH', `MP_JOIN length ${length} is not 12, 16 or 24`);
}

/** On-wire length of an MP_JOIN form. */
export function mpJoinLength(opt: MpJoin): number {
  switch (opt.type) {
    case 'mp-join-syn':
      return MpJoinLength.SYN;
    case 'mp-join-synack':
      return MpJoinLength.SYN_ACK;
    case 'mp-join-ack':
      return MpJoinLength.ACK;
  }
}

/** Validates, then writes the option at offset (reserved bits zero); returns the bytes written. */
export function emitMpJoin(opt: MpJoin, buf: Uint8Array, offset: number): number {
  validateMpJoin(opt);
  const length = mpJoinLength(opt);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireError('TOO_LARGE', `MP_JOIN needs ${length} bytes at offset ${offset} of ${buf.length}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = length;
  switch (opt.type) {
    case 'mp-join-syn':
      buf[offset + 2] = (MptcpSubtype.MP_JOIN << 4) | (opt.backup ? BACKUP_BIT : 0);
      buf[offset + ADDRESS_ID_OFFSET] = opt.addressId;
      view.setUint32(TOKEN_OFFSET, opt.token);
      view.setUint32(SYN_NONCE_OFFSET, opt.nonce);
      break;
    case 'mp-join-synack':
      buf[offset + 2] = (MptcpSubtype.MP_JOIN << 4) | (opt.backup ? BACKUP_BIT : 0);
      buf[offset + ADDRESS_ID_OFFSET] = opt.addressId;
      buf.set(opt.hmac, offset + HMAC_OFFSET);
      view.setUint32(SYNACK_NONCE_OFFSET, opt.nonce);
      break;
    case 'mp-join-ack':
      buf[offset + 2] = MptcpSubtype.MP_JOIN << 4;
      buf[offset + 3] = 0;
      buf.set(opt.hmac, offset + HMAC_OFFSET);
      break;
  }
  return length;
}

function validateMpJoin(opt: MpJoin): void {
  switch (opt.type) {
    case 'mp-join-syn':
      checkU8(opt.addressId, 'addressId');
      checkU32(opt.token, 'token');
      checkU32(opt.nonce, 'nonce');
      return;
    case 'mp-join-synack':
      checkU8(opt.addressId, 'addressId');
      checkHmac(opt.hmac, MP_JOIN_SYNACK_HMAC_LENGTH);
      checkU32(opt.nonce, 'nonce');
      return;
    case 'mp-join-ack':
      checkHmac(opt.hmac, MP_JOIN_ACK_HMAC_LENGTH);
      return;
  }
}

function checkU8(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) {
    throw new WireError('BAD_VALUE', `MP_JOIN ${name} ${shown(v)} is not a u8`);
  }
}

function checkU32(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new WireError('BAD_VALUE', `MP_JOIN ${name} ${shown(v)} is not a u32`);
  }
}

function checkHmac(hmac: Uint8Array, length: number): void {
  if (!(hmac instanceof Uint8Array) || hmac.length !== length) {
    throw new WireError('BAD_VALUE', `MP_JOIN hmac must be ${length} bytes`);
  }
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
