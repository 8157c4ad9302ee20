/**
 * Creating and binding node:dgram sockets. Binding to a given local address is what makes
 * a path leave by that interface; IPv4 and IPv6 alike.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import type { TransportAddress } from '@mptun/core';
import { UdpTransportError } from './errors.js';

/**
 * Makes a path's socket outside Node (socket() and bind() to the path's local address, plus
 * whatever option Node has no API for, such as SO_BINDTODEVICE) and returns its file
 * descriptor; the transport adopts it and closes it with the path.
 */
export type OpenSocket = () => number;

/**
 * dgram's address lookup, answering a literal IP address at once. The default (dns.lookup)
 * answers even a literal on the next tick, and an unconnected socket looks its destination
 * up on every send: the listener paid a closure, a tick and the dns module's checks per
 * datagram. Names still go to dns.lookup.
 */
export function literalLookup(
  host: string,
  // Node passes the socket's family (4 or 6); the typings say options.
  family: dns.LookupOneOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const version = isIP(host);
  if (version !== 0) callback(null, host, version);
  else dns.lookup(host, typeof family === 'number' ? { family } : family, callback);
}

/**
 * Binds a socket to host:port (port 0: any free port), or adopts one the caller made and
 * bound already (`openSocket`, e.g. bound to a device too), and raises its buffers where allowed.
 */
export async function bindSocket(host: string, port: number, bufferBytes: number, openSocket?: OpenSocket): Promise<dgram.Socket> {
  return (await bindSocketFd(host, port, bufferBytes, openSocket)).socket;
}

/** bindSocket, and the socket's fd when `openSocket` made it (what batched sends need). */
export async function bindSocketFd(host: string, port: number, bufferBytes: number, openSocket?: OpenSocket): Promise<{ socket: dgram.Socket; fd: number | undefined }> {
  let fd: number | undefined;
  try {
    fd = openSocket?.();
  } catch (err) {
    throw new UdpTransportError('ERR_MPTUN_BIND', `cannot bind UDP ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(new UdpTransportError('ERR_MPTUN_BIND', `cannot bind UDP ${host}:${port}: ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
    socket.bind(fd === undefined ? { address: host, port, exclusive: true } : { fd, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  // Bigger kernel buffers absorb bursts at Gbit/s rates; the kernel may cap or refuse them.
  try {
    socket.setRecvBufferSize(bufferBytes);
  } catch {
    // Not allowed here: keep the default.
  }
  try {
    socket.setSendBufferSize(bufferBytes);
  } catch {
    // Not allowed here: keep the default.
  }
  return { socket, fd };
}

/** Connects a bound socket to its only peer, so the kernel filters other senders out. */
export function connectSocket(socket: dgram.Socket, remote: TransportAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.connect(remote.port, remote.host, (err?: Error) => {
      if (err) reject(new UdpTransportError('ERR_MPTUN_BIND', `cannot connect UDP to ${remote.host}:${remote.port}`, { cause: err }));
      else resolve();
    });
  });
}

export function localAddress(socket: dgram.Socket): TransportAddress {
  const a = socket.address();
  return { host: a.address, port: a.port };
}

/** Closes a socket once, tolerating one that is already closed. */
export function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
