/**
 * The client side of a sealed path: one socket bound to the chosen local address and
 * connected to the server, carrying one PathSession (@mptun/session: handshake with
 * retries and cookies, sealed data, rekey, keepalive, idle). This file only adapts the
 * socket; connect() resolves when the session is up.
 */
import type { TransportAddress } from '@mptun/core';
import {
  HandshakeInitiator,
  IndexTable,
  PathSession,
  SessionDriver,
  claimFrom,
  cryptoRandomSource,
  type CryptoBackend,
  type TimestampClock,
} from '@mptun/session';
import { UdpTransportError } from './errors.js';
import { requireSealedClient, segmentLimit, type ResolvedOptions } from './options.js';
import { closeCodeFor, sessionTimers, setTimer } from './session-timers.js';
import { UdpPath } from './udp-path.js';
import { bindSocket, closeSocket, connectSocket, localAddress } from './udp-socket.js';

export async function connectSealed(
  opts: ResolvedOptions,
  crypto: CryptoBackend,
  clock: TimestampClock,
  localHost: string,
  remote: TransportAddress,
): Promise<UdpPath> {
  const { keypair, serverPublicKey } = requireSealedClient(opts);
  const initiator = new HandshakeInitiator(crypto, { staticKeypair: keypair, serverPublicKey, clock });
  const socket = await bindSocket(localHost, 0, opts.socketBufferBytes);
  try {
    await connectSocket(socket, remote);
  } catch (err) {
    await closeSocket(socket);
    throw err;
  }
  const local = localAddress(socket);
  return new Promise<UdpPath>((resolve, reject) => {
    let path: UdpPath | null = null;
    const session = PathSession.initiator({
      ...sessionTimers(opts),
      initiator,
      indexes: claimFrom(new IndexTable<true>(cryptoRandomSource(crypto))),
      now: Date.now(),
    });
    const driver = new SessionDriver(session, {
      now: Date.now,
      setTimer,
      transmit: (message) => socket.send(message),
      onUp: () => {
        path = new UdpPath(local, { ...remote }, segmentLimit('sealed', opts.maxPayload), {
          transmit: (segment) => driver.send(segment),
          queuedBytes: () => socket.getSendQueueSize(),
          release: () => {
            driver.close();
            socket.removeAllListeners('message');
            void closeSocket(socket);
          },
        }, true);
        resolve(path);
      },
      onDown: (reason, message) => {
        if (path !== null) {
          path.end({ code: closeCodeFor(reason), message });
          return;
        }
        socket.removeAllListeners('message');
        void closeSocket(socket);
        reject(new UdpTransportError('ERR_MPTUN_HANDSHAKE_TIMEOUT', `no handshake within ${opts.handshakeTimeoutMs} ms: ${message}`));
      },
    });
    socket.on('message', (msg: Buffer) => {
      const got = driver.receive(msg);
      if (got instanceof Uint8Array && got.length > 0) path?.deliver(got);
    });
    // ICMP errors (server not up yet, path gone) change nothing: the session's timers decide.
    socket.on('error', () => {});
    driver.start();
  });
}
