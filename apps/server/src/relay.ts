/**
 * One relayed connection: read the tunnel request, apply the policy, connect to the target
 * over TCP, answer, then relay both ways with backpressure until either side ends (bridge.ts).
 */
import { connect as tcpConnect, type NetConnectOpts, type Socket } from 'node:net';
import { bridge, decodeTunnelRequest, encodeTunnelReply, TunnelHeaderError, TunnelStatus, type Logger, type TunnelTarget } from '@mptun/tunnel-common';
import { PLAIN_PROOF_BYTES, type MptcpSocket, type PlainProofVerifier } from '@mptun/node';
import type { ServerLimits } from './config.js';
import type { TargetPolicy } from './policy.js';
import { tunnelBuffers } from './tunnel-memory.js';
import type { ServerStats } from './stats.js';

export const REFUSAL_NAMES: Record<number, string> = {
  [TunnelStatus.NOT_ALLOWED]: 'not_allowed',
  [TunnelStatus.HOST_UNREACHABLE]: 'host_unreachable',
  [TunnelStatus.CONNECTION_REFUSED]: 'connection_refused',
  [TunnelStatus.GENERAL_FAILURE]: 'general_failure',
  [TunnelStatus.TIMEOUT]: 'timeout',
  [TunnelStatus.BUSY]: 'busy',
  [TunnelStatus.BAD_REQUEST]: 'bad_request',
  [TunnelStatus.DRAINING]: 'draining',
};

export interface RelayContext {
  limits: ServerLimits;
  policy: TargetPolicy;
  stats: ServerStats;
  log: Logger;
  /** Connections that came over a udp-plain listener must prove their client key (plain-proof.ts). */
  plain?: { isPlain(socket: MptcpSocket): boolean; verifier: PlainProofVerifier };
}

/** Map a TCP connect error onto a tunnel status (RFC 1928 §6 meanings). */
export function statusForConnectError(code: string | undefined): number {
  switch (code) {
    case 'ECONNREFUSED':
      return TunnelStatus.CONNECTION_REFUSED;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return TunnelStatus.HOST_UNREACHABLE;
    case 'ETIMEDOUT':
      return TunnelStatus.TIMEOUT;
    default:
      return TunnelStatus.GENERAL_FAILURE;
  }
}

/** Answer a refusal, count it, and end the MPTCP connection. */
export function refuse(ctx: RelayContext, socket: MptcpSocket, status: number, reason: string): void {
  const name = REFUSAL_NAMES[status] ?? 'general_failure';
  ctx.stats.refused[name] = (ctx.stats.refused[name] ?? 0) + 1;
  ctx.log.warn('connection refused', { reason: name, detail: reason, conn: socket.connectionId });
  socket.end(encodeTunnelReply(status, reason));
}

/** Why a tunnel request never came whole: the `reason` of mptun_tunnel_request_failures_total. */
export type RequestFailure = 'malformed' | 'timeout' | 'ended';

const failing = (failure: RequestFailure, e: unknown): Error & { failure: RequestFailure } => Object.assign(e as Error, { failure });

interface ReadRequest {
  target: TunnelTarget;
  /** The request's own bytes (a plain-path proof covers them). */
  request: Buffer;
  /** The `trailerBytes` after the request, or fewer if the connection ended or timed out first. */
  trailer: Buffer;
  rest: Buffer;
}

/**
 * Wait for the whole tunnel request and `trailerBytes` more (a plain-path proof); resolves
 * with them and any bytes that followed.
 */
