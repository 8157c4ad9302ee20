/**
 * The first bytes a local application sends right after it connects. They ride the tunnel
 * request, and with it the SYN (RFC 8684 §3.1 allows data there once the key is known, as
 * TCP Fast Open does, RFC 7413), so the target's answer comes one round trip to the server
 * after the connect instead of two.
 */
import type { Socket } from 'node:net';

/**
 * How long to wait for them. A client speaks at once (HTTP, TLS) or not at all until the
 * server has (SMTP, some databases); the latter lose only this much.
 */
export const EARLY_DATA_WAIT_MS = 10;

/**
 * Resolves with the socket's first chunk, or an empty buffer after `waitMs` (or when the
 * socket ends or closes first). The socket is paused again afterwards; an end already read
 * is still passed on by the later bridge().
 */
export function readEarlyData(socket: Socket, waitMs = EARLY_DATA_WAIT_MS): Promise<Buffer> {
  return new Promise((resolve) => {
    const finish = (data: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', finish);
      socket.off('end', none);
      socket.off('close', none);
      socket.pause();
      resolve(data);
    };
    const none = (): void => finish(Buffer.alloc(0));
    const timer = setTimeout(none, waitMs);
    socket.on('data', finish);
    socket.once('end', none);
    socket.once('close', none);
    socket.resume();
  });
}
