/** Errors of the Node API, each with a stable `code` (ERR_MPTUN_*) to match on. */
export class MptunError extends Error {
  override readonly name = 'MptunError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
