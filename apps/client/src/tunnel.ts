/**
 * One proxied TCP connection = one MPTCP connection: the tunnel request rides the SYN, the
 * server's reply says whether the target was reached, then bytes flow both ways.
 */
import type { Socket } from 'node:net';
import { decodeTunnelReply, encodeTunnelRequest, TunnelStatus, type TunnelTarget } from '@mptun/cli';
import type { MptcpClient, MptcpSocket } from '@mptun/node';

export interface TunnelResult {
  status: number;
  reason: string;
  /** Present when status is OK: the connection, with any bytes after the reply unshifted. */
  socket?: MptcpSocket;
}

/** Opens tunnel connections; the app counts them for shutdown and path changes. */
export type TunnelOpener = (target: TunnelTarget) => Promise<TunnelResult>;

/**
 * Whether the request rides the SYN (connect({ data })), so a proxied connection costs one
 * round trip to its first byte, as RFC 8803's convert protocol intends.
 */
export const ZERO_RTT_DEFAULT = true;

/** Longest reply the header allows: 3 bytes and a 255-byte reason. */
const MAX_REPLY_BYTES = 3 + 255;

export function openTunnel(
  client: MptcpClient,
  target: TunnelTarget,
  opts: { replyTimeoutMs: number; onSocket?: (s: MptcpSocket) => void; zeroRtt?: boolean },
): Promise<TunnelResult> {
  return new Promise((resolve) => {
    let socket: MptcpSocket;
    try {
      const request = encodeTunnelRequest(target);
      if (opts.zeroRtt ?? ZERO_RTT_DEFAULT) socket = client.connect({ data: request });
      else {
        // The request is the first write: it leaves with the first segment after the handshake.
        socket = client.connect();
        socket.write(request);
      }
    } catch (err) {
      resolve({ status: TunnelStatus.GENERAL_FAILURE, reason: errorText(err) });
      return;
    }
    opts.onSocket?.(socket);
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (r: TunnelResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (r.socket) {
        socket.pause();
        resolve(r);
      } else {
        socket.destroy();
        resolve(r);
      }
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      let reply;
      try {
        reply = decodeTunnelReply(buffered);
      } catch (err) {
        finish({ status: TunnelStatus.GENERAL_FAILURE, reason: `bad reply from server: ${errorText(err)}` });
        return;
      }
      if (!reply) {
        if (buffered.length > MAX_REPLY_BYTES) finish({ status: TunnelStatus.GENERAL_FAILURE, reason: 'oversized reply from server' });
        return;
      }
      const rest = buffered.subarray(reply.length);
      if (reply.status !== TunnelStatus.OK) {
        finish({ status: reply.status, reason: reply.reason });
        return;
      }
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      finish({ status: reply.status, reason: reply.reason, socket });
    };
    const onError = (err: unknown): void => finish({ status: TunnelStatus.GENERAL_FAILURE, reason: errorText(err) });
    const onEnd = (): void => finish({ status: TunnelStatus.GENERAL_FAILURE, reason: 'the server closed the connection before replying' });
    const timer = setTimeout(() => finish({ status: TunnelStatus.TIMEOUT, reason: 'no reply from the server in time' }), opts.replyTimeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
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

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
