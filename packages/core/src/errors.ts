/** Why a connection ended, with a stable code the application can match on. */
export type EngineErrorCode =
  | 'ERR_MPTUN_RESET' // the peer reset the connection (RST or MP_FASTCLOSE)
  | 'ERR_MPTUN_TIMEOUT' // every subflow timed out
  | 'ERR_MPTUN_HANDSHAKE' // the handshake never completed
  | 'ERR_MPTUN_ABORTED' // the application aborted
  | 'ERR_MPTUN_PROTOCOL' // the peer broke the protocol
  | 'ERR_MPTUN_IDLE' // idle timeout
  | 'ERR_MPTUN_NO_PATH'; // no path left to carry the connection

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}
