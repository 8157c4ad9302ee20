/**
 * The cheap MACs on handshake messages and the cookie mechanism against handshake floods
 * (the scheme of WireGuard's §5.4, on BLAKE2b).
 *
 * - mac1 = MAC(HASH("mac1----" ‖ receiver's static public key), message up to mac1).
 *   Anyone who knows the server's public key can compute it, but nobody else, so the
 *   server drops internet noise and port scans before any public-key work.
 * - Under load the server wants mac2 = MAC(cookie, message up to mac2), where the cookie
 *   is MAC(rotating secret, the sender's address). A sender that has no valid mac2 gets a
 *   cookie reply instead of a handshake: the server keeps no state for it, and only a
 *   sender that really receives at that address can learn the cookie.
 * - The cookie travels encrypted under HASH("cookie--" ‖ server's public key), with the
 *   initiation's mac1 as associated data (so a reply only fits the initiation it
 *   answers). Our cipher is the IETF ChaCha20-Poly1305 of the backend, so the 24-byte
 *   random nonce selects a one-time key: key = MAC-256(cookie key, nonce), nonce zero.
 *
 * MAC(k, m) is keyed BLAKE2b with a 16-byte output (RFC 7693 §2.5).
 */
import type { RandomSource } from '@mptun/core';
import { AEAD_NONCE_BYTES, type CryptoBackend } from './crypto/backend.js';
import { keysEqual } from './keys.js';
import {
  COOKIE_BYTES,
  COOKIE_NONCE,
  COOKIE_NONCE_BYTES,
  COOKIE_RECEIVER,
  COOKIE_REPLY_BYTES,
  COOKIE_SEALED,
  INIT_SENDER,
  MAC_BYTES,
  MessageType,
  mac1Offset,
  mac2Offset,
  readU32,
  writeType,
  writeU32,
} from './messages.js';
import { concat } from './noise.js';

const LABEL_MAC1 = new TextEncoder().encode('mac1----');
const LABEL_COOKIE = new TextEncoder().encode('cookie--');
const DERIVED_KEY_BYTES = 32;
const ZERO_NONCE = new Uint8Array(AEAD_NONCE_BYTES);

/** How long a server's cookie secret lives; cookies of the one before it are still accepted. */
export const COOKIE_SECRET_LIFETIME_MS = 120_000;
/** How long a client uses a cookie it received (shorter, so it never offers a dead one). */
export const COOKIE_USE_MS = 110_000;

/** The key of mac1 for messages sent to the holder of `publicKey`. */
export function mac1Key(crypto: CryptoBackend, publicKey: Uint8Array): Uint8Array {
  return crypto.blake2b(DERIVED_KEY_BYTES, concat(LABEL_MAC1, publicKey));
}

/** The key that encrypts cookies sent by the holder of `publicKey`. */
export function cookieKey(crypto: CryptoBackend, publicKey: Uint8Array): Uint8Array {
  return crypto.blake2b(DERIVED_KEY_BYTES, concat(LABEL_COOKIE, publicKey));
}

export function mac(crypto: CryptoBackend, key: Uint8Array, bytes: Uint8Array): Uint8Array {
  return crypto.blake2b(MAC_BYTES, bytes, key);
}

/** One-time AEAD key for a cookie reply's random nonce. */
function cookieSealKey(crypto: CryptoBackend, key: Uint8Array, nonce: Uint8Array): Uint8Array {
  return crypto.blake2b(DERIVED_KEY_BYTES, nonce, key);
}

