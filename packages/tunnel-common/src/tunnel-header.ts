/**
 * The tunnel's own header: the first bytes of every MPTCP connection say which TCP target
 * to reach (they ride the SYN, as RFC 8803's convert protocol carries its TLVs there, so a
 * proxied connection costs one round trip), and the server's first bytes answer.
 *
 * Request (client → server):
 *   'M' 'T' | version (1) | command (1: CONNECT) | address type (1: IPv4, 3: domain, 4: IPv6)
 *   | address (4 bytes; 1 length byte + 1..255 name bytes; 16 bytes) | port (2, big-endian)
 * Reply (server → client):
 *   version (1) | status (1, TunnelStatus) | reason length (1) | reason (UTF-8, ≤ 255 bytes)
 * After a reply with status OK the connection carries the application's bytes both ways.
 */

export const TUNNEL_VERSION = 1;
const MAGIC0 = 0x4d; // 'M'
const MAGIC1 = 0x54; // 'T'

export const TunnelCommand = { CONNECT: 1 } as const;
export const AddressType = { IPV4: 1, DOMAIN: 3, IPV6: 4 } as const;

/** Reply statuses; each maps to a SOCKS5 reply code (RFC 1928 §6). */
export const TunnelStatus = {
  OK: 0,
  NOT_ALLOWED: 1, // the server's policy refuses this target
  HOST_UNREACHABLE: 2,
  CONNECTION_REFUSED: 3,
  GENERAL_FAILURE: 4,
  TIMEOUT: 5,
  ADDRESS_TYPE_NOT_SUPPORTED: 6,
  BUSY: 7, // a connection limit was reached
  BAD_REQUEST: 8,
  /**
   * The server is draining: it takes no new tunnels. Another server behind the same balancer
   * may: the client dials the balancer again from a fresh source port and retries.
   */
  DRAINING: 9,
} as const;
export type TunnelStatusCode = (typeof TunnelStatus)[keyof typeof TunnelStatus];

/** SOCKS5 REP field for each status (RFC 1928 §6). */
export function socksReplyFor(status: number): number {
  switch (status) {
    case TunnelStatus.OK:
      return 0x00;
    case TunnelStatus.NOT_ALLOWED:
      return 0x02; // connection not allowed by ruleset
    case TunnelStatus.HOST_UNREACHABLE:
      return 0x04;
    case TunnelStatus.CONNECTION_REFUSED:
      return 0x05;
    case TunnelStatus.TIMEOUT:
      return 0x06; // TTL expired
    case TunnelStatus.ADDRESS_TYPE_NOT_SUPPORTED:
      return 0x08;
    case TunnelStatus.BAD_REQUEST:
      return 0x07; // command not supported
    default:
      return 0x01; // general SOCKS server failure
  }
}

export interface TunnelTarget {
  /** IPv4/IPv6 literal or a domain name. */
  host: string;
  port: number;
}

export class TunnelHeaderError extends Error {
  override readonly name = 'TunnelHeaderError';
  constructor(
    readonly code: 'ERR_MPTUN_TUNNEL_HEADER',
    message: string,
  ) {
    super(message);
  }
}

function fail(message: string): never {
  throw new TunnelHeaderError('ERR_MPTUN_TUNNEL_HEADER', message);
}

export function encodeTunnelRequest(target: TunnelTarget): Uint8Array {
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) fail(`port out of range: ${target.port}`);
  const v4 = parseIpv4(target.host);
  const v6 = v4 ? null : parseIpv6(target.host);
  let addr: Uint8Array;
  let type: number;
  if (v4) {
    addr = v4;
    type = AddressType.IPV4;
  } else if (v6) {
    addr = v6;
    type = AddressType.IPV6;
  } else {
    const name = new TextEncoder().encode(target.host);
    if (name.length < 1 || name.length > 255) fail('a domain name must be 1 to 255 bytes');
    addr = new Uint8Array(1 + name.length);
    addr[0] = name.length;
    addr.set(name, 1);
    type = AddressType.DOMAIN;
  }
  const out = new Uint8Array(5 + addr.length + 2);
  out.set([MAGIC0, MAGIC1, TUNNEL_VERSION, TunnelCommand.CONNECT, type]);
  out.set(addr, 5);
  out[5 + addr.length] = target.port >> 8;
  out[6 + addr.length] = target.port & 0xff;
  return out;
}

/**
 * Parse a request from the start of `buf`. Returns null while more bytes are needed, the
 * target and how many bytes it took, or throws TunnelHeaderError for malformed input.
 */
export function decodeTunnelRequest(buf: Uint8Array): { target: TunnelTarget; length: number } | null {
  if (buf.length >= 1 && buf[0] !== MAGIC0) fail('not a tunnel request (bad magic)');
  if (buf.length >= 2 && buf[1] !== MAGIC1) fail('not a tunnel request (bad magic)');
  if (buf.length >= 3 && buf[2] !== TUNNEL_VERSION) fail(`unsupported tunnel version ${buf[2]}`);
  if (buf.length >= 4 && buf[3] !== TunnelCommand.CONNECT) fail(`unsupported command ${buf[3]}`);
  if (buf.length < 5) return null;
  const type = buf[4]!;
  let addrLen: number;
  if (type === AddressType.IPV4) addrLen = 4;
  else if (type === AddressType.IPV6) addrLen = 16;
  else if (type === AddressType.DOMAIN) {
    if (buf.length < 6) return null;
    addrLen = 1 + buf[5]!;
    if (buf[5] === 0) fail('empty domain name');
  } else fail(`unsupported address type ${type}`);
  const total = 5 + addrLen + 2;
  if (buf.length < total) return null;
  const a = buf.subarray(5, 5 + addrLen);
  let host: string;
  if (type === AddressType.IPV4) host = Array.from(a).join('.');
  else if (type === AddressType.IPV6) host = formatIpv6(a);
  else {
    try {
      host = new TextDecoder('utf-8', { fatal: true }).decode(a.subarray(1));
    } catch {
      fail('domain name is not UTF-8');
    }
    if (/[\0-\x1f\x7f\s/\\]/.test(host)) fail('domain name has forbidden characters');
  }
  const port = (buf[5 + addrLen]! << 8) | buf[6 + addrLen]!;
  if (port === 0) fail('port 0');
  return { target: { host, port }, length: total };
}

export function encodeTunnelReply(status: number, reason = ''): Uint8Array {
  const r = new TextEncoder().encode(reason);
  const text = r.length > 255 ? r.subarray(0, 255) : r;
  const out = new Uint8Array(3 + text.length);
  out[0] = TUNNEL_VERSION;
  out[1] = status;
  out[2] = text.length;
  out.set(text, 3);
  return out;
}

export function decodeTunnelReply(buf: Uint8Array): { status: number; reason: string; length: number } | null {
  if (buf.length >= 1 && buf[0] !== TUNNEL_VERSION) fail(`unsupported tunnel version ${buf[0]}`);
  if (buf.length < 3) return null;
  const total = 3 + buf[2]!;
  if (buf.length < total) return null;
  return { status: buf[1]!, reason: new TextDecoder().decode(buf.subarray(3, total)), length: total };
}

function parseIpv4(s: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : null;
}

function parseIpv6(s: string): Uint8Array | null {
  if (!s.includes(':')) return null;
  const host = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const halves = host.split('::');
  if (halves.length > 2) return null;
  const part = (x: string | undefined): number[] | null => {
    if (!x) return [];
    const out: number[] = [];
    for (const g of x.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function formatIpv6(b: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return g.join(':');
}
