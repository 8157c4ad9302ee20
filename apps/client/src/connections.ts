/**
 * The client's live tunnel connections: every SOCKS5 or forwarded connection the tunnel
 * accepted is registered here with its target, so the status page lists it and a log line
 * sums it up when it closes (target, bytes each way, duration, why it ended).
 */
import type { Socket } from 'node:net';
import type { MptcpSocket } from '@mptun/node';
import type { Logger } from '@mptun/tunnel-common';

export interface LiveConnection {
  socket: MptcpSocket;
  target: string;
  since: number;
}

export interface ConnectionTotals {
  connections: number;
  bytesUp: number;
  bytesDown: number;
  /** Upload bytes held now: read from applications and not yet acknowledged by the server. */
  bufferedUpBytes: number;
  /** Of those, the bytes the tunnel connections took and the server has not acknowledged (their send buffers). */
  unacknowledgedUpBytes: number;
}

export function formatTarget(t: { host: string; port: number }): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** Payload bytes each way per local → server address pair, over the connection's subflows. */
export function perPath(socket: MptcpSocket): Array<{ local: string; remote: string; bytesUp: number; bytesDown: number }> {
  const out = new Map<string, { local: string; remote: string; bytesUp: number; bytesDown: number }>();
  const subflows = socket.isBound ? socket.subflowHistory() : [];
  for (const f of subflows) {
    const local = compactHost(f.localAddress);
    const remote = compactHost(f.remoteAddress);
    const key = `${local}|${remote}`;
    const p = out.get(key) ?? { local, remote, bytesUp: 0, bytesDown: 0 };
    p.bytesUp += f.bytesSent - f.bytesRetransmitted;
    p.bytesDown += f.bytesReceived;
    out.set(key, p);
  }
  return [...out.values()];
}

/** An IPv6 address in its short form ("::1", not "0:0:0:0:0:0:0:1"); others unchanged. */
export function compactHost(host: string): string {
  return host.includes(':') ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}

export class ConnectionRegistry {
  private readonly live = new Map<MptcpSocket, LiveConnection & { local: Socket; up(): number; down(): number }>();
  /** Bytes of connections that have closed. */
  private readonly closed = { bytesUp: 0, bytesDown: 0 };
  private opened = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Register a pair about to be spliced: `local` is the application's TCP socket (what it
   * reads from now on goes up the tunnel, what it writes came down), `remote` the tunnel
   * connection. `early` counts bytes already read past the handshake that go up too.
   */
  add(target: { host: string; port: number }, local: Socket, remote: MptcpSocket, early = 0): void {
    // The SOCKS5 handshake is not the connection's payload: count from here.
    const base = { read: local.bytesRead - early, written: local.bytesWritten };
    const up = (): number => local.bytesRead - base.read;
    const down = (): number => local.bytesWritten - base.written;
    const entry = { socket: remote, local, target: formatTarget(target), since: this.now(), up, down };
    this.live.set(remote, entry);
    this.opened++;
    let reason: string | null = null;
    let firstEnd: string | null = null;
    const note = (why: string) => (err?: Error) => {
      reason ??= err ? `${why}: ${(err as NodeJS.ErrnoException).code ?? err.message}` : null;
    };
    local.once('error', note('application socket error'));
    remote.once('error', note('tunnel error'));
    local.once('end', () => (firstEnd ??= 'application closed'));
    remote.once('end', () => (firstEnd ??= 'target closed'));
    let pending = 2;
    const done = (): void => {
      if (--pending > 0) return;
      this.live.delete(remote);
      this.closed.bytesUp += up();
      this.closed.bytesDown += down();
      const fields = {
        target: entry.target,
        conn: remote.connectionId,
        bytesUp: up(),
        bytesDown: down(),
        durationMs: Math.max(0, this.now() - entry.since),
        reason: reason ?? firstEnd ?? 'closed',
        paths: perPath(remote),
      };
      if (reason) this.log.warn('connection closed', fields);
      else this.log.info('connection closed', fields);
    };
    local.once('close', done);
    remote.once('close', done);
  }

  list(): LiveConnection[] {
    return [...this.live.values()].map(({ socket, target, since }) => ({ socket, target, since }));
  }

  totals(): ConnectionTotals {
    let bytesUp = this.closed.bytesUp;
    let bytesDown = this.closed.bytesDown;
    let bufferedUpBytes = 0;
    let unacknowledgedUpBytes = 0;
    for (const c of this.live.values()) {
      bytesUp += c.up();
      bytesDown += c.down();
      // Read from the application's socket and not yet written on, plus what the tunnel holds.
      bufferedUpBytes += c.local.readableLength + c.socket.uploadBuffered;
      unacknowledgedUpBytes += c.socket.isBound ? c.socket.connection.bufferedBytes : 0;
    }
    return { connections: this.opened, bytesUp, bytesDown, bufferedUpBytes, unacknowledgedUpBytes };
  }
}