function readRequest(socket: MptcpSocket, timeoutMs: number, trailerBytes: number): Promise<ReadRequest> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let requestLength = 0;
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
    };
    const finish = (target: TunnelTarget): void => {
      done();
      const trailerEnd = Math.min(buf.length, requestLength + trailerBytes);
      resolve({ target, request: buf.subarray(0, requestLength), trailer: buf.subarray(requestLength, trailerEnd), rest: buf.subarray(trailerEnd) });
    };
    let decoded: TunnelTarget | null = null;
    const onData = (d: Buffer): void => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      try {
        const r = decoded ? null : decodeTunnelRequest(buf);
        if (r) {
          decoded = r.target;
          requestLength = r.length;
        }
        // A request is at most 263 bytes and the trailer fixed, so this cannot grow without bound.
        if (decoded && buf.length >= requestLength + trailerBytes) finish(decoded);
      } catch (e) {
        done();
        reject(failing('malformed', e));
      }
    };
    // A request without its whole trailer still resolves: the proof check says what is missing.
    const onEnd = (): void => {
      if (decoded) return finish(decoded);
      done();
      reject(failing('ended', new TunnelHeaderError('ERR_MPTUN_TUNNEL_HEADER', 'the connection ended before the tunnel request')));
    };
    const timer = setTimeout(() => {
      if (decoded) return finish(decoded);
      done();
      reject(failing('timeout', new TunnelHeaderError('ERR_MPTUN_TUNNEL_HEADER', `no tunnel request within ${timeoutMs} ms`)));
    }, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

function openTarget(address: string, port: number, limits: ServerLimits): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: a target that sends its last bytes and closes must not make Node end our
    // side at once, or the relay would tear the tunnel down before those bytes are out.
    // The marks leave room for one read here and one in the MPTCP socket within maxBufferedBytes (tunnel-memory.ts).
    const mark = tunnelBuffers(limits).targetHighWaterMark;
    const s = tcpConnect({ host: address, port, allowHalfOpen: true, readableHighWaterMark: mark, writableHighWaterMark: mark } as unknown as NetConnectOpts);
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`connect timed out after ${limits.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, limits.connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Serve one MPTCP connection to its end. Resolves when both pipes are done (never rejects).
 * `onTarget` receives the TCP socket so a shutdown can destroy it.
 */
export async function relay(ctx: RelayContext, socket: MptcpSocket, onTarget: (s: Socket) => void): Promise<void> {
  const log = ctx.log.child({ conn: socket.connectionId });
  const plain = ctx.plain?.isPlain(socket) === true;
  let req: ReadRequest;
  try {
    req = await readRequest(socket, ctx.limits.headerTimeoutMs, plain ? PLAIN_PROOF_BYTES : 0);
  } catch (e) {
    const failure = (e as { failure?: RequestFailure }).failure ?? 'malformed';
    ctx.stats.headerFailures[failure] = (ctx.stats.headerFailures[failure] ?? 0) + 1;
    refuse(ctx, socket, TunnelStatus.BAD_REQUEST, (e as Error).message);
    return;
  }
  if (plain) {
    const proof = ctx.plain!.verifier.verify(req.request, req.trailer, Date.now());
    if (!proof.ok) {
      ctx.stats.handshakeFailures[proof.reason] = (ctx.stats.handshakeFailures[proof.reason] ?? 0) + 1;
      log.warn('plain-path connection without a valid client key proof', { why: proof.reason });
      refuse(ctx, socket, TunnelStatus.NOT_ALLOWED, 'client key not proven (udp-plain needs the client key and server key)');
      return;
    }
  }
  const { host, port } = req.target;
  const decision = await ctx.policy.check(host, port);
  if (!decision.allowed) {
    if (decision.unresolved) refuse(ctx, socket, TunnelStatus.HOST_UNREACHABLE, decision.reason);
    else {
      log.warn('target denied by policy (default deny)', { target: `${host}:${port}`, why: decision.reason });
      refuse(ctx, socket, TunnelStatus.NOT_ALLOWED, 'target not allowed by server policy');
    }
    return;
  }
  let target: Socket;
  try {
    target = await openTarget(decision.address, port, ctx.limits);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    refuse(ctx, socket, statusForConnectError(err.code), `${host}:${port}: ${err.code ?? err.message}`);
    return;
  }
  if (socket.destroyed) {
    target.destroy();
    return;
  }
  onTarget(target);
  // earlyBytes: application bytes that came with the request (the client's early data).
  log.info('relaying', { target: `${host}:${port}`, address: decision.address, rule: decision.rule, earlyBytes: req.rest.length });
  socket.write(encodeTunnelReply(TunnelStatus.OK));
  // No bytes either way for idleTimeoutMs: a TCP socket's timeout counts reads and writes.
  target.setTimeout(ctx.limits.idleTimeoutMs, () => {
    log.info('idle timeout', { target: `${host}:${port}` });
    target.destroy();
    socket.destroy();
  });
  if (req.rest.length > 0) socket.unshift(req.rest);
  const since = Date.now();
  const { failure, firstEnded } = await bridge(
    { stream: socket, name: 'client', count: (n) => (ctx.stats.bytesUp += n) },
    { stream: target, name: 'target', count: (n) => (ctx.stats.bytesDown += n) },
  );
  // One line per relayed connection: bytes are what the target sent and received.
  const reason = failure ?? (firstEnded ? `${firstEnded} closed` : 'closed');
  const fields = { target: `${host}:${port}`, bytesUp: target.bytesWritten, bytesDown: target.bytesRead, durationMs: Date.now() - since, reason };
  if (failure) log.warn('connection closed', fields);
  else log.info('connection closed', fields);
}
