/**
 * The server side of plain (tcp-in-udp) paths: one PathLink per remote address and port
 * (= one subflow, see plain-path.ts), created by its first well-formed datagram, capped in
 * number, and closed after idleTimeoutMs of silence. Nothing is authenticated here.
 */
import type dgram from 'node:dgram';
import { TallySet, type PathLink, type TransportAddress } from '@mptun/core';
import { PathCloseCode } from './errors.js';
import type { UdpListenerStats, UdpPathListener } from './listener-stats.js';
import { segmentLimit, type ResolvedOptions } from './options.js';
import { receivePlain, sendPlain } from './plain-path.js';
import { UdpPath } from './udp-path.js';
import { bindSocket, closeSocket, localAddress } from './udp-socket.js';

interface PlainSession {
  path: UdpPath;
  lastReceived: number;
}

export async function listenPlain(opts: ResolvedOptions, local: TransportAddress): Promise<UdpPathListener> {
  return new PlainListener(opts, await bindSocket(local.host, local.port, opts.socketBufferBytes));
}

class PlainListener implements UdpPathListener {
  readonly local: TransportAddress;
  onPath: ((path: PathLink) => void) | null = null;
  readonly stats: UdpListenerStats = { initiations: 0, cookieReplies: 0, handshakes: 0, earlySegments: 0, dropped: 0 };
  private readonly sessions = new Map<string, PlainSession>();
  /** Paths filed by remote address: one host's source ports cannot fill the table. */
  private readonly bySource = new TallySet<string>();
  private readonly tick: NodeJS.Timeout;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly socket: dgram.Socket,
  ) {
    this.local = localAddress(socket);
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onDatagram(msg, rinfo));
    socket.on('error', () => {});
    this.tick = setInterval(() => this.onTick(Date.now()), opts.tickMs);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.tick);
      for (const s of [...this.sessions.values()]) s.path.end({ code: PathCloseCode.ListenerClosed, message: 'the listener closed' });
      this.socket.removeAllListeners('message');
      await closeSocket(this.socket);
    })();
    return this.closing;
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const segment = receivePlain(msg, rinfo.port, this.local.port);
    if (segment === null) {
      this.stats.dropped++;
      return;
    }
    const key = `${rinfo.address}|${rinfo.port}`;
    let session = this.sessions.get(key);
    if (session === undefined) {
      if (this.sessions.size >= this.opts.maxPlainPaths || this.bySource.count(rinfo.address) >= this.opts.maxPlainPathsPerSource) {
        this.stats.dropped++;
        return;
      }
      this.bySource.add(key, [rinfo.address]);
      const remote = { host: rinfo.address, port: rinfo.port };
      const path = new UdpPath(this.local, remote, segmentLimit('plain', this.opts.maxPayload), {
        transmit: (s) => sendPlain(this.socket, s, this.local, remote, false),
        queuedBytes: () => this.socket.getSendQueueSize(),
        release: () => {
          this.sessions.delete(key);
          this.bySource.delete(key);
        },
      }, false);
      session = { path, lastReceived: 0 };
      this.sessions.set(key, session);
      this.onPath?.(path);
    }
    session.lastReceived = Date.now();
    session.path.deliver(segment);
  }

  private onTick(now: number): void {
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastReceived >= this.opts.idleTimeoutMs) {
        s.path.end({ code: PathCloseCode.PeerGone, message: `nothing from the client for ${this.opts.idleTimeoutMs} ms` });
      }
    }
  }
}
