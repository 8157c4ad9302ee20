/**
 * The client side of a sealed path: one socket bound to the chosen local address and
 * connected to the server, carrying one PathSession (@mptun/session: handshake with
 * retries and cookies, sealed data, rekey, keepalive, idle). This file only adapts the
 * socket; connect() resolves when the session is up. With an EarlySegmentSource, the path's
 * first segment rides the handshake and the server's answer comes as the link's earlyAnswer.
 */
import type { EarlySegmentSource, TransportAddress } from '@mptun/core';
import {
  HandshakeInitiator,
  IndexTable,
  MAX_EARLY_DATA_BYTES,
  PathSession,
  SessionDriver,
  claimFrom,
  cryptoRandomSource,
  type CryptoBackend,
  type TimestampClock,
} from '@mptun/session';
import { PathCloseCode, serverUnreachableMessage, UdpTransportError } from './errors.js';
import { requireSealedClient, searchCap, segmentLimit, type ResolvedOptions } from './options.js';
import { closeCodeFor, sessionTimers, setTimer } from './session-timers.js';
import { UdpPath } from './udp-path.js';
import { DatagramBatcher } from './udp-batch.js';
import { bindSocketFd, closeSocket, connectSocket, localAddress, type OpenSocket } from './udp-socket.js';

export async function connectSealed(
  opts: ResolvedOptions,
  crypto: CryptoBackend,
  clock: TimestampClock,
  localHost: string,
  remote: TransportAddress,
  openSocket?: OpenSocket,
  earlySegment?: EarlySegmentSource,
): Promise<UdpPath> {
  const { keypair, serverPublicKey } = requireSealedClient(opts);
  const initiator = new HandshakeInitiator(crypto, { staticKeypair: keypair, serverPublicKey, clock });
  const { socket, fd } = await bindSocketFd(localHost, 0, opts.socketBufferBytes, openSocket);
  const out = new DatagramBatcher(socket, fd, opts.batchSend, true);
  try {
    await connectSocket(socket, remote);
  } catch (err) {
    await closeSocket(socket);
    throw err;
  }
  const local = localAddress(socket);
  const maxSegment = segmentLimit('sealed', opts.maxPayload);
  const maxReceiveSegment = searchCap(opts, socket.getRecvBufferSize());
  let early: Uint8Array | null;
  try {
    early = earlySegment?.({ local, remote: { ...remote }, maxSegment, maxReceiveSegment: Math.max(maxSegment, maxReceiveSegment), reliable: false, authenticated: true }) ?? null;
  } catch (err) {
    await closeSocket(socket);
    throw err;
  }
  // A segment too long to ride goes after the handshake, as it would without early data.
  if (early !== null && early.length > MAX_EARLY_DATA_BYTES) early = null;
  return new Promise<UdpPath>((resolve, reject) => {
    let path: UdpPath | null = null;
    const session = PathSession.initiator({
      ...sessionTimers(opts),
      initiator,
      indexes: claimFrom(new IndexTable<true>(cryptoRandomSource(crypto))),
      now: Date.now(),
      earlyData: early,
    });
    const driver = new SessionDriver(session, {
      now: Date.now,
      setTimer,
      transmit: (message) => out.send(message),
      onUp: () => {
        path = new UdpPath(local, { ...remote }, maxSegment, {
          transmit: (segment) => driver.send(segment),
          queuedBytes: () => out.queuedBytes,
          release: () => {
            driver.close();
            out.flush();
            socket.removeAllListeners('message');
            void closeSocket(socket);
          },
        }, true, maxReceiveSegment);
        path.earlyAnswer = session.earlyAnswer;
        resolve(path);
      },
      onSilence: (silent, message) => path?.silence(silent, message),
      onMaxDatagram: (bytes) => path?.setMaxSegment(segmentLimit('sealed', bytes)),
      onDown: (reason, message) => {
        if (path !== null) {
          path.end({ code: closeCodeFor(reason), message });
          return;
        }
        socket.removeAllListeners('message');
        void closeSocket(socket);
        // The server answers nothing it cannot authenticate (a wrong server key, a client key
        // it does not list): silence is all the client learns, so name every likely cause.
        reject(
          new UdpTransportError(
            'ERR_MPTUN_HANDSHAKE_TIMEOUT',
            `no answer from the server at ${remote.host}:${remote.port} within ${opts.handshakeTimeoutMs} ms (${message}): wrong --server-key, this client's key not in the server's authorized keys, or UDP filtered on the way`,
          ),
        );
      },
    });
    socket.on('message', (msg: Buffer) => {
      const got = driver.receive(msg);
      if (got instanceof Uint8Array && got.length > 0) path?.deliver(got);
    });
    // ICMP port unreachable arrives on a connected socket as ECONNREFUSED: nothing listens
    // at the server's address (the process is gone), so the path ends now rather than after
    // the idle timeout, and connect() fails at once. Other ICMP errors (host or net
    // unreachable) may be transient: the session's timers decide.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNREFUSED') return;
      const message = serverUnreachableMessage(remote);
      if (path !== null) {
        path.end({ code: PathCloseCode.ServerUnreachable, message });
        return;
      }
      driver.close();
      socket.removeAllListeners('message');
      void closeSocket(socket);
      reject(new UdpTransportError('ERR_MPTUN_SERVER_UNREACHABLE', message, { cause: err }));
    });
    driver.start();
  });
}
