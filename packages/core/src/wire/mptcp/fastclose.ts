/**
 * MP_FASTCLOSE, RFC 8684 §3.5.
 *
 *   byte 0 kind (30)   1 length (12)   2..3 subtype (7) << 4 then 12 reserved bits
 *   4..11 option receiver's key (64 bits)
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type MpFastclose } from './option.js';

export const MP_FASTCLOSE_LENGTH = 12;
const KEY_OFFSET = 4;

/** Parses an MP_FASTCLOSE option (the buffer length is the option length); BAD_LENGTH unless 12. */
export function parseMpFastclose(option: Uint8Array): MpFastclose {
  if (option.length !== MP_FASTCLOSE_LENGTH) {
    throw new WireError('BAD_LENGTH', `MP_FASTCLOSE length ${option.length} is not 12`);
  }
  const view = new DataView(option.buffer, option.byteOffset, MP_FASTCLOSE_LENGTH);
  return { type: 'mp-fastclose', receiverKey: view.getBigUint64(KEY_OFFSET) };
}

/** Validates, then writes the option at offset (reserved bits zero); returns the bytes written. */
export function emitMpFastclose(opt: MpFastclose, buf: Uint8Array, offset: number): number {
  const { receiverKey } = opt;
  if (!(typeof receiverKey === 'bigint' && receiverKey >= 0n && receiverKey <= 0xffff_ffff_ffff_ffffn)) {
    throw new WireError('BAD_VALUE', `MP_FASTCLOSE receiverKey ${shown(receiverKey)} is not a 64-bit unsigned bigint`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + MP_FASTCLOSE_LENGTH > buf.length) {
    throw new WireError(
      'TOO_LARGE',
      `MP_FASTCLOSE needs ${MP_FASTCLOSE_LENGTH} bytes at offset ${offset} of ${buf.length}`,
    );
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = MP_FASTCLOSE_LENGTH;
  buf[offset + 2] = MptcpSubtype.MP_FASTCLOSE << 4;
  buf[offset + 3] = 0;
  new DataView(buf.buffer, buf.byteOffset + offset, MP_FASTCLOSE_LENGTH).setBigUint64(KEY_OFFSET, receiverKey);
  return MP_FASTCLOSE_LENGTH;
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
