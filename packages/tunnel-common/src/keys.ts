/**
 * Key files. A private key file holds the base64 of the 32-byte X25519 private key on one
 * line, created with mode 0600 so only its owner reads it. An authorized-keys file holds one
 * base64 public key per line; `#` starts a comment, blank lines are ignored.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeKey, encodeKey, keypairFromPrivateKey, type CryptoBackend, type Keypair } from '@mptun/session';

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

/** Write the private key (mode 0600); refuses to replace a file unless `overwrite`. */
export function writePrivateKeyFile(file: string, keypair: Keypair, opts: { overwrite?: boolean } = {}): void {
  try {
    writeFileSync(file, encodeKey(keypair.privateKey) + '\n', { mode: 0o600, flag: opts.overwrite ? 'w' : 'wx' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') throw new KeyFileError('ERR_MPTUN_KEY_FILE_EXISTS', file, 'already exists; not replacing a key');
    throw new KeyFileError('ERR_MPTUN_KEY_FILE', file, `cannot write: ${err.message}`);
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
  for (const { line, text } of meaningfulLines(readText(file))) {
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
