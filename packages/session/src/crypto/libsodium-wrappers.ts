/**
 * The portable backend: libsodium compiled to WebAssembly. Always available. Its calls
 * return fresh arrays, so seal/open copy once into the caller's buffer.
 */
import sodium from 'libsodium-wrappers';
import type { CryptoBackend } from './backend.js';

let loaded: Promise<CryptoBackend> | null = null;

/** Resolves once libsodium's WebAssembly module is initialised; the same object every time. */
export function libsodiumWrappersBackend(): Promise<CryptoBackend> {
  loaded ??= sodium.ready.then(() => createBackend());
  return loaded;
}

function createBackend(): CryptoBackend {
  return {
    name: 'libsodium-wrappers',

    x25519Base(privateKey) {
      return sodium.crypto_scalarmult_base(privateKey);
    },

    x25519(privateKey, publicKey) {
      try {
        return sodium.crypto_scalarmult(privateKey, publicKey);
      } catch {
        // libsodium refuses a result of all zeros (a low-order peer key). RFC 7748 §6.1
        return null;
      }
    },

    aeadSeal(out, plaintext, ad, nonce, key) {
      out.set(sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key));
    },

    aeadOpen(out, sealed, ad, nonce, key) {
      try {
        out.set(sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key));
        return true;
      } catch {
        out.fill(0);
        return false;
      }
    },

    blake2b(outLength, message, key) {
      return sodium.crypto_generichash(outLength, message, key ?? null);
    },

    randomBytes(n) {
      return sodium.randombytes_buf(n);
    },
  };
}
