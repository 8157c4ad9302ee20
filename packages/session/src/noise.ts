/**
 * The symmetric half of the Noise framework (revision 34) for
 * Noise_IK_25519_ChaChaPoly_BLAKE2b: HASH is BLAKE2b-512, HMAC is RFC 2104 over it,
 * HKDF is Noise's two/three-output form, the cipher is ChaCha20-Poly1305 with the
 * counter as a 64-bit little-endian nonce.
 */
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, type CryptoBackend } from './crypto/backend.js';

export const NOISE_PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';
/** Mixed into h before the first message, so a key exchange of another protocol never verifies here. */
export const NOISE_PROLOGUE = 'mptun path session v1';

/** Noise §12.8: BLAKE2b has HASHLEN 64 and BLOCKLEN 128. */
export const HASH_BYTES = 64;
const BLOCK_BYTES = 128;

const encoder = new TextEncoder();

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** HMAC-BLAKE2b-512, RFC 2104 (the key here is never longer than one block). */
export function hmac(crypto: CryptoBackend, key: Uint8Array, data: Uint8Array): Uint8Array {
  const inner = new Uint8Array(BLOCK_BYTES + data.length);
  const outer = new Uint8Array(BLOCK_BYTES + HASH_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) {
    const k = i < key.length ? key[i]! : 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  inner.set(data, BLOCK_BYTES);
  outer.set(crypto.blake2b(HASH_BYTES, inner), BLOCK_BYTES);
  const mac = crypto.blake2b(HASH_BYTES, outer);
  inner.fill(0);
  outer.fill(0);
  return mac;
}

/** Noise §4.3 HKDF with two outputs. */
export function hkdf2(crypto: CryptoBackend, chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const temp = hmac(crypto, chainingKey, ikm);
  const out1 = hmac(crypto, temp, Uint8Array.of(0x01));
  const out2 = hmac(crypto, temp, concat(out1, Uint8Array.of(0x02)));
  temp.fill(0);
  return [out1, out2];
}

/** The AEAD nonce of Noise's ChaChaPoly: 4 zero bytes, then the counter little-endian. §12.3 */
export function noiseNonce(counter: number, into: Uint8Array = new Uint8Array(AEAD_NONCE_BYTES)): Uint8Array {
  into[0] = into[1] = into[2] = into[3] = 0;
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  view.setUint32(4, counter >>> 0, true);
  view.setUint32(8, Math.floor(counter / 0x1_0000_0000), true);
  return into;
}

/**
 * Noise §5.2 SymmetricState, with the CipherState of §5.1 folded in (k and n). Only what
 * IK needs: no PSK, no rekey inside the handshake.
 */
export class SymmetricState {
  /** h, the handshake hash. */
  h: Uint8Array;
  /** ck, the chaining key. */
  ck: Uint8Array;
  private k: Uint8Array | null = null;
  private n = 0;

  constructor(private readonly crypto: CryptoBackend) {
    // InitializeSymmetric: a name of at most HASHLEN bytes is zero-padded, not hashed.
    const name = encoder.encode(NOISE_PROTOCOL_NAME);
    this.h = new Uint8Array(HASH_BYTES);
    this.h.set(name);
    this.ck = this.h.slice();
  }

  mixHash(data: Uint8Array): void {
    this.h = this.crypto.blake2b(HASH_BYTES, concat(this.h, data));
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = hkdf2(this.crypto, this.ck, ikm);
    this.ck.fill(0);
    this.ck = ck;
    this.k?.fill(0);
    // HASHLEN 64: the cipher key is the first 32 bytes. §5.2
    this.k = tempK.slice(0, AEAD_KEY_BYTES);
    tempK.fill(0);
    this.n = 0;
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    if (this.k === null) throw new Error('encryptAndHash before any key was mixed in'); // IK always mixes first
    const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
    this.crypto.aeadSeal(out, plaintext, this.h, noiseNonce(this.n++), this.k);
    this.mixHash(out);
    return out;
  }

  /** Returns null when the tag does not verify; the state is then useless and must be dropped. */
  decryptAndHash(sealed: Uint8Array): Uint8Array | null {
    if (this.k === null || sealed.length < AEAD_TAG_BYTES) return null;
    const out = new Uint8Array(sealed.length - AEAD_TAG_BYTES);
    if (!this.crypto.aeadOpen(out, sealed, this.h, noiseNonce(this.n++), this.k)) return null;
    this.mixHash(sealed);
    return out;
  }

  /** Split(): the initiator-to-responder key, then the responder-to-initiator key. §5.2 */
  split(): [Uint8Array, Uint8Array] {
    const [t1, t2] = hkdf2(this.crypto, this.ck, new Uint8Array(0));
    const keys: [Uint8Array, Uint8Array] = [t1.slice(0, AEAD_KEY_BYTES), t2.slice(0, AEAD_KEY_BYTES)];
    t1.fill(0);
    t2.fill(0);
    return keys;
  }

  /** Zeroes the secrets; h is public-ish but goes too. */
  destroy(): void {
    this.ck.fill(0);
    this.k?.fill(0);
    this.k = null;
  }
}

export function prologueBytes(): Uint8Array {
  return encoder.encode(NOISE_PROLOGUE);
}
