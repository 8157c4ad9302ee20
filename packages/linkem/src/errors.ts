/** Errors of the link emulator, with stable codes (tests and callers match on `code`). */
export type LinkemErrorCode =
  | 'ERR_LINKEM_BAD_OPTION' // a flag, config key or patch value is malformed or out of range
  | 'ERR_LINKEM_BAD_CONFIG' // the configuration as a whole is wrong (no paths, duplicate names, …)
  | 'ERR_LINKEM_UNKNOWN_PATH' // no path has that name
  | 'ERR_LINKEM_BIND' // a listening socket could not be opened
  | 'ERR_LINKEM_CLOSED'; // the emulator was already closed

export class LinkemError extends Error {
  override readonly name = 'LinkemError';
  constructor(
    readonly code: LinkemErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Throws the usual "bad value" error: `where` names the flag or key, `want` says what fits. */
export function badOption(where: string, value: unknown, want: string): never {
  throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${where}: expected ${want}, got ${describeValue(value)}`);
}

/** A short, safe rendering of any value for an error message (never calls its toString). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}
