/**
 * A client's proof of its static key for connections over `udp-plain` paths, which carry no
 * crypto of their own: appended to the tunnel request, it lets a server admit only listed
 * keys there too. Layout (88 bytes):
 *
 *   client public key (32) | time, ms since the epoch, big-endian (8) | nonce (16) | MAC (32)
 *
 * MAC = HMAC-SHA256(X25519(client, server), label | client key | server key | time | nonce |
 * tunnel request). The static-static X25519 secret is known only to the holder of the
 * client key and the server; the request is covered so a proof cannot be moved to another
 * target; time and nonce let the server refuse a replay (each nonce once within the
 * window). A plain path has no integrity, so an on-path attacker can still take over the
 * connection after the proof: this keeps strangers out, it does not make plain mode private.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CryptoBackend, Keypair } from '@mptun/session';

export const PLAIN_PROOF_BYTES = 32 + 8 + 16 + 32;
const LABEL = Buffer.from('mptun plain-path client proof v1');

function mac(secret: Uint8Array, clientKey: Uint8Array, serverKey: Uint8Array, timeAndNonce: Uint8Array, request: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(LABEL).update(clientKey).update(serverKey).update(timeAndNonce).update(request).digest();
}

/** The proof for `request`, made at `nowMs` with a fresh 16-byte `nonce`. */
export function sealPlainProof(crypto: CryptoBackend, client: Keypair, serverPublicKey: Uint8Array, request: Uint8Array, nowMs: number, nonce: Uint8Array): Uint8Array {
  if (nonce.length !== 16) throw new RangeError('the nonce is 16 bytes');
  const secret = crypto.x25519(client.privateKey, serverPublicKey);
  if (!secret) throw new RangeError('the server key is a low-order point');
  const out = Buffer.alloc(PLAIN_PROOF_BYTES);
  Buffer.from(client.publicKey).copy(out, 0);
  out.writeBigUInt64BE(BigInt(Math.floor(nowMs)), 32);
  Buffer.from(nonce).copy(out, 40);
  mac(secret, client.publicKey, serverPublicKey, out.subarray(32, 56), request).copy(out, 56);
  return out;
}

export type PlainProofFailure = 'no_proof' | 'unauthorized_key' | 'bad_proof' | 'stale_proof' | 'replayed_proof' | 'busy';

export type PlainProofResult = { ok: true; clientKey: Uint8Array } | { ok: false; reason: PlainProofFailure };

export interface PlainProofOptions {
  /** How far a proof's time may be from the server's, ms (default 120 s). */
  windowMs?: number;
  /** Nonces remembered at most; past this, new proofs are refused as busy (default 65,536). */
  maxNonces?: number;
}

/** The server's side: checks proofs and remembers their nonces for the window. */
export class PlainProofVerifier {
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxNonces: number;

  constructor(
    private readonly crypto: CryptoBackend,
    private readonly server: Keypair,
    private readonly isAllowed: (publicKey: Uint8Array) => boolean,
    opts: PlainProofOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 120_000;
    this.maxNonces = opts.maxNonces ?? 65_536;
  }

  /** Check `proof` (exactly PLAIN_PROOF_BYTES, or empty when none came) for `request` at `nowMs`. */
  verify(request: Uint8Array, proof: Uint8Array, nowMs: number): PlainProofResult {
    if (proof.length !== PLAIN_PROOF_BYTES) return { ok: false, reason: 'no_proof' };
    const p = Buffer.from(proof.buffer, proof.byteOffset, proof.byteLength);
    const clientKey = p.subarray(0, 32);
    const secret = this.crypto.x25519(this.server.privateKey, clientKey);
    if (!secret) return { ok: false, reason: 'bad_proof' };
    if (!timingSafeEqual(mac(secret, clientKey, this.server.publicKey, p.subarray(32, 56), request), p.subarray(56))) return { ok: false, reason: 'bad_proof' };
    if (!this.isAllowed(clientKey)) return { ok: false, reason: 'unauthorized_key' };
    const time = Number(p.readBigUInt64BE(32));
    if (Math.abs(nowMs - time) > this.windowMs) return { ok: false, reason: 'stale_proof' };
    this.forget(nowMs);
    const nonce = p.subarray(40, 56).toString('hex');
    if (this.seen.has(nonce)) return { ok: false, reason: 'replayed_proof' };
    if (this.seen.size >= this.maxNonces) return { ok: false, reason: 'busy' };
    this.seen.set(nonce, time + this.windowMs);
    return { ok: true, clientKey: Uint8Array.from(clientKey) };
  }

  /**
   * Drop nonces whose proofs could no longer pass the time check, oldest first; insertion
   * order is nearly time order, so this stops at the first one still live.
   */
  private forget(nowMs: number): void {
    for (const [nonce, until] of this.seen) {
      if (until >= nowMs) break;
      this.seen.delete(nonce);
    }
  }
}
