/**
 * ADD_ADDR, RFC 8684 §3.4.1.
 *
 *   byte 0 kind (30)   1 length   2 subtype (3) << 4 | rsv | E   3 address id
 *   4..    address (IPv4: 4 bytes, IPv6: 16)
 *   then   port (2, optional)
 *   then   truncated HMAC (8, only when E = 0)
 *
 * Nothing in the option names the address family or says whether a port follows: both come
 * from the length, given E. Echo (E = 1): 8, 10 (IPv4), 20, 22 (IPv6). Not echo: 16, 18
 * (IPv4), 28, 30 (IPv6). The shorter of each pair has no port.
 */
import { WireError } from '../error.js';
import { MPTCP_KIND, MptcpSubtype, type AddAddr } from './option.js';

/** E: this option echoes an ADD_ADDR received from the peer. RFC 8684 §3.4.1 */
const ECHO_BIT = 0x01;
const ADDRESS_ID_OFFSET = 3;
const ADDRESS_OFFSET = 4;
const IPV4_LENGTH = 4;
const IPV6_LENGTH = 16;
const PORT_LENGTH = 2;
/** Rightmost 64 bits of the HMAC. RFC 8684 §3.4.1 */
export const ADD_ADDR_HMAC_LENGTH = 8;

/** Parses an ADD_ADDR option (the buffer length is the option length); BAD_LENGTH for other lengths. */
export function parseAddAddr(option: Uint8Array): AddAddr {
  const length = option.length;
  if (length < ADDRESS_OFFSET) {
    throw new WireError('BAD_LENGTH', `ADD_ADDR length ${length} is shorter than its header`);
  }
  const echo = (option[2]! & ECHO_BIT) !== 0;
  const hmacLength = echo ? 0 : ADD_ADDR_HMAC_LENGTH;
  // What lies between the header and the HMAC: an address, perhaps followed by a port.
  const middle = length - ADDRESS_OFFSET - hmacLength;
  let addressLength: number;
  if (middle === IPV4_LENGTH || middle === IPV4_LENGTH + PORT_LENGTH) addressLength = IPV4_LENGTH;
  else if (middle === IPV6_LENGTH || middle === IPV6_LENGTH + PORT_LENGTH) addressLength = IPV6_LENGTH;
  else {
    throw new WireError(
      'BAD_LENGTH',
      `ADD_ADDR length ${length} with E=${echo ? 1 : 0} is not ${echo ? '8, 10, 20 or 22' : '16, 18, 28 or 30'}`,
    );
  }
  const addAddr: AddAddr = {
    type: 'add-addr',
    echo,
    addressId: option[ADDRESS_ID_OFFSET]!,
    // Copies: the caller may reuse its receive buffer.
    address: option.slice(ADDRESS_OFFSET, ADDRESS_OFFSET + addressLength),
  };
  let at = ADDRESS_OFFSET + addressLength;
  if (middle !== addressLength) {
    addAddr.port = (option[at]! << 8) | option[at + 1]!;
    at += PORT_LENGTH;
  }
  if (!echo) addAddr.hmac = option.slice(at, at + ADD_ADDR_HMAC_LENGTH);
  return addAddr;
}

/** On-wire length of an ADD_ADDR option. */
export function addAddrLength(opt: AddAddr): number {
  return (
    ADDRESS_OFFSET +
    (opt.address.length === IPV6_LENGTH ? IPV6_LENGTH : IPV4_LENGTH) +
    (opt.port === undefined ? 0 : PORT_LENGTH) +
    (opt.echo ? 0 : ADD_ADDR_HMAC_LENGTH)
  );
}

/** Validates, then writes the option at offset (reserved bits zero); returns the bytes written. */
export function emitAddAddr(opt: AddAddr, buf: Uint8Array, offset: number): number {
  validateAddAddr(opt);
  const length = addAddrLength(opt);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new WireError('TOO_LARGE', `ADD_ADDR needs ${length} bytes at offset ${offset} of ${buf.length}`);
  }
  buf[offset] = MPTCP_KIND;
  buf[offset + 1] = length;
  buf[offset + 2] = (MptcpSubtype.ADD_ADDR << 4) | (opt.echo ? ECHO_BIT : 0);
  buf[offset + ADDRESS_ID_OFFSET] = opt.addressId;
  buf.set(opt.address, offset + ADDRESS_OFFSET);
  let at = offset + ADDRESS_OFFSET + opt.address.length;
  if (opt.port !== undefined) {
    buf[at] = opt.port >>> 8;
    buf[at + 1] = opt.port;
    at += PORT_LENGTH;
  }
  if (opt.hmac !== undefined) buf.set(opt.hmac, at);
  return length;
}

function validateAddAddr(opt: AddAddr): void {
  const { addressId, address, port, hmac, echo } = opt;
  if (!Number.isInteger(addressId) || addressId < 0 || addressId > 0xff) {
    throw new WireError('BAD_VALUE', `ADD_ADDR addressId ${shown(addressId)} is not a u8`);
  }
  if (!(address instanceof Uint8Array) || (address.length !== IPV4_LENGTH && address.length !== IPV6_LENGTH)) {
    throw new WireError('BAD_VALUE', 'ADD_ADDR address must be 4 (IPv4) or 16 (IPv6) bytes');
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 0xffff)) {
    throw new WireError('BAD_VALUE', `ADD_ADDR port ${shown(port)} is not a u16`);
  }
  // RFC 8684 §3.4.1: the HMAC is sent exactly when E = 0.
  if (echo) {
    if (hmac !== undefined) throw new WireError('BAD_VALUE', 'ADD_ADDR echo carries no hmac');
  } else if (!(hmac instanceof Uint8Array) || hmac.length !== ADD_ADDR_HMAC_LENGTH) {
    throw new WireError('BAD_VALUE', `ADD_ADDR without echo needs an hmac of ${ADD_ADDR_HMAC_LENGTH} bytes`);
  }
}

/** A field value for an error message; never throws, whatever the value is. */
function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}
