/**
 * SOCKS5 wire format (RFC 1928) and username/password sub-negotiation (RFC 1929): pure
 * parsers and encoders, no sockets. Each parser takes the bytes received so far and returns
 * null while more are needed, the parsed message and its length, or throws Socks5Error
 * carrying the reply the server should send before closing.
 */

export const SOCKS_VERSION = 0x05;
export const AUTH_VERSION = 0x01; // RFC 1929 §2

/** RFC 1928 §3 method codes. */
export const SocksMethod = { NO_AUTH: 0x00, USER_PASS: 0x02, NO_ACCEPTABLE: 0xff } as const;

/** RFC 1928 §4 command codes. */
export const SocksCommand = { CONNECT: 0x01, BIND: 0x02, UDP_ASSOCIATE: 0x03 } as const;

/** RFC 1928 §5 address types. */
export const SocksAddressType = { IPV4: 0x01, DOMAIN: 0x03, IPV6: 0x04 } as const;

/** RFC 1928 §6 reply codes. */
export const SocksReply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/**
 * What to answer before closing: `reply` is a SOCKS5 reply code to send as a full reply
 * (request stage), `null` means close without a reply (the peer does not speak SOCKS5).
 */
export class Socks5Error extends Error {
  override readonly name = 'Socks5Error';
  readonly code = 'ERR_MPTUN_SOCKS';
  constructor(
    message: string,
    readonly reply: number | null,
  ) {
    super(message);
  }
}

export interface Greeting {
  methods: number[];
  length: number;
}

/** RFC 1928 §3: VER | NMETHODS | METHODS (1..255). */
export function parseGreeting(buf: Uint8Array): Greeting | null {
  if (buf.length < 1) return null;
  if (buf[0] !== SOCKS_VERSION) throw new Socks5Error(`not SOCKS5 (version byte ${buf[0]})`, null);
  if (buf.length < 2) return null;
  const n = buf[1]!;
  if (n === 0) throw new Socks5Error('greeting lists no methods', null);
  if (buf.length < 2 + n) return null;
  return { methods: Array.from(buf.subarray(2, 2 + n)), length: 2 + n };
}

export function encodeMethodChoice(method: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, method);
}

export interface Credentials {
  username: string;
  password: string;
  length: number;
}

/** RFC 1929 §2: VER (1) | ULEN | UNAME (1..255) | PLEN | PASSWD (1..255). */
export function parseCredentials(buf: Uint8Array): Credentials | null {
  if (buf.length < 1) return null;
  if (buf[0] !== AUTH_VERSION) throw new Socks5Error(`bad username/password version ${buf[0]}`, null);
  if (buf.length < 2) return null;
  const ulen = buf[1]!;
  if (buf.length < 3 + ulen) return null;
  const plen = buf[2 + ulen]!;
  const total = 3 + ulen + plen;
  if (buf.length < total) return null;
  const dec = new TextDecoder();
  return { username: dec.decode(buf.subarray(2, 2 + ulen)), password: dec.decode(buf.subarray(3 + ulen, total)), length: total };
}

/** RFC 1929 §2: VER | STATUS, where 0 is success. */
export function encodeAuthStatus(ok: boolean): Uint8Array {
  return Uint8Array.of(AUTH_VERSION, ok ? 0x00 : 0x01);
}

export interface SocksRequest {
  command: number;
  host: string;
  port: number;
  length: number;
}

/**
 * RFC 1928 §4: VER | CMD | RSV | ATYP | DST.ADDR | DST.PORT. Commands other than CONNECT
 * are rejected once the header shows them (0x07), unknown address types with 0x08.
 */
export function parseRequest(buf: Uint8Array): SocksRequest | null {
  if (buf.length < 1) return null;
  if (buf[0] !== SOCKS_VERSION) throw new Socks5Error(`request version byte ${buf[0]}`, SocksReply.GENERAL_FAILURE);
  if (buf.length < 2) return null;
  const command = buf[1]!;
  if (command !== SocksCommand.CONNECT) throw new Socks5Error(`command ${command} not supported`, SocksReply.COMMAND_NOT_SUPPORTED);
  if (buf.length < 4) return null;
  if (buf[2] !== 0x00) throw new Socks5Error('reserved byte is not zero', SocksReply.GENERAL_FAILURE);
  const atyp = buf[3]!;
  let addrLen: number;
  let addrStart = 4;
  if (atyp === SocksAddressType.IPV4) addrLen = 4;
  else if (atyp === SocksAddressType.IPV6) addrLen = 16;
  else if (atyp === SocksAddressType.DOMAIN) {
    if (buf.length < 5) return null;
    addrLen = buf[4]!;
    addrStart = 5;
    if (addrLen === 0) throw new Socks5Error('empty domain name', SocksReply.GENERAL_FAILURE);
  } else throw new Socks5Error(`address type ${atyp} not supported`, SocksReply.ADDRESS_TYPE_NOT_SUPPORTED);
  const total = addrStart + addrLen + 2;
  if (buf.length < total) return null;
  const addr = buf.subarray(addrStart, addrStart + addrLen);
  let host: string;
  if (atyp === SocksAddressType.IPV4) host = Array.from(addr).join('.');
  else if (atyp === SocksAddressType.IPV6) host = formatIpv6(addr);
  else {
    try {
      host = new TextDecoder('utf-8', { fatal: true }).decode(addr);
    } catch {
      throw new Socks5Error('domain name is not UTF-8', SocksReply.GENERAL_FAILURE);
    }
    if (/[\0-\x20\x7f/\\]/.test(host)) throw new Socks5Error('domain name has forbidden characters', SocksReply.GENERAL_FAILURE);
  }
  const port = (buf[total - 2]! << 8) | buf[total - 1]!;
  if (port === 0) throw new Socks5Error('port 0', SocksReply.GENERAL_FAILURE);
  return { command, host, port, length: total };
}

/**
 * RFC 1928 §6 reply. The bound address is reported as 0.0.0.0:0: the real one is on the
 * server's side of the tunnel, and clients only use it for BIND, which we do not offer.
 */
export function encodeReply(reply: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, reply, 0x00, SocksAddressType.IPV4, 0, 0, 0, 0, 0, 0);
}

function formatIpv6(b: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return g.join(':');
}
