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
}

export function formatTarget(t: { host: string; port: number }): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

export class ConnectionRegistry {
  private readonly live = new Map<MptcpSocket, LiveConnection & { local: Socket }>();
  /** Bytes of connections that have closed. */
  private readonly closed = { bytesUp: 0, bytesDown: 0 };
  private opened = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Register a spliced pair: `local` is the application's TCP socket (its bytesRead went up
   * the tunnel, its bytesWritten came down), `remote` the tunnel connection.
   */
  add(target: { host: string; port: number }, local: Socket, remote: MptcpSocket): void {
    const entry = { socket: remote, local, target: formatTarget(target), since: this.now() };
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
      this.closed.bytesUp += local.bytesRead;
      this.closed.bytesDown += local.bytesWritten;
      const fields = {
        target: entry.target,
        conn: remote.connectionId,
        bytesUp: local.bytesRead,
        bytesDown: local.bytesWritten,
        durationMs: Math.max(0, this.now() - entry.since),
        reason: reason ?? firstEnd ?? 'closed',
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
    for (const c of this.live.values()) {
      bytesUp += c.local.bytesRead;
      bytesDown += c.local.bytesWritten;
    }
    return { connections: this.opened, bytesUp, bytesDown };
  }
}
