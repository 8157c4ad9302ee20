/**
 * The server side of sealed paths: one socket per listen address, a HandshakeResponder,
 * and the sessions filed by the index the server chose (not by source address, so a
 * client may roam). A datagram that does not authenticate is dropped and allocates
 * nothing; under a flood of initiations the listener answers with stateless cookies.
 * Each session is a PathSession (@mptun/session) under a SessionDriver: a path is
 * reported (onPath) once the client proved its keys with a first datagram. A new path's
 * first segment that rode its initiation goes to onEarlyPath (with the path, not yet up)
 * only once the initiation passed every check, the replay record included; its answer
 * rides the response.
 */
import type dgram from 'node:dgram';
import type { PathLink, TransportAddress } from '@mptun/core';
import {
  HandshakeResponder,
  IndexTable,
  LoadMeter,
  MessageType,
  PathSession,
  SessionDriver,
  cryptoRandomSource,
  messageType,
  receiverIndex,
  type CryptoBackend,
  type InitiationResult,
  type ReplayRecord,
} from '@mptun/session';
import { PathCloseCode } from './errors.js';
import type { UdpListenerStats, UdpPathListener } from './listener-stats.js';
import { requireSealedServer, searchCap, segmentLimit, type ResolvedOptions } from './options.js';
import { closeCodeFor, sessionTimers, setTimer } from './session-timers.js';
import { UdpPath } from './udp-path.js';
import { DatagramBatcher } from './udp-batch.js';
import { bindSocketFd, closeSocket, localAddress, type OpenSocket } from './udp-socket.js';

/** One client path as the server holds it. */
interface ServerSession {
  driver: SessionDriver;
  path: UdpPath;
}

/** A path made before its session (the session's driver and table entry come later). */
interface PendingPath {
  path: UdpPath;
  driver: SessionDriver | null;
  entry?: ServerSession;
}

export async function listenSealed(
  opts: ResolvedOptions,
  crypto: CryptoBackend,
  local: TransportAddress,
  replay: ReplayRecord,
  openSocket?: OpenSocket,
): Promise<UdpPathListener> {
  const { keypair, isAllowed } = requireSealedServer(opts);
  const { socket, fd } = await bindSocketFd(local.host, local.port, opts.socketBufferBytes, openSocket);
  return new SealedListener(opts, crypto, socket, new DatagramBatcher(socket, fd, opts.batchSend, false), new HandshakeResponder(crypto, { staticKeypair: keypair, isAllowed, replay }));
}

