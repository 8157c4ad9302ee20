/**
 * REMOVE_ADDR, RFC 8684 §3.4.2.
 *
 *   byte 0 kind (30)   1 length (3 + n)   2 subtype (4) << 4 | rsv   3.. n address ids, n ≥ 1
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type RemoveAddr } from './option.js';

const IDS_OFFSET = 3;
/** The length byte caps the list at 255 - 3 ids. */
export const REMOVE_ADDR_MAX_IDS = 0xff - IDS_OFFSET;

/** Parses a REMOVE_ADDR option (the buffer length is the option length); BAD_LENGTH without ids. */
export function parseRemoveAddr(option: Uint8Array): RemoveAddr {
  const length = option.length;
  if (length < IDS_OFFSET + 1) {
    throw new WireError('BAD_LENGTH', `REMOVE_ADDR length ${length} carries no address id`);
  }
  const addressIds: number[] = new Array<number>(length - IDS_OFFSET);
  for (let i = IDS_OFFSET; i < length; i++) addressIds[i - IDS_OFFSET] = option[i]!;
  return { type: 'remove-addr', addressIds };
}

/** On-wire length of a REMOVE_ADDR option. */
export function removeAddrLength(opt: RemoveAddr): number {
  return IDS_OFFSET + opt.addressIds.length;
}

/** Validates, then writes the option at offset (reserved bits zero); returns the bytes written. */
export function emitRemoveAddr(opt: RemoveAddr, buf: Uint8Array, offset: number): number {
  const ids = opt.addressIds;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > REMOVE_ADDR_MAX_IDS) {
    throw new WireError('BAD_VALUE', `REMOVE_ADDR needs 1..${REMOVE_ADDR_MAX_IDS} address ids`);
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id > 0xff) {
      throw new WireError('BAD_VALUE', `REMOVE_ADDR address id ${shown(id)} is not a u8`);
    }
  }
  const length = removeAddrLength(opt);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireError('TOO_LARGE', `REMOVE_ADDR needs ${length} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = length;
  buf[offset + 2] = MptcpSubtype.REMOVE_ADDR << 4;
  for (let i = 0; i < ids.length; i++) buf[offset + IDS_OFFSET + i] = ids[i]!;
  return length;
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
