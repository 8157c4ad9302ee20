/**
 * WebSocket close codes this transport sends, and how a received one becomes the
 * `PathCloseInfo` the driver sees. RFC 6455 §7.4.1 defines 1000–1015; §7.4.2 leaves
 * 4000–4999 to applications, where our own reasons live.
 */
import type { PathCloseInfo } from '@mptun/core';

export const WsCloseCode = {
  /** RFC 6455 §7.4.1: the path was closed on purpose. */
  NORMAL: 1000,
  /** RFC 6455 §7.4.1: the server is shutting down. */
  GOING_AWAY: 1001,
  /** RFC 6455 §7.4.1: a frame broke the protocol (ws sends this by itself). */
  PROTOCOL_ERROR: 1002,
  /** RFC 6455 §7.4.1: a text message arrived; we carry binary messages only. */
  UNSUPPORTED_DATA: 1003,
  /** RFC 6455 §7.4.1: no close frame arrived (reserved: never sent, only observed). */
  ABNORMAL: 1006,
  /** RFC 6455 §7.4.1: a message exceeded maxPayload (ws sends this by itself). */
  MESSAGE_TOO_BIG: 1009,
  /** The key exchange did not complete in time. */
  HANDSHAKE_TIMEOUT: 4001,
  /** The peer stopped answering pings. */
  PEER_GONE: 4002,
  /** The key exchange failed: unknown client, wrong server key, malformed handshake. */
  HANDSHAKE_FAILED: 4003,
  /** A message failed authentication or was malformed after the handshake. */
  BAD_MESSAGE: 4004,
  /** The session keys aged out and were not renewed. */
  KEYS_EXPIRED: 4005,
  /** Segments piled up on a path whose owner never set onSegment. */
  UNREAD_OVERFLOW: 4006,
} as const;

export type WsCloseCodeValue = (typeof WsCloseCode)[keyof typeof WsCloseCode];

/** The stable path-close code for a WebSocket close code, seen from either side. */
export function pathCloseCode(wsCode: number): string {
  switch (wsCode) {
    case WsCloseCode.NORMAL:
    case WsCloseCode.GOING_AWAY:
      return 'ERR_MPTUN_PATH_CLOSED';
    case WsCloseCode.PROTOCOL_ERROR:
    case WsCloseCode.UNSUPPORTED_DATA:
    case WsCloseCode.BAD_MESSAGE:
    case WsCloseCode.UNREAD_OVERFLOW:
      return 'ERR_MPTUN_PROTOCOL';
    case WsCloseCode.MESSAGE_TOO_BIG:
      return 'ERR_MPTUN_MESSAGE_TOO_BIG';
    case WsCloseCode.HANDSHAKE_TIMEOUT:
      return 'ERR_MPTUN_HANDSHAKE_TIMEOUT';
    case WsCloseCode.HANDSHAKE_FAILED:
      return 'ERR_MPTUN_HANDSHAKE_REJECTED';
    case WsCloseCode.KEYS_EXPIRED:
      return 'ERR_MPTUN_KEYS_EXPIRED';
    case WsCloseCode.PEER_GONE:
    case WsCloseCode.ABNORMAL:
      return 'ERR_MPTUN_PEER_GONE';
    default:
      return 'ERR_MPTUN_PATH_CLOSED';
  }
}

/** A PathCloseInfo for a close we observed, keeping the WebSocket code in the message. */
export function closeInfoFromWs(wsCode: number, reason: string, bySelf: boolean): PathCloseInfo {
  const who = bySelf ? 'closed locally' : 'closed by peer';
  const why = reason.length > 0 ? `: ${reason}` : '';
  return { code: pathCloseCode(wsCode), message: `WebSocket ${who} with code ${wsCode}${why}` };
}
