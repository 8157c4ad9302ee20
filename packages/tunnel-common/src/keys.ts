/**
 * Key files. A private key file holds the base64 of the 32-byte X25519 private key on one
 * line, with mode 0600 so only its owner reads it. An authorized-keys file holds one base64
 * public key per line, optionally followed by a comment (as ssh's authorized_keys lines
 * are); `#` starts a comment line, blank lines are ignored.
 */
import { closeSync, fchmodSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { decodeKey, encodeKey, generateKeypair, keypairFromPrivateKey, loadCrypto, type CryptoBackend, type Keypair } from '@mptun/session';

export type KeyFileErrorCode = 'ERR_MPTUN_KEY_FILE' | 'ERR_MPTUN_KEY_FILE_EXISTS';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(
    readonly code: KeyFileErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** The text of a private key file. */
export function privateKeyFileText(keypair: Keypair): string {
  return encodeKey(keypair.privateKey) + '\n';
}

/**
 * Write the private key with mode 0600; refuses to replace a file unless `overwrite`. An
 * existing file keeps its mode when opened, so the mode is set on the open file before the
 * key is written into it.
 */
export function writePrivateKeyFile(file: string, keypair: Keypair, opts: { overwrite?: boolean } = {}): void {
  let fd: number | null = null;
  try {
    fd = openSync(file, opts.overwrite ? 'w' : 'wx', 0o600);
    fchmodSync(fd, 0o600);
    writeSync(fd, privateKeyFileText(keypair));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') throw new KeyFileError('ERR_MPTUN_KEY_FILE_EXISTS', file, 'already exists; not replacing a key (pass --force to replace it)');
    throw new KeyFileError('ERR_MPTUN_KEY_FILE', file, `cannot write: ${err.message}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * A warning when a private key file can be read by its group or by everyone, else null.
 * The apps log it at start; the key still loads (the admin may have reasons).
 */
export function keyFileModeWarning(file: string): string | null {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return null; // reading it will report the real problem
  }
  if ((mode & 0o077) === 0) return null;
  return `private key file ${file} is readable by ${mode & 0o007 ? 'everyone' : 'its group'} (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${file}`;
}

/**
 * The keygen command of both apps. With `out` the private key goes to that file (0600) and
 * the public key alone to stdout; without it stdout is exactly a key file (so
 * `keygen > client.key` works) and the public key goes alone to stderr. `pubOut` also writes
 * the public key to a file.
 */
export async function runKeygen(opts: { out?: string; pubOut?: string; force?: boolean }, io: { out(text: string): void; err(text: string): void }): Promise<void> {
  const kp = generateKeypair(await loadCrypto());
  const pub = encodeKey(kp.publicKey) + '\n';
  if (opts.out) writePrivateKeyFile(opts.out, kp, { overwrite: opts.force === true });
  if (opts.pubOut) {
    try {
      writeFileSync(opts.pubOut, pub, { mode: 0o644, flag: opts.force ? 'w' : 'wx' });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new KeyFileError(err.code === 'EEXIST' ? 'ERR_MPTUN_KEY_FILE_EXISTS' : 'ERR_MPTUN_KEY_FILE', opts.pubOut, err.code === 'EEXIST' ? 'already exists; pass --force to replace it' : `cannot write: ${err.message}`);
    }
  }
  if (opts.out) io.out(pub);
  else {
    io.out(privateKeyFileText(kp));
    io.err(pub);
  }
}

/** The key pair of a private key file. */
export function readPrivateKeyFile(crypto: CryptoBackend, file: string): Keypair {
  const text = readText(file);
  const lines = meaningfulLines(text);
  if (lines.length !== 1) throw new KeyFileError('ERR_MPTUN_KEY_FILE', file, `expected one base64 private key, found ${lines.length} key line(s)`);
  try {
    return keypairFromPrivateKey(crypto, decodeKey(lines[0]!.text));
  } catch (e) {
    throw new KeyFileError('ERR_MPTUN_KEY_FILE', file, `line ${lines[0]!.line}: ${(e as Error).message}`);
  }
}

/** The base64 public keys of an authorized-keys file, each checked. */
export function readAuthorizedKeysFile(file: string): string[] {
  const out: string[] = [];
  for (const { line, text: whole } of meaningfulLines(readText(file))) {
    // The key is the first field; anything after it is a comment ("KEY alice@laptop").
    const text = whole.split(/\s+/, 1)[0]!;
    try {
      decodeKey(text);
    } catch (e) {
      throw new KeyFileError('ERR_MPTUN_KEY_FILE', file, `line ${line}: ${(e as Error).message}`);
    }
    out.push(text);
  }
  return out;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyFileError('ERR_MPTUN_KEY_FILE', file, `cannot read: ${(e as Error).message}`);
  }
}

function meaningfulLines(text: string): Array<{ line: number; text: string }> {
  return text
    .split(/\r?\n/)
    .map((l, i) => ({ line: i + 1, text: (l.split('#', 1)[0] ?? '').trim() }))
    .filter((l) => l.text !== '');
}