class SealedListener implements UdpPathListener {
  readonly local: TransportAddress;
  onPath: ((path: PathLink) => void) | null = null;
  onEarlyPath: ((path: PathLink, segment: Uint8Array) => Uint8Array | null) | null = null;
  readonly stats: UdpListenerStats = { initiations: 0, cookieReplies: 0, handshakes: 0, earlySegments: 0, dropped: 0 };
  private readonly table: IndexTable<ServerSession>;
  private readonly sessions = new Set<ServerSession>();
  private readonly load: LoadMeter;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly crypto: CryptoBackend,
    private readonly socket: dgram.Socket,
    /** Every datagram this listener sends goes through it, so they leave in order. */
    private readonly out: DatagramBatcher,
    private readonly responder: HandshakeResponder,
  ) {
    this.local = localAddress(socket);
    this.table = new IndexTable(cryptoRandomSource(crypto));
    this.load = new LoadMeter(opts.cookieThreshold);
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onDatagram(msg, rinfo));
    socket.on('error', () => {}); // a failed send to one client is that client's problem
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const s of [...this.sessions]) {
        s.path.end({ code: PathCloseCode.ListenerClosed, message: 'the listener closed' });
      }
      this.out.flush();
      this.socket.removeAllListeners('message');
      await closeSocket(this.socket);
    })();
    return this.closing;
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    switch (messageType(msg)) {
      case MessageType.Data:
      case MessageType.Probe:
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
    const plaintext = session?.driver.receive(msg);
    // true: a path MTU probe or its ack, taken by the session.
    if (session === undefined || plaintext === undefined || plaintext === false) {
      this.stats.dropped++;
      return;
    }
    // Authenticated: answer wherever the client now is (roaming, NAT rebinding).
    const remote = session.path.remote;
    if (remote.port !== rinfo.port || remote.host !== rinfo.address) session.path.remote = { host: rinfo.address, port: rinfo.port };
    if (plaintext instanceof Uint8Array && plaintext.length > 0) session.path.deliver(plaintext);
  }

  private onInitiation(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const now = Date.now();
    this.stats.initiations++;
    this.load.record(now);
    // A new path whose first segment rode the initiation: made before its session, so the
    // segment's answer can ride the response.
    let early: PendingPath | null = null;
    const result = this.responder.consumeInitiation(msg, {
      now,
      source: `${rinfo.address}:${rinfo.port}`,
      underLoad: this.load.underLoad(now),
      allocateIndex: () => this.table.freshIndex(),
      answerEarlyData: (segment, peerKey) => {
        const take = this.onEarlyPath;
        if (take === null) return null;
        early = this.newPath(rinfo, peerKey);
        this.stats.earlySegments++;
        try {
          return take(early.path, segment);
        } catch {
          return null; // the segment goes unanswered; the client sends it again once the path is up
        }
      },
    });
    switch (result.kind) {
      case 'drop':
        this.stats.dropped++;
        this.opts.onHandshakeFailure?.(result.reason, { host: rinfo.address, port: rinfo.port });
        return;
      case 'cookie':
        this.stats.cookieReplies++;
        this.out.send(result.reply, rinfo.port, rinfo.address);
        return;
      case 'accept': {
        this.stats.handshakes++;
        const replaced = result.replacesIndex === 0 ? undefined : this.table.get(result.replacesIndex);
        if (replaced !== undefined && !replaced.path.isClosed && replaced.driver.session.acceptRekey(result, now)) {
          // A rekey of a live path: the new keys wait as `next` until the client uses them.
          this.table.set(result.keys.localIndex, replaced);
          replaced.driver.flush(); // sends the response
        } else {
          this.addSession(result, now, early ?? this.newPath(rinfo, result.keys.peerPublicKey));
        }
        return;
      }
    }
  }

  /** A client's path before its session exists: it sends nothing until bound to one (addSession). */
  private newPath(rinfo: dgram.RemoteInfo, peerKey: Uint8Array): PendingPath {
    const pending: PendingPath = { path: null!, driver: null };
    pending.path = new UdpPath(this.local, { host: rinfo.address, port: rinfo.port }, segmentLimit('sealed', this.opts.maxPayload), {
      transmit: (segment) => pending.driver?.send(segment) ?? false,
      queuedBytes: () => this.out.queuedBytes,
      release: () => {
        pending.driver?.close(); // zeroes the keys; unfiles every index through onKeyRetired
        if (pending.entry) this.sessions.delete(pending.entry);
      },
    }, true, searchCap(this.opts, this.socket.getRecvBufferSize()));
    pending.path.peerKey = peerKey.slice();
    return pending;
  }

  private addSession(accepted: Extract<InitiationResult, { kind: 'accept' }>, now: number, pending: PendingPath): void {
    const session = PathSession.responder({
      ...sessionTimers(this.opts),
      crypto: this.crypto,
      accepted,
      onKeyRetired: (index) => this.table.delete(index),
      now,
    });
    const path = pending.path;
    const driver = new SessionDriver(session, {
      now: Date.now,
      setTimer,
      transmit: (message) => this.out.send(message, path.remote.port, path.remote.host),
      onUp: () => this.onPath?.(path),
      // Unconfirmed sessions end here too, never having been reported.
      onDown: (reason, message) => path.end({ code: closeCodeFor(reason), message }),
      onMaxDatagram: (bytes) => path.setMaxSegment(segmentLimit('sealed', bytes)),
    });
    const entry: ServerSession = { driver, path };
    pending.driver = driver;
    pending.entry = entry;
    this.table.set(accepted.keys.localIndex, entry);
    this.sessions.add(entry);
    driver.start(); // sends the response
  }
}
