/**
 * Sockets made outside Node with options Node has no API for (Linux only): bound to a network
 * device (SO_BINDTODEVICE), so a path given as an interface leaves through that interface
 * whatever the routing table says (binding only to the interface's address does not do it,
 * Linux picks the outgoing device by destination); and kept from fragmenting
 * (IP_MTU_DISCOVER = IP_PMTUDISC_PROBE), so a path MTU probe that is too large is refused
 * (EMSGSIZE) or dropped on the way instead of arriving in fragments (RFC 8899 §3).
 *
 * Node has no API for the option. koffi (an FFI whose npm package carries prebuilt binaries,
 * so nothing compiles at install) calls libc's socket(), setsockopt() and bind(); the
 * transports adopt the resulting file descriptor (dgram bind({ fd }), new net.Socket({ fd })).
 * koffi loads only when a path names a device. Since Linux 5.7 an unprivileged process may set
 * the option on a socket not yet bound to a device (socket(7)).
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { parseIPv4, parseIPv6 } from '@mptun/pcap';
import { MptunError } from './errors.js';

/** Linux constants (the same on every architecture koffi ships for). */
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
/** linux/in.h: IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE (set DF, ignore the PMTU cache). */
const IPPROTO_IP = 0;
const IP_MTU_DISCOVER = 10;
const IP_PMTUDISC_PROBE = 3;
/** linux/in6.h: IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE. */
const IPPROTO_IPV6 = 41;
const IPV6_MTU_DISCOVER = 23;
const IPV6_PMTUDISC_PROBE = 3;
/** Linux's limit on an interface name, its terminating NUL included (IFNAMSIZ). */
const IFNAMSIZ = 16;

export type DeviceSocketKind = 'udp' | 'tcp';

/** Makes a socket of `kind` bound to `device` and to `localHost` (port 0); returns its fd. */
export type DeviceSocketFactory = (kind: DeviceSocketKind, localHost: string, device: string) => number;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  bind(fd: number, addr: Buffer, length: number): number;
  close(fd: number): number;
  strerror(errno: number): string;
  errno(): number;
}

type Loaded = { ok: true; libc: Libc } | { ok: false; reason: string };
let loaded: Loaded | null = null;

/** libc through koffi, loaded once on first use; why not, where it cannot be. */
function loadLibc(): Loaded {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    return (loaded = { ok: false, reason: `socket options through libc (SO_BINDTODEVICE, IP_MTU_DISCOVER) are Linux only; this is ${process.platform}` });
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    const strerror = lib.func('const char *strerror(int)') as (errno: number) => string;
    loaded = {
      ok: true,
      libc: {
        socket: lib.func('int socket(int, int, int)'),
        setsockopt: lib.func('int setsockopt(int, int, int, const uint8_t *, uint32_t)'),
        bind: lib.func('int bind(int, const uint8_t *, uint32_t)'),
        close: lib.func('int close(int)'),
        strerror,
        errno: () => koffi.errno(),
      },
    };
  } catch (err) {
    loaded = { ok: false, reason: `cannot load koffi and libc to set socket options: ${err instanceof Error ? err.message : String(err)}` };
  }
  return loaded;
}

/** Why devices cannot be bound here, or null when they can. */
export function deviceBindingUnavailable(): string | null {
  const l = loadLibc();
  return l.ok ? null : l.reason;
}

/** Why UDP sockets cannot be kept from fragmenting here (no path MTU discovery), or null when they can. */
export function noFragmentUnavailable(): string | null {
  return deviceBindingUnavailable();
}

/** struct sockaddr_in / sockaddr_in6 for `host`, `port` (Linux layout: family in host order, port in network order). */
function socketAddress(host: string, port = 0): { family: number; bytes: Buffer } {
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
  throw new MptunError('ERR_MPTUN_BIND_DEVICE', `cannot bind to device: "${host}" is not an IP address`);
}

