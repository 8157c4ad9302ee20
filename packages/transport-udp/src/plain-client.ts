/** The client side of a plain (tcp-in-udp) path: see plain-path.ts for what it carries. */
import type { TransportAddress } from '@mptun/core';
import { segmentLimit, type ResolvedOptions } from './options.js';
import { receivePlain, sendPlain } from './plain-path.js';
import { UdpPath } from './udp-path.js';
import { bindSocket, closeSocket, connectSocket, localAddress } from './udp-socket.js';

export async function connectPlain(opts: ResolvedOptions, localHost: string, remote: TransportAddress): Promise<UdpPath> {
  const socket = await bindSocket(localHost, 0, opts.socketBufferBytes);
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
  socket.on('message', (msg: Buffer) => {
    const segment = receivePlain(msg, peer.port, local.port);
    if (segment !== null) path.deliver(segment);
  });
  socket.on('error', () => {}); // ICMP errors: TCP's own timers notice a dead peer
  return path;
}
