/**
 * MP_PRIO, RFC 8684 §3.3.8.
 *
 *   byte 0 kind (30)   1 length (3)   2 subtype (5) << 4 | rsv | B
 *
 * RFC 6824's form carried an address id (length 4); RFC 8684 dropped it, and so do we.
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type MpPrio } from './option.js';

export const MP_PRIO_LENGTH = 3;
/** B: the sender asks that this subflow be used as a backup. RFC 8684 §3.3.8 */
const BACKUP_BIT = 0x01;

/** Parses an MP_PRIO option (the buffer length is the option length); BAD_LENGTH unless 3. */
export function parseMpPrio(option: Uint8Array): MpPrio {
  if (option.length !== MP_PRIO_LENGTH) {
    throw new WireError('BAD_LENGTH', `MP_PRIO length ${option.length} is not 3`);
  }
  return { type: 'mp-prio', backup: (option[2]! & BACKUP_BIT) !== 0 };
}

/** Writes the option at offset (reserved bits zero); returns the bytes written. */
export function emitMpPrio(opt: MpPrio, buf: Uint8Array, offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset + MP_PRIO_LENGTH > buf.length) {
    throw new WireError('TOO_LARGE', `MP_PRIO needs ${MP_PRIO_LENGTH} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = MP_PRIO_LENGTH;
  buf[offset + 2] = (MptcpSubtype.MP_PRIO << 4) | (opt.backup ? BACKUP_BIT : 0);
  return MP_PRIO_LENGTH;
}
