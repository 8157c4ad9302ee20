/**
 * One exit-code scheme for both apps, after BSD sysexits.h: 0 ok, 64 the command line was
 * wrong, 78 a config or key file was wrong, 69 a service was unavailable (an address in use
 * or missing, the server out of reach), 70 anything else (an internal error).
 */
export const EXIT = { OK: 0, USAGE: 64, UNAVAILABLE: 69, SOFTWARE: 70, CONFIG: 78 } as const;

const CONFIG_CODES = new Set(['ERR_MPTUN_CONFIG', 'ERR_MPTUN_KEY_FILE', 'ERR_MPTUN_KEY_FILE_EXISTS', 'ERR_MPTUN_BAD_OPTION', 'ERR_MPTUN_BAD_KEY']);
const UNAVAILABLE_CODES = new Set(['ERR_MPTUN_ADDRESS_IN_USE', 'ERR_MPTUN_BAD_ADDRESS', 'ERR_MPTUN_BIND_DEVICE', 'ERR_MPTUN_PERMISSION', 'ERR_MPTUN_LISTEN', 'ERR_MPTUN_NO_PATH', 'ERR_MPTUN_STATUS_FETCH', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES']);

/** A command line the app refuses as written (the message says what to write instead). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'ERR_MPTUN_USAGE';
}

/** The `file` a ConfigError names when the value came from a flag. */
export const COMMAND_LINE = 'command line';

/** The exit code for an error that ended a command. */
export function exitCodeFor(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code.startsWith('commander.') || code === 'ERR_MPTUN_USAGE') return EXIT.USAGE;
    // A ConfigError about a flag's value is a usage error; about a file's, a config error.
    if (code === 'ERR_MPTUN_CONFIG' && (err as { file?: unknown }).file === COMMAND_LINE) return EXIT.USAGE;
    if (CONFIG_CODES.has(code)) return EXIT.CONFIG;
    if (UNAVAILABLE_CODES.has(code)) return EXIT.UNAVAILABLE;
  }
  return EXIT.SOFTWARE;
}

/** The --help text that documents the scheme. */
export const EXIT_CODES_HELP = `
Exit codes: 0 ok, 64 bad command line, 78 bad config or key file,
  69 unavailable (address in use or missing, server unreachable), 70 internal error.`;
