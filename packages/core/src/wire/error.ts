/**
 * The one error type every decoder throws for malformed input. `code` is stable:
 * tests and callers match on it, never on the message.
 */
export type WireErrorCode =
  | 'TRUNCATED' // the buffer ends before a field the header says is there
  | 'BAD_LENGTH' // a length field disagrees with the form it announces
  | 'BAD_OFFSET' // TCP data offset below 5 words or past the buffer
  | 'BAD_VALUE' // a field holds a value the form forbids (version, reserved bits, …)
  | 'UNSUPPORTED' // well-formed but not something we speak (e.g. MP_CAPABLE v0)
  | 'TOO_LARGE'; // an emit would exceed a hard limit (40 bytes of options, 64 KiB, …)

export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
  }
}
