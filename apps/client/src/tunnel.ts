/**
 * One proxied TCP connection = one MPTCP connection: the tunnel request rides the SYN, the
 * server's reply says whether the target was reached, then bytes flow both ways.
 */
import type { Socket } from 'node:net';
import { bridge, TunnelStatus, type Logger, type TunnelTarget } from '@mptun/tunnel-common';
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
 * A draining server's refusal (DRAINING) is retried this many times, each over paths dialled
 * afresh (tunnel-attempt.ts), after a jittered wait that grows from DRAINING_RETRY_MS: a
 * balancer that hashes on the source port sends each try to a server picked anew, so with
 * one of three servers draining eight tries all land on it about once in 6,500 requests.
 * The jitter keeps the clients of one drained server from returning in step.
 */
export const DRAINING_RETRIES = 8;
export const DRAINING_RETRY_MS = 50;

/** The wait before the `n`th retry after a DRAINING refusal (1-based): 0.5 to 1.5 times 50·2^(n-1) ms, at most 1.2 s. */
export function drainingRetryDelay(n: number, random: () => number = Math.random): number {
  return Math.min(800, DRAINING_RETRY_MS * 2 ** (n - 1)) * (0.5 + random());
}

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
  opts: { replyTimeoutMs: number; retryAfterMs?: number; onSocket?: (s: MptcpSocket) => void; zeroRtt?: boolean; seal?: (request: Uint8Array) => Uint8Array; early?: Buffer; logger?: Logger },
): Promise<TunnelResult> {
  return new Promise((resolve) => {
    const attempts: TunnelAttempt[] = [];
    let done = false;
    let drained = 0;
    let retry: NodeJS.Timeout | undefined;
    let again: NodeJS.Timeout | undefined;
    const finish = (r: TunnelResult, winner: TunnelAttempt | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      clearTimeout(retry);
      clearTimeout(again);
      for (const a of attempts) if (a !== winner) a.cancel();
      resolve(r);
    };
    const start = (): void => {
      const a = attemptTunnel(client, target, opts, ({ replied, ...result }) => {
        if (result.status === TunnelStatus.DRAINING && drained < DRAINING_RETRIES) {
          // Turned away by a draining server: the others in flight may still win; if none
          // is, try once more over fresh paths (a new server, if the balancer agrees).
          attempts.splice(attempts.indexOf(a), 1);
          drained++;
          if (attempts.length > 0) return;
          const wait = drainingRetryDelay(drained);
          opts.logger?.info('server draining: dialling the balancer again from a fresh port', { target: `${target.host}:${target.port}`, retry: drained, waitMs: Math.round(wait) });
          again = setTimeout(() => {
            start();
            armRetry();
          }, wait);
          return;
        }
        // A reply (OK or a refusal) settles it; a lost connection waits for the others.
        if (replied || attempts.every((x) => x.failed)) finish(result, a);
      });
      attempts.push(a);
    };
    // A request still unacknowledged after retryAfterMs goes out once more on a new connection.
    const armRetry = (): void => {
      clearTimeout(retry);
      retry = setTimeout(() => {
        if (!done && attempts.length > 0 && attempts.every((x) => !x.acknowledged)) start();
      }, opts.retryAfterMs ?? RETRY_UNACKNOWLEDGED_MS);
    };
    const timeout = setTimeout(() => finish({ status: TunnelStatus.TIMEOUT, reason: 'no reply from the server in time' }, null), opts.replyTimeoutMs);
    start();
    armRetry();
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
 * Relay a local TCP socket and its tunnel connection both ways (bridge(): backpressure, a
 * half-close carried across as end → DATA_FIN and back, either side's failure tearing down
 * both). The connection table (connections.ts) logs how it ended.
 */
export function splice(local: Socket, remote: MptcpSocket): void {
  void bridge({ stream: local, name: 'application' }, { stream: remote, name: 'tunnel' });
}
