/** Why the path manager refused a call, with a stable code tests and applications match on. */
export type PathManagerErrorCode =
  | 'ERR_PM_BAD_OPTION' // an option is out of range or of the wrong kind
  | 'ERR_PM_BAD_ADDRESS' // an address is not a literal IPv4/IPv6 address, or an id is invalid
  | 'ERR_PM_ATTACHED'; // attach() was called a second time

export class PathManagerError extends Error {
  override readonly name = 'PathManagerError';
  constructor(
    readonly code: PathManagerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
