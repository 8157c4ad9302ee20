/**
 * Static X25519 keys: generation, and the text form used in configuration files
 * (standard base64 of the 32 raw bytes, 44 characters, as WireGuard writes its keys).
 */
import { X25519_KEY_BYTES, type CryptoBackend } from './crypto/backend.js';
import { SessionError } from './errors.js';

export interface Keypair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** A fresh static keypair from the backend's CSPRNG. */
export function generateKeypair(crypto: CryptoBackend): Keypair {
  return keypairFromPrivateKey(crypto, crypto.randomBytes(X25519_KEY_BYTES));
}

/** The keypair of a stored private key (any 32 bytes; X25519 clamps them, RFC 7748 §5). */
export function keypairFromPrivateKey(crypto: CryptoBackend, privateKey: Uint8Array): Keypair {
  requireKeyBytes(privateKey, 'private key');
  const copy = privateKey.slice();
  return { privateKey: copy, publicKey: crypto.x25519Base(copy) };
}

/** Base64 text of a 32-byte key. */
export function encodeKey(key: Uint8Array): string {
  requireKeyBytes(key, 'key');
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

// 43 characters carry 258 bits, then one '=' of padding: exactly 32 bytes.
const KEY_TEXT = /^[A-Za-z0-9+/]{43}=$/;

/**
 * The 32 bytes of a base64 key. Throws ERR_MPTUN_BAD_KEY unless the text is the
 * canonical base64 of exactly 32 bytes (surrounding whitespace is tolerated).
 */
export function decodeKey(text: string): Uint8Array {
  if (typeof text !== 'string') throw new SessionError('ERR_MPTUN_BAD_KEY', 'a key must be a base64 string');
  const trimmed = text.trim();
  if (!KEY_TEXT.test(trimmed)) {
    throw new SessionError('ERR_MPTUN_BAD_KEY', 'a key must be 44 characters of base64 encoding 32 bytes');
  }
  const bytes = new Uint8Array(Buffer.from(trimmed, 'base64'));
  // Non-zero unused bits in the last character decode leniently; insist on the one spelling.
  if (bytes.length !== X25519_KEY_BYTES || Buffer.from(bytes).toString('base64') !== trimmed) {
    throw new SessionError('ERR_MPTUN_BAD_KEY', 'a key must be the canonical base64 of 32 bytes');
  }
  return bytes;
}

/** Equality of two byte strings in time that depends only on their lengths. */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function requireKeyBytes(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new SessionError('ERR_MPTUN_BAD_KEY', `${what} must be ${X25519_KEY_BYTES} bytes`);
  }
}
