/**
 * The server side of sealed paths: one socket per listen address, a HandshakeResponder,
 * and the sessions filed by the index the server chose (not by source address, so a
 * client may roam). A datagram that does not authenticate is dropped and allocates
 * nothing; under a flood of initiations the listener answers with stateless cookies.
 * A path is reported (onPath) once the client proved its keys with a first datagram.
 */
import type dgram from 'node:dgram';
import type { PathLink, TransportAddress } from '@mptun/core';
import {
  HandshakeResponder,
  IndexTable,
  LoadMeter,
  MessageType,
  SecureChannel,
  cryptoRandomSource,
  keysEqual,
  messageType,
  receiverIndex,
  type CryptoBackend,
  type TransportKeys,
} from '@mptun/session';
import { PathCloseCode } from './errors.js';
import type { UdpListenerStats, UdpPathListener } from './listener-stats.js';
import { requireSealedServer, segmentLimit, type ResolvedOptions } from './options.js';
import { UdpPath, sealOrNull } from './udp-path.js';
import { bindSocket, closeSocket, localAddress } from './udp-socket.js';

const EMPTY = new Uint8Array(0);

/** One client path as the server holds it. */
interface ServerSession {
  channel: SecureChannel;
  path: UdpPath;
  createdAt: number;
  lastReceived: number;
  lastSent: number;
  announced: boolean;
}

export async function listenSealed(opts: ResolvedOptions, crypto: CryptoBackend, local: TransportAddress): Promise<UdpPathListener> {
  const { keypair, isAllowed } = requireSealedServer(opts);
  const socket = await bindSocket(local.host, local.port, opts.socketBufferBytes);
  return new SealedListener(opts, crypto, socket, new HandshakeResponder(crypto, { staticKeypair: keypair, isAllowed }));
}

class SealedListener implements UdpPathListener {
  readonly local: TransportAddress;
  onPath: ((path: PathLink) => void) | null = null;
  readonly stats: UdpListenerStats = { initiations: 0, cookieReplies: 0, handshakes: 0, dropped: 0 };
  private readonly table: IndexTable<ServerSession>;
  private readonly sessions = new Set<ServerSession>();
  private readonly load: LoadMeter;
  private readonly tick: NodeJS.Timeout;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly crypto: CryptoBackend,
    private readonly socket: dgram.Socket,
    private readonly responder: HandshakeResponder,
  ) {
    this.local = localAddress(socket);
    this.table = new IndexTable(cryptoRandomSource(crypto));
    this.load = new LoadMeter(opts.cookieThreshold);
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onDatagram(msg, rinfo));
    socket.on('error', () => {}); // a failed send to one client is that client's problem
    this.tick = setInterval(() => this.onTick(Date.now()), opts.tickMs);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.tick);
      for (const s of [...this.sessions]) {
        s.path.end({ code: PathCloseCode.ListenerClosed, message: 'the listener closed' });
      }
      this.socket.removeAllListeners('message');
      await closeSocket(this.socket);
    })();
    return this.closing;
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    switch (messageType(msg)) {
      case MessageType.Data:
        this.onData(msg, rinfo);
        return;
      case MessageType.Initiation:
        this.onInitiation(msg, rinfo);
        return;
      default:
        this.stats.dropped++;
    }
  }

  private onData(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const session = this.table.get(receiverIndex(msg)!);
    const plaintext = session?.channel.open(msg) ?? null;
    if (session === undefined || plaintext === null) {
      this.stats.dropped++;
      return;
    }
    session.lastReceived = Date.now();
    // Authenticated: answer wherever the client now is (roaming, NAT rebinding).
    const remote = session.path.remote;
    if (remote.port !== rinfo.port || remote.host !== rinfo.address) session.path.remote = { host: rinfo.address, port: rinfo.port };
    if (!session.announced && session.channel.confirmed) {
      session.announced = true;
      this.onPath?.(session.path);
    }
    if (plaintext.length > 0) session.path.deliver(plaintext);
  }

  private onInitiation(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const now = Date.now();
    this.stats.initiations++;
    this.load.record(now);
    const result = this.responder.consumeInitiation(msg, {
      now,
      source: `${rinfo.address}:${rinfo.port}`,
      underLoad: this.load.underLoad(now),
      allocateIndex: () => this.table.freshIndex(),
    });
    switch (result.kind) {
      case 'drop':
        this.stats.dropped++;
        return;
      case 'cookie':
        this.stats.cookieReplies++;
        this.socket.send(result.reply, rinfo.port, rinfo.address);
        return;
      case 'accept': {
        this.stats.handshakes++;
        const replaced = result.replacesIndex === 0 ? undefined : this.table.get(result.replacesIndex);
        if (replaced !== undefined && !replaced.path.isClosed && keysEqual(replaced.channel.peerPublicKey, result.keys.peerPublicKey)) {
          // A rekey of a live path: the new keys wait as `next` until the client uses them.
          replaced.channel.install(result.keys, now);
          this.table.set(result.keys.localIndex, replaced);
        } else {
          this.addSession(result.keys, now, rinfo);
        }
        this.socket.send(result.response, rinfo.port, rinfo.address);
        return;
      }
    }
  }

  private addSession(keys: TransportKeys, now: number, rinfo: dgram.RemoteInfo): void {
    const channel = new SecureChannel(this.crypto, keys, now, {
      limits: this.opts.channelLimits,
      onKeyRetired: (index) => this.table.delete(index),
    });
    // The path's hooks need the session and the session holds the path: tie the knot here.
    let session: ServerSession;
    const path = new UdpPath(this.local, { host: rinfo.address, port: rinfo.port }, segmentLimit('sealed', this.opts.maxPayload), {
      transmit: (segment) => this.sendSealed(session, segment),
      queuedBytes: () => this.socket.getSendQueueSize(),
      release: () => {
        channel.destroy(); // unfiles every index through onKeyRetired
        this.sessions.delete(session);
      },
    });
    session = { channel, path, createdAt: now, lastReceived: now, lastSent: now, announced: false };
    this.table.set(keys.localIndex, session);
    this.sessions.add(session);
  }

  private sendSealed(session: ServerSession, plaintext: Uint8Array): boolean {
    const datagram = sealOrNull(session.channel, plaintext);
    if (datagram === null) return false;
    const remote = session.path.remote;
    this.socket.send(datagram, remote.port, remote.host);
    session.lastSent = Date.now();
    return true;
  }

  private onTick(now: number): void {
    for (const s of [...this.sessions]) {
      if (!s.channel.maintain(now)) {
        s.path.end({ code: PathCloseCode.KeysExpired, message: 'session keys expired without a rekey' });
      } else if (!s.announced && now - s.createdAt >= this.opts.handshakeTimeoutMs) {
        // Answered but never confirmed: forget it without ever having reported it.
        s.path.end({ code: PathCloseCode.PeerGone, message: 'the client never confirmed the session' });
      } else if (now - s.lastReceived >= this.opts.idleTimeoutMs) {
        s.path.end({ code: PathCloseCode.PeerGone, message: `nothing from the client for ${this.opts.idleTimeoutMs} ms` });
      } else if (s.announced && now - s.lastSent >= this.opts.keepaliveMs) {
        this.sendSealed(s, EMPTY);
      }
    }
  }
}
