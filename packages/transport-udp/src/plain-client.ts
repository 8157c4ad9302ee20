/** The client side of a plain (tcp-in-udp) path: see plain-path.ts for what it carries. */
import type { TransportAddress } from '@mptun/core';
import { PathCloseCode, serverUnreachableMessage } from './errors.js';
import { segmentLimit, type ResolvedOptions } from './options.js';
import { receivePlain, sendPlain } from './plain-path.js';
import { UdpPath } from './udp-path.js';
import { bindSocket, closeSocket, connectSocket, localAddress, type OpenSocket } from './udp-socket.js';

export async function connectPlain(opts: ResolvedOptions, localHost: string, remote: TransportAddress, openSocket?: OpenSocket): Promise<UdpPath> {
  const socket = await bindSocket(localHost, 0, opts.socketBufferBytes, openSocket);
  try {
    await connectSocket(socket, remote);
  } catch (err) {
    await closeSocket(socket);
    throw err;
  }
  const local = localAddress(socket);
  const peer = { ...remote };
  const path = new UdpPath(local, peer, segmentLimit('plain', opts.maxPayload), {
    transmit: (segment) => sendPlain(socket, segment, local, peer, true),
    queuedBytes: () => socket.getSendQueueSize(),
    release: () => {
      socket.removeAllListeners('message');
      void closeSocket(socket);
    },
  }, false);
  let answered = false;
  socket.on('message', (msg: Buffer) => {
    const segment = receivePlain(msg, peer.port, local.port);
    if (segment === null) return;
    answered = true;
    path.deliver(segment);
  });
  // ICMP port unreachable before the server ever answered: nothing listens there, so the
  // path ends now with that reason instead of the SYN being retried into silence. Once the
  // server has answered, ICMP errors are left to TCP's own timers (they may be transient).
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (answered || err.code !== 'ECONNREFUSED') return;
    path.end({ code: PathCloseCode.ServerUnreachable, message: serverUnreachableMessage(remote) });
  });
  return path;
}
