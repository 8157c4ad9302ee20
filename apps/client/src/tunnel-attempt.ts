/**
 * One try at a tunnel: an MPTCP connection carrying the tunnel request, read until the
 * server's reply. openTunnel (tunnel.ts) may run two of these for one request.
 */
import { decodeTunnelReply, encodeTunnelRequest, TunnelStatus, type TunnelTarget } from '@mptun/tunnel-common';
import type { MptcpClient, MptcpSocket } from '@mptun/node';
import type { TunnelResult } from './tunnel.js';

/**
 * Whether the request rides the SYN (connect({ data })), so a proxied connection costs one
 * round trip to its first byte, as RFC 8803's convert protocol intends.
 */
export const ZERO_RTT_DEFAULT = true;

/** Longest reply the header allows: 3 bytes and a 255-byte reason. */
const MAX_REPLY_BYTES = 3 + 255;

export interface TunnelAttempt {
  /** The server acknowledged the request at the data level: it has it. */
  readonly acknowledged: boolean;
  /** Ended without a reply (the connection failed or closed). */
  readonly failed: boolean;
  /** Reset the connection unless it was handed over in a result. */
  cancel(): void;
}

/** `replied` says whether the server answered (OK or a refusal) rather than the connection failing. */
export type AttemptOutcome = TunnelResult & { replied: boolean };

export function attemptTunnel(
  client: MptcpClient,
  target: TunnelTarget,
  opts: { onSocket?: (s: MptcpSocket) => void; zeroRtt?: boolean; seal?: (request: Uint8Array) => Uint8Array; early?: Buffer },
  onOutcome: (r: AttemptOutcome) => void,
): TunnelAttempt {
  let socket: MptcpSocket | null = null;
  let settled = false;
  let failed = false;
  let handedOver = false;
  let buffered: Buffer = Buffer.alloc(0);
  const detach = (): void => {
    socket?.off('data', onData);
    socket?.off('error', onError);
    socket?.off('end', onEnd);
    socket?.off('close', onEnd);
  };
  const settle = (r: AttemptOutcome): void => {
    if (settled) return;
    settled = true;
    detach();
    if (r.socket) {
      handedOver = true; // paused by onData before the rest of the reply was unshifted
    } else {
      failed = !r.replied;
      socket?.destroy();
    }
    onOutcome(r);
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    let reply;
    try {
      reply = decodeTunnelReply(buffered);
    } catch (err) {
      settle({ status: TunnelStatus.GENERAL_FAILURE, reason: `bad reply from server: ${errorText(err)}`, replied: true });
      return;
    }
    if (!reply) {
      if (buffered.length > MAX_REPLY_BYTES) settle({ status: TunnelStatus.GENERAL_FAILURE, reason: 'oversized reply from server', replied: true });
      return;
    }
    if (reply.status === TunnelStatus.DRAINING) {
      // The server behind the balancer is draining: the paths that reached it are set aside
      // so that the retry (openTunnel) dials the balancer from fresh source ports.
      client.leaveServerOf(socket!);
    }
    if (reply.status !== TunnelStatus.OK) {
      settle({ status: reply.status, reason: reply.reason, replied: true });
      return;
    }
    const rest = buffered.subarray(reply.length);
    socket!.pause();
    if (rest.length > 0) socket!.unshift(rest);
    settle({ status: reply.status, reason: reply.reason, socket: socket!, replied: true });
  };
  const onError = (err: unknown): void => settle({ status: TunnelStatus.GENERAL_FAILURE, reason: errorText(err), replied: false });
  const onEnd = (): void => settle({ status: TunnelStatus.GENERAL_FAILURE, reason: 'the server closed the connection before replying', replied: false });

  try {
    // On plain paths the request carries the client's key proof, made fresh for each attempt.
    const plainRequest = encodeTunnelRequest(target);
    const sealed = opts.seal ? opts.seal(plainRequest) : plainRequest;
    // The application's first bytes follow the request (and its proof): the server relays
    // whatever comes after them once the target is connected.
    const request = opts.early && opts.early.length > 0 ? Buffer.concat([sealed, opts.early]) : sealed;
    if (opts.zeroRtt ?? ZERO_RTT_DEFAULT) socket = client.connect({ data: request });
    else {
      // The request is the first write: it leaves with the first segment after the handshake.
      socket = client.connect();
      socket.write(request);
    }
  } catch (err) {
    // Reported after the caller holds the attempt, as every other outcome is.
    queueMicrotask(() => settle({ status: TunnelStatus.GENERAL_FAILURE, reason: errorText(err), replied: false }));
  }
  if (socket) {
    opts.onSocket?.(socket);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  }
  return {
    get acknowledged() {
      return socket !== null && socket.bytesAcknowledged > 0;
    },
    get failed() {
      return failed;
    },
    cancel() {
      if (handedOver) return;
      settled = true;
      detach();
      socket?.destroy();
    },
  };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
