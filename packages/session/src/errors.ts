/**
 * The error type of the path session. `code` is stable: callers and tests match on it,
 * never on the message. Decoders of untrusted bytes throw only this type; the session's
 * receive paths (`open`, `consume*`) catch it and drop the datagram instead.
 */
export type SessionErrorCode =
  | 'ERR_MPTUN_BAD_KEY' // a key is not 32 bytes, not base64, or not a usable X25519 point
  | 'ERR_MPTUN_BAD_MESSAGE' // a handshake or data message is truncated or malformed
  | 'ERR_MPTUN_CRYPTO_UNAVAILABLE' // the requested crypto backend cannot be loaded
  | 'ERR_MPTUN_KEY_EXHAUSTED' // the channel has no key that may still send (rekey needed)
  | 'ERR_MPTUN_INDEX_EXHAUSTED'; // no free session index (the table is absurdly full)

export class SessionError extends Error {
  override readonly name = 'SessionError';
  constructor(
    readonly code: SessionErrorCode,
    message: string,
  ) {
    super(message);
  }
}
