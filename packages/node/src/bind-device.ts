/**
 * Sockets made outside Node with options Node has no API for (Linux only): bound to a network
 * device (SO_BINDTODEVICE), so a path given as an interface leaves through that interface
 * whatever the routing table says (binding only to the interface's address does not do it,
 * Linux picks the outgoing device by destination); and kept from fragmenting
 * (IP_MTU_DISCOVER = IP_PMTUDISC_PROBE), so a path MTU probe that is too large is refused
 * (EMSGSIZE) or dropped on the way instead of arriving in fragments (RFC 8899 §3).
 *
 * Node has no API for either option. libc's socket(), setsockopt() and bind() are called
 * through koffi (libc.ts); the transports adopt the resulting file descriptor (dgram
 * bind({ fd }), new net.Socket({ fd })). Since Linux 5.7 an unprivileged process may set
 * SO_BINDTODEVICE on a socket not yet bound to a device (socket(7)).
 */
import { MptunError } from './errors.js';
import { AF_INET6, loadLibc, sockaddr, type Libc } from './libc.js';

/** Linux constants (the same on every architecture koffi ships for). */
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

/** Why devices cannot be bound here, or null when they can. */
export function deviceBindingUnavailable(): string | null {
  const l = loadLibc();
  return l.ok ? null : l.reason;
}

/** Why UDP sockets cannot be kept from fragmenting here (no path MTU discovery), or null when they can. */
export function noFragmentUnavailable(): string | null {
  return deviceBindingUnavailable();
}

function socketAddress(host: string, port = 0): { family: number; bytes: Buffer } {
  const addr = sockaddr(host, port);
  if (addr === null) throw new MptunError('ERR_MPTUN_BIND_DEVICE', `cannot bind to device: "${host}" is not an IP address`);
  return addr;
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
