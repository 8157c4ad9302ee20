/**
 * The fast backend: sodium-native, a prebuilt N-API addon (an optional dependency). It
 * writes into caller-provided buffers, so the data path allocates nothing here.
 *
 * Version 4.x is pinned: 5.x targets the Bare runtime first.
 */
import { createRequire } from 'node:module';
import { SessionError } from '../errors.js';
import type { CryptoBackend } from './backend.js';

/** The few functions of sodium-native we call (it ships no type declarations). */
interface SodiumNative {
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  randombytes_buf(buf: Uint8Array): void;
}

let loaded: Promise<CryptoBackend> | null = null;

/**
 * Loads sodium-native. Rejects with ERR_MPTUN_CRYPTO_UNAVAILABLE when the optional
 * package is missing or its binary does not load on this platform.
 */
export function sodiumNativeBackend(): Promise<CryptoBackend> {
  loaded ??= new Promise<CryptoBackend>((resolve, reject) => {
    let native: SodiumNative;
    try {
      native = createRequire(import.meta.url)('sodium-native') as SodiumNative;
    } catch (err) {
      reject(new SessionError('ERR_MPTUN_CRYPTO_UNAVAILABLE', `sodium-native does not load: ${String(err)}`));
      return;
    }
    resolve(createBackend(native));
  });
  return loaded;
}

function createBackend(native: SodiumNative): CryptoBackend {
  const empty = new Uint8Array(0);
  return {
    name: 'sodium-native',

    x25519Base(privateKey) {
      const q = new Uint8Array(32);
      native.crypto_scalarmult_base(q, privateKey);
      return q;
    },

    x25519(privateKey, publicKey) {
      const q = new Uint8Array(32);
      try {
        native.crypto_scalarmult(q, privateKey, publicKey);
        return q;
      } catch {
        // libsodium refuses a result of all zeros (a low-order peer key). RFC 7748 §6.1
        return null;
      }
    },

    aeadSeal(out, plaintext, ad, nonce, key) {
      native.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, key);
    },

    aeadOpen(out, sealed, ad, nonce, key) {
      try {
        // An empty plaintext still needs a buffer object for the addon.
        native.crypto_aead_chacha20poly1305_ietf_decrypt(out.length === 0 ? empty : out, null, sealed, ad, nonce, key);
        return true;
      } catch {
        out.fill(0);
        return false;
      }
    },

    blake2b(outLength, message, key) {
      const out = new Uint8Array(outLength);
      if (key === undefined) native.crypto_generichash(out, message);
      else native.crypto_generichash(out, message, key);
      return out;
    },

    randomBytes(n) {
      const buf = new Uint8Array(n);
      native.randombytes_buf(buf);
      return buf;
    },
  };
}
