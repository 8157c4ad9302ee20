/**
 * The primitives the path session needs, behind one interface so that libsodium-wrappers
 * (portable WebAssembly) and sodium-native (a prebuilt addon, about three times faster)
 * are interchangeable: both produce the same bytes for the same inputs.
 */
import type { RandomSource } from '@mptun/core';

export type CryptoBackendName = 'sodium-native' | 'libsodium-wrappers';

/** X25519 keys and shared secrets. RFC 7748 §6.1 */
export const X25519_KEY_BYTES = 32;
/** ChaCha20-Poly1305, the IETF variant. RFC 8439 §2.8 */
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

export interface CryptoBackend {
  readonly name: CryptoBackendName;

  /**
   * X25519 public key of a private scalar (the scalar is clamped inside, RFC 7748 §5).
   */
  x25519Base(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519 shared secret. Returns null when the peer's key is a low-order point, i.e.
   * the result would be all zeros (RFC 7748 §6.1 says to check for that).
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;

  /**
   * ChaCha20-Poly1305 (IETF) encryption into `out`, which must be exactly
   * `plaintext.length + AEAD_TAG_BYTES` long (ciphertext, then tag). `out` may be a view
   * into a larger buffer but must not overlap `plaintext`.
   */
  aeadSeal(out: Uint8Array, plaintext: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): void;
  /**
   * Verifies and decrypts `sealed` (ciphertext, then tag) into `out`, which must be
   * `sealed.length - AEAD_TAG_BYTES` long. Returns false, with `out` zeroed, when the tag
   * does not verify. `out` may start exactly where `sealed` does (decryption in place; the
   * tag is checked before anything is written), and must not overlap it otherwise.
   */
  aeadOpen(out: Uint8Array, sealed: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): boolean;

  /**
   * BLAKE2b with an output of `outLength` bytes (1..64), keyed (the MAC mode of RFC 7693
   * §2.5, key of 1..64 bytes) when `key` is given.
   */
  blake2b(outLength: number, message: Uint8Array, key?: Uint8Array): Uint8Array;

  /** `n` bytes from the operating system's CSPRNG. */
  randomBytes(n: number): Uint8Array;
}

/** A RandomSource (the engine's interface) drawing on a backend's CSPRNG. */
export function cryptoRandomSource(crypto: CryptoBackend): RandomSource {
  return {
    fill(buf: Uint8Array): void {
      buf.set(crypto.randomBytes(buf.length));
    },
  };
}
