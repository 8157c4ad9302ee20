/**
 * libc through koffi (an FFI whose npm package carries prebuilt binaries, so nothing
 * compiles at install), for what Node has no API for: sockets with options set before Node
 * adopts them (bind-device.ts) and batched UDP sends (udp-gso.ts). Linux only; loaded once,
 * on first use.
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { parseIPv4, parseIPv6 } from '@mptun/pcap';

/** Linux constants (the same on every architecture koffi ships for). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** One piece of a message (struct iovec), as koffi takes it. */
export interface IoVec {
  iov_base: Uint8Array;
  iov_len: number;
}

/** struct msghdr, as koffi takes it. */
export interface MsgHdr {
  msg_name: Buffer | null;
  msg_namelen: number;
  msg_iov: IoVec[];
  msg_iovlen: number;
  msg_control: Buffer | null;
  msg_controllen: number;
  msg_flags: number;
}

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  bind(fd: number, addr: Buffer, length: number): number;
  close(fd: number): number;
  sendmsg(fd: number, msg: MsgHdr, flags: number): number;
  strerror(errno: number): string;
  errno(): number;
}

type Loaded = { ok: true; libc: Libc } | { ok: false; reason: string };
let loaded: Loaded | null = null;

/** libc, or why it cannot be had here. */
export function loadLibc(): Loaded {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    return (loaded = { ok: false, reason: `socket options through libc (SO_BINDTODEVICE, IP_MTU_DISCOVER, UDP_SEGMENT) are Linux only; this is ${process.platform}` });
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    koffi.struct('mptun_iovec', { iov_base: 'void *', iov_len: 'size_t' });
    koffi.struct('mptun_msghdr', {
      msg_name: 'void *',
      msg_namelen: 'uint32_t',
      msg_iov: 'mptun_iovec *',
      msg_iovlen: 'size_t',
      msg_control: 'void *',
      msg_controllen: 'size_t',
      msg_flags: 'int',
    });
    loaded = {
      ok: true,
      libc: {
        socket: lib.func('int socket(int, int, int)'),
        setsockopt: lib.func('int setsockopt(int, int, int, const uint8_t *, uint32_t)'),
        bind: lib.func('int bind(int, const uint8_t *, uint32_t)'),
        close: lib.func('int close(int)'),
        sendmsg: lib.func('long sendmsg(int, const mptun_msghdr *, int)'),
        strerror: lib.func('const char *strerror(int)') as (errno: number) => string,
        errno: () => koffi.errno(),
      },
    };
  } catch (err) {
    loaded = { ok: false, reason: `cannot load koffi and libc to set socket options: ${err instanceof Error ? err.message : String(err)}` };
  }
  return loaded;
}

/** struct sockaddr_in / sockaddr_in6 for `host`, `port` (Linux layout: family in host order, port in network order); null for a name. */
export function sockaddr(host: string, port = 0): { family: number; bytes: Buffer } | null {
  if (isIP(host) === 4) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    b.set(parseIPv4(host), 4);
    return { family: AF_INET, bytes: b };
  }
  if (isIP(host) === 6) {
    // sin6_family, sin6_port, sin6_flowinfo, sin6_addr[16], sin6_scope_id (0: the bound
    // device gives a link-local address its scope).
    const b = Buffer.alloc(28);
    b.writeUInt16LE(AF_INET6, 0);
    b.writeUInt16BE(port, 2);
    b.set(parseIPv6(host), 8);
    return { family: AF_INET6, bytes: b };
  }
  return null;
}
