/**
 * Errors of the WebSocket transport. Every failure a caller can meet carries a stable `code`
 * that tests and applications match on; the message is for people.
 */
export type WsTransportErrorCode =
  | 'ERR_MPTUN_BAD_URL' // the URL is not ws:// or wss://
  | 'ERR_MPTUN_BAD_CONFIG' // an option is missing or out of range
  | 'ERR_MPTUN_WS_CONNECT' // TCP, TLS or the HTTP upgrade failed
  | 'ERR_MPTUN_HANDSHAKE_TIMEOUT' // the key exchange did not finish in time
  | 'ERR_MPTUN_HANDSHAKE_REJECTED' // the server refused us, or we refused the server
  | 'ERR_MPTUN_LISTEN'; // the server could not bind

export class WsTransportError extends Error {
  override readonly name = 'WsTransportError';
  constructor(
    readonly code: WsTransportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
