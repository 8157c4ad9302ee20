/**
 * The client side of a sealed path: one socket bound to the chosen local address and
 * connected to the server, a Noise IK handshake (retried, cookie-aware), then a
 * SecureChannel with keepalives and rekeying driven by one interval timer.
 */
import type dgram from 'node:dgram';
import { randomU32, type TransportAddress } from '@mptun/core';
import {
  HandshakeInitiator,
  MessageType,
  SecureChannel,
  cryptoRandomSource,
  messageType,
  type CryptoBackend,
  type PendingInitiation,
  type TimestampClock,
} from '@mptun/session';
import { PathCloseCode, UdpTransportError } from './errors.js';
import { requireSealedClient, segmentLimit, type ResolvedOptions } from './options.js';
import { UdpPath, sealOrNull } from './udp-path.js';
import { bindSocket, closeSocket, connectSocket, localAddress } from './udp-socket.js';

const EMPTY = new Uint8Array(0);

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
  const random = cryptoRandomSource(crypto);
  const freshIndex = (): number => randomU32(random) || 1;
  const channel = await handshake(opts, socket, initiator, freshIndex);
  return establish(opts, socket, initiator, freshIndex, channel, remote);
}

/** Sends initiations until one is answered; resolves with its channel, or rejects on timeout. */
function handshake(
  opts: ResolvedOptions,
  socket: dgram.Socket,
  initiator: HandshakeInitiator,
  freshIndex: () => number,
): Promise<SecureChannel> {
  return new Promise((resolve, reject) => {
    let pending: PendingInitiation | null = null;
    const start = (): void => {
      pending?.destroy();
      pending = initiator.initiate(Date.now(), freshIndex());
      socket.send(pending.message);
    };
    const finish = (): void => {
      clearInterval(retry);
      clearTimeout(deadline);
      socket.off('message', onMessage);
      socket.off('error', ignore);
    };
    const onMessage = (msg: Buffer): void => {
      if (pending === null) return;
      const type = messageType(msg);
      if (type === MessageType.CookieReply) {
        // Under load: the server wants proof of our address. Go again at once, with mac2.
        if (pending.consumeCookieReply(msg, Date.now())) start();
      } else if (type === MessageType.Response) {
        const keys = pending.consumeResponse(msg);
        if (keys === null) return;
        finish();
        resolve(new SecureChannel(initiator.crypto, keys, Date.now(), { limits: opts.channelLimits }));
      }
    };
    // ICMP errors (server not up yet) surface as socket errors: keep retrying until the deadline.
    const ignore = (): void => {};
    socket.on('message', onMessage);
    socket.on('error', ignore);
    const retry = setInterval(start, opts.handshakeRetryMs);
    const deadline = setTimeout(() => {
      finish();
      pending?.destroy();
      void closeSocket(socket);
      reject(new UdpTransportError('ERR_MPTUN_HANDSHAKE_TIMEOUT', `no handshake within ${opts.handshakeTimeoutMs} ms`));
    }, opts.handshakeTimeoutMs);
    start();
  });
}

function establish(
  opts: ResolvedOptions,
  socket: dgram.Socket,
  initiator: HandshakeInitiator,
  freshIndex: () => number,
  channel: SecureChannel,
  remote: TransportAddress,
): UdpPath {
  let lastSent = 0;
  let lastReceived = Date.now();
  let rekey: PendingInitiation | null = null;

  const sendSealed = (plaintext: Uint8Array): boolean => {
    const datagram = sealOrNull(channel, plaintext);
    if (datagram === null) return false;
    socket.send(datagram);
    lastSent = Date.now();
    return true;
  };
  const startRekey = (now: number): void => {
    rekey?.destroy();
    rekey = initiator.initiate(now, freshIndex(), channel.remoteIndex);
    socket.send(rekey.message);
  };

  const path = new UdpPath(localAddress(socket), { ...remote }, segmentLimit('sealed', opts.maxPayload), {
    transmit: sendSealed,
    queuedBytes: () => socket.getSendQueueSize(),
    release: () => {
      clearInterval(tick);
      rekey?.destroy();
      channel.destroy();
      socket.removeAllListeners('message');
      void closeSocket(socket);
    },
  });

  socket.on('message', (msg: Buffer) => {
    switch (messageType(msg)) {
      case MessageType.Data: {
        const plaintext = channel.open(msg);
        if (plaintext === null) return;
        lastReceived = Date.now();
        if (plaintext.length > 0) path.deliver(plaintext);
        return;
      }
      case MessageType.Response: {
        const keys = rekey?.consumeResponse(msg) ?? null;
        if (keys === null) return;
        rekey = null;
        channel.install(keys, Date.now());
        sendSealed(EMPTY); // lets the server switch to the new keys even when idle
        return;
      }
      case MessageType.CookieReply:
        if (rekey?.consumeCookieReply(msg, Date.now())) startRekey(Date.now());
        return;
      default:
        return;
    }
  });
  // Transient send/ICMP errors change nothing: the idle timeout notices a dead path.
  socket.on('error', () => {});

  const tick = setInterval(() => {
    const now = Date.now();
    if (!channel.maintain(now)) {
      path.end({ code: PathCloseCode.KeysExpired, message: 'session keys expired before a rekey succeeded' });
      return;
    }
    if (now - lastReceived >= opts.idleTimeoutMs) {
      path.end({ code: PathCloseCode.PeerGone, message: `nothing from the server for ${opts.idleTimeoutMs} ms` });
      return;
    }
    if (channel.needsRekey(now) && (rekey === null || now - rekey.startedAt >= opts.handshakeRetryMs)) startRekey(now);
    if (now - lastSent >= opts.keepaliveMs) sendSealed(EMPTY);
  }, opts.tickMs);

  sendSealed(EMPTY); // confirms the keys to the server, which then reports the path
  return path;
}