/** Decrypts a cookie reply's cookie, or null when it does not authenticate against `sentMac1`. */
export function openCookieReply(
  crypto: CryptoBackend,
  key: Uint8Array,
  datagram: Uint8Array,
  sentMac1: Uint8Array,
): Uint8Array | null {
  if (datagram.length !== COOKIE_REPLY_BYTES) return null;
  const nonce = datagram.subarray(COOKIE_NONCE, COOKIE_SEALED);
  const oneTimeKey = cookieSealKey(crypto, key, nonce);
  const cookie = new Uint8Array(COOKIE_BYTES);
  const ok = crypto.aeadOpen(cookie, datagram.subarray(COOKIE_SEALED), sentMac1, ZERO_NONCE, oneTimeKey);
  oneTimeKey.fill(0);
  return ok ? cookie : null;
}

/** The server's side: mac1/mac2 checks and stateless cookie replies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly sealKey: Uint8Array;
  private secret: Uint8Array | null = null;
  private previousSecret: Uint8Array | null = null;
  private secretBornAt = 0;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly crypto: CryptoBackend,
    publicKey: Uint8Array,
    private readonly random: RandomSource,
  ) {
    this.mac1Key = mac1Key(crypto, publicKey);
    this.sealKey = cookieKey(crypto, publicKey);
  }

  /** True when an initiation carries the mac1 meant for us. */
  checkMac1(initiation: Uint8Array): boolean {
    const at = mac1Offset(initiation.length);
    const expected = mac(this.crypto, this.mac1Key, initiation.subarray(0, at));
    return keysEqual(expected, initiation.subarray(at, at + MAC_BYTES));
  }

  /** True when an initiation's mac2 is keyed by a current cookie for `source`. */
  checkMac2(initiation: Uint8Array, source: string, now: number): boolean {
    this.rotate(now);
    const at = mac2Offset(initiation.length);
    const got = initiation.subarray(at, at + MAC_BYTES);
    const covered = initiation.subarray(0, at);
    for (const secret of [this.secret, this.previousSecret]) {
      if (secret === null) continue;
      const cookie = this.cookieFor(secret, source);
      const ok = keysEqual(mac(this.crypto, cookie, covered), got);
      cookie.fill(0);
      if (ok) return true;
    }
    return false;
  }

  /** A cookie reply to `initiation` from `source`; the server remembers nothing of it. */
  createReply(initiation: Uint8Array, source: string, now: number): Uint8Array {
    this.rotate(now);
    const reply = new Uint8Array(COOKIE_REPLY_BYTES);
    writeType(reply, MessageType.CookieReply);
    writeU32(reply, COOKIE_RECEIVER, readU32(initiation, INIT_SENDER));
    this.random.fill(reply.subarray(COOKIE_NONCE, COOKIE_NONCE + COOKIE_NONCE_BYTES));
    const cookie = this.cookieFor(this.secret!, source);
    const oneTimeKey = cookieSealKey(this.crypto, this.sealKey, reply.subarray(COOKIE_NONCE, COOKIE_SEALED));
    this.crypto.aeadSeal(
      reply.subarray(COOKIE_SEALED),
      cookie,
      initiation.subarray(mac1Offset(initiation.length), mac2Offset(initiation.length)),
      ZERO_NONCE,
      oneTimeKey,
    );
    cookie.fill(0);
    oneTimeKey.fill(0);
    return reply;
  }

  private cookieFor(secret: Uint8Array, source: string): Uint8Array {
    return mac(this.crypto, secret, this.encoder.encode(source));
  }

  /** A new secret every COOKIE_SECRET_LIFETIME_MS, keeping the last one. */
  private rotate(now: number): void {
    if (this.secret !== null && now - this.secretBornAt < COOKIE_SECRET_LIFETIME_MS && now >= this.secretBornAt) return;
    // Two lifetimes or more without traffic: the old secret is stale too.
    const stale = this.secret === null || now - this.secretBornAt >= 2 * COOKIE_SECRET_LIFETIME_MS;
    this.previousSecret?.fill(0);
    this.previousSecret = stale ? null : this.secret;
    if (stale) this.secret?.fill(0);
    this.secret = new Uint8Array(32);
    this.random.fill(this.secret);
    this.secretBornAt = now;
  }
}
