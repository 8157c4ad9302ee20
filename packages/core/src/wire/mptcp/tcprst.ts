/**
 * MP_TCPRST, RFC 8684 §3.6.
 *
 *   byte 0 kind (30)   1 length (4)   2 subtype (8) << 4 | U V W T   3 reason
 *
 * U, V and W are named in the RFC but not yet defined: senders set them to 0 and receivers
 * ignore them. They are kept in `flags` as received so the option reads back as it was
 * sent; the engine looks at T (transient) only. Reason codes outside TcpRstReason are
 * kept as numbers too: the registry may grow.
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type MpTcpRst } from './option.js';

export const MP_TCPRST_LENGTH = 4;
/** T: the error is transient; the peer may try this path again. RFC 8684 §3.6 */
export const TCPRST_TRANSIENT = 0x01;
const FLAGS_MASK = 0x0f;

/** Parses an MP_TCPRST option (the buffer length is the option length); BAD_LENGTH unless 4. */
export function parseMpTcpRst(option: Uint8Array): MpTcpRst {
  if (option.length !== MP_TCPRST_LENGTH) {
    throw new WireError('BAD_LENGTH', `MP_TCPRST length ${option.length} is not 4`);
  }
  return { type: 'mp-tcprst', flags: option[2]! & FLAGS_MASK, reason: option[3]! };
}

/** Validates, then writes the option at offset; returns the bytes written. */
export function emitMpTcpRst(opt: MpTcpRst, buf: Uint8Array, offset: number): number {
  const { flags, reason } = opt;
  if (!Number.isInteger(flags) || flags < 0 || flags > FLAGS_MASK) {
    throw new WireError('BAD_VALUE', `MP_TCPRST flags ${shown(flags)} is not 4 bits`);
  }
  if (!Number.isInteger(reason) || reason < 0 || reason > 0xff) {
    throw new WireError('BAD_VALUE', `MP_TCPRST reason ${shown(reason)} is not a u8`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + MP_TCPRST_LENGTH > buf.length) {
    throw new WireError('TOO_LARGE', `MP_TCPRST needs ${MP_TCPRST_LENGTH} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = MP_TCPRST_LENGTH;
  buf[offset + 2] = (MptcpSubtype.MP_TCPRST << 4) | flags;
  buf[offset + 3] = reason;
  return MP_TCPRST_LENGTH;
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
