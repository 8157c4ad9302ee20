/**
 * One proxied TCP connection = one MPTCP connection: the tunnel request rides the SYN, the
 * server's reply says whether the target was reached, then bytes flow both ways.
 */
import type { Socket } from 'node:net';
import { TunnelStatus, type Logger, type TunnelTarget } from '@mptun/tunnel-common';
import type { MptcpClient, MptcpSocket } from '@mptun/node';
import type { ConnectionRegistry } from './connections.js';
import { attemptTunnel, type TunnelAttempt } from './tunnel-attempt.js';

export interface TunnelResult {
  status: number;
  reason: string;
  /** Present when status is OK: the connection, with any bytes after the reply unshifted. */
  socket?: MptcpSocket;
}

/**
 * Opens tunnel connections; the app counts them for shutdown and path changes. `early`: the
 * application's first bytes, sent with the request (see early-data.ts).
 */
export type TunnelOpener = (target: TunnelTarget, early?: Buffer) => Promise<TunnelResult>;

/**
 * How long a request may go unacknowledged before a second connection carries it again. A
 * path can die right after the handshake: the connection is up, but the request (and the
 * key the server needs before any other path may join, RFC 8684 §3.2) is stuck behind it.
 */
export const RETRY_UNACKNOWLEDGED_MS = 2_000;

/**
 * Open a tunnel connection and wait for the server's reply. If the request is still
 * unacknowledged after `retryAfterMs`, the same request goes out once more on a new
 * connection (whose first path skips paths gone quiet) and the first reply wins; the other
 * connection is reset. Repeating is safe then: the server either never saw the request or
 * only dialled the target, and the loser's target connection is closed with it. Early bytes
 * go with each try; like TCP Fast Open's (RFC 7413 §6.3.2), they may then have reached the
 * target on the loser's connection too, before it was closed.
 */
export function openTunnel(
  client: MptcpClient,
  target: TunnelTarget,
  opts: { replyTimeoutMs: number; retryAfterMs?: number; onSocket?: (s: MptcpSocket) => void; zeroRtt?: boolean; seal?: (request: Uint8Array) => Uint8Array; early?: Buffer },
): Promise<TunnelResult> {
  return new Promise((resolve) => {
    const attempts: TunnelAttempt[] = [];
    let done = false;
    const finish = (r: TunnelResult, winner: TunnelAttempt | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      clearTimeout(retry);
      for (const a of attempts) if (a !== winner) a.cancel();
      resolve(r);
    };
    const start = (): void => {
      const a = attemptTunnel(client, target, opts, ({ replied, ...result }) => {
        // A reply (OK or a refusal) settles it; a lost connection waits for the others.
        if (replied || attempts.every((x) => x.failed)) finish(result, a);
      });
      attempts.push(a);
    };
    const timeout = setTimeout(() => finish({ status: TunnelStatus.TIMEOUT, reason: 'no reply from the server in time' }, null), opts.replyTimeoutMs);
    const retry = setTimeout(() => {
      if (!done && attempts.every((a) => !a.acknowledged)) start();
    }, opts.retryAfterMs ?? RETRY_UNACKNOWLEDGED_MS);
    start();
  });
}

/**
 * Hand `local` to its tunnel once nothing but a reset can tell it of a refusal any more (a
 * port forward, or SOCKS after an early reply): a refusal resets it, logged as `refused` with
 * `label` for the target; an
 * open tunnel is registered (`early`: its first bytes, already read from `local`) and spliced.
 * True when spliced.
 */
export function spliceOrReset(
  local: Socket,
  result: TunnelResult,
  how: { target: TunnelTarget; label: string; early: number; refused: string; logger?: Logger | undefined; connections?: ConnectionRegistry | undefined },
): boolean {
  if (local.destroyed) {
    result.socket?.destroy();
    return false;
  }
  if (result.status !== TunnelStatus.OK || !result.socket) {
    how.logger?.warn(how.refused, { target: how.label, status: result.status, reason: result.reason });
    local.resetAndDestroy();
    return false;
  }
  how.connections?.add(how.target, local, result.socket, how.early);
  splice(local, result.socket);
  return true;
}

/**
 * Pipe a local TCP socket and a tunnel connection both ways, with backpressure (pipe).
 * A half-close travels across (end → DATA_FIN and back); an error on either side tears
 * down both.
 */
export function splice(local: Socket, remote: MptcpSocket): void {
  const abort = (): void => {
    if (!local.destroyed) local.destroy();
    if (!remote.destroyed) remote.destroy();
  };
  local.on('error', abort);
  remote.on('error', abort);
  // The tunnel went away without finishing its stream: the local side cannot go on.
  remote.on('close', () => {
    if (!remote.readableEnded) abort();
    else if (!local.writableEnded) local.end();
  });
  local.on('close', (hadError) => {
    if (hadError || !local.readableEnded) abort();
  });
  local.pipe(remote);
  remote.pipe(local);
  remote.resume();
  local.resume();
}