/**
 * The factory of device-bound sockets: socket(), SO_BINDTODEVICE, then bind() to the
 * address, all before Node sees the fd (a TCP socket must carry the option before connect).
 * Throws MptunError ERR_MPTUN_BIND_DEVICE with the reason when the platform cannot.
 */
export function deviceSockets(): DeviceSocketFactory {
  return (kind, localHost, device) => nativeSocket(kind, localHost, { device });
}

export interface NativeSocketOptions {
  /** Bind to this interface too (SO_BINDTODEVICE). */
  device?: string;
  /** UDP: set the don't-fragment bit and never fragment locally (IP_PMTUDISC_PROBE), for path MTU probes. */
  noFragment?: boolean;
  /** Local port (default 0: any). */
  port?: number;
}

/**
 * The one place sockets are made outside Node: socket(), the options asked for, then bind()
 * to the address, all before Node sees the fd (a TCP socket must carry SO_BINDTODEVICE before
 * connect). Throws MptunError ERR_MPTUN_BIND_DEVICE with the reason when the platform cannot.
 */
export function nativeSocket(kind: DeviceSocketKind, localHost: string, opts: NativeSocketOptions): number {
  const libc = requireLibc();
  const { device } = opts;
  if (device !== undefined && (device.length === 0 || Buffer.byteLength(device) >= IFNAMSIZ)) {
    throw new MptunError('ERR_MPTUN_BIND_DEVICE', `"${device}" is not an interface name (1 to ${IFNAMSIZ - 1} bytes)`);
  }
  const addr = socketAddress(localHost, opts.port ?? 0);
  const fd = libc.socket(addr.family, (kind === 'udp' ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) throw failure(libc, `cannot make a ${kind} socket for ${localHost}`);
  const fail = (what: string): MptunError => {
    const err = failure(libc, what);
    libc.close(fd);
    return err;
  };
  if (device !== undefined) {
    const name = Buffer.from(`${device}\0`);
    if (libc.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) !== 0) {
      throw fail(`cannot bind a ${kind} socket to device ${device} (SO_BINDTODEVICE; unprivileged only since Linux 5.7)`);
    }
  }
  if (opts.noFragment === true && kind === 'udp') {
    const probe = Buffer.alloc(4);
    if (addr.family === AF_INET6) {
      probe.writeInt32LE(IPV6_PMTUDISC_PROBE, 0);
      if (libc.setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, probe, 4) !== 0) throw fail(`cannot keep a UDP socket on ${localHost} from fragmenting (IPV6_MTU_DISCOVER)`);
      // A dual-stack socket sends IPv4 too: best effort, the IPv4 option may be refused on it.
      probe.writeInt32LE(IP_PMTUDISC_PROBE, 0);
      libc.setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, probe, 4);
    } else {
      probe.writeInt32LE(IP_PMTUDISC_PROBE, 0);
      if (libc.setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, probe, 4) !== 0) throw fail(`cannot keep a UDP socket on ${localHost} from fragmenting (IP_MTU_DISCOVER)`);
    }
  }
  if (libc.bind(fd, addr.bytes, addr.bytes.length) !== 0) {
    throw fail(`cannot bind a ${kind} socket${device !== undefined ? ` on device ${device}` : ''} to ${localHost}:${opts.port ?? 0}`);
  }
  return fd;
}

/**
 * Make and close one UDP socket on `device` from `localHost`: a path that could never open
 * fails at start with the reason, not at every retry. Throws like deviceSockets().
 */
export function checkDeviceBinding(localHost: string, device: string): void {
  const fd = deviceSockets()('udp', localHost, device);
  requireLibc().close(fd);
}

function requireLibc(): Libc {
  const l = loadLibc();
  if (!l.ok) throw new MptunError('ERR_MPTUN_BIND_DEVICE', l.reason);
  return l.libc;
}

/** The error for the libc call that just failed, with errno's text. */
function failure(libc: Libc, what: string): MptunError {
  const errno = libc.errno();
  return new MptunError('ERR_MPTUN_BIND_DEVICE', `${what}: ${libc.strerror(errno)} (errno ${errno})`);
}
