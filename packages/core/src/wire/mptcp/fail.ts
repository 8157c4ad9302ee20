/**
 * MP_FAIL, RFC 8684 §3.7.
 *
 *   byte 0 kind (30)   1 length (12)   2..3 subtype (6) << 4 then 12 reserved bits
 *   4..11 data sequence number (64 bits)
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type MpFail } from './option.js';

export const MP_FAIL_LENGTH = 12;
const DSN_OFFSET = 4;

/** Parses an MP_FAIL option (the buffer length is the option length); BAD_LENGTH unless 12. */
export function parseMpFail(option: Uint8Array): MpFail {
  if (option.length !== MP_FAIL_LENGTH) {
    throw new WireError('BAD_LENGTH', `MP_FAIL length ${option.length} is not 12`);
  }
  const view = new DataView(option.buffer, option.byteOffset, MP_FAIL_LENGTH);
  return { type: 'mp-fail', dsn: view.getBigUint64(DSN_OFFSET) };
}

/** Validates, then writes the option at offset (reserved bits zero); returns the bytes written. */
export function emitMpFail(opt: MpFail, buf: Uint8Array, offset: number): number {
  const { dsn } = opt;
  if (!(typeof dsn === 'bigint' && dsn >= 0n && dsn <= 0xffff_ffff_ffff_ffffn)) {
    throw new WireError('BAD_VALUE', `MP_FAIL dsn ${shown(dsn)} is not a 64-bit unsigned bigint`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + MP_FAIL_LENGTH > buf.length) {
    throw new WireError('TOO_LARGE', `MP_FAIL needs ${MP_FAIL_LENGTH} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = MP_FAIL_LENGTH;
  buf[offset + 2] = MptcpSubtype.MP_FAIL << 4;
  buf[offset + 3] = 0;
  new DataView(buf.buffer, buf.byteOffset + offset, MP_FAIL_LENGTH).setBigUint64(DSN_OFFSET, dsn);
  return MP_FAIL_LENGTH;
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
