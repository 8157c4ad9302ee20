/** Client key proofs for plain paths: what passes, and every way one is refused. */
import { describe, expect, it } from 'vitest';
import { generateKeypair, loadCrypto } from '@mptun/session';
import { PLAIN_PROOF_BYTES, PlainProofVerifier, sealPlainProof } from '../src/plain-proof.js';

const crypto = await loadCrypto();

describe('plain-path client proof', () => {
  const server = generateKeypair(crypto);
  const client = generateKeypair(crypto);
  const stranger = generateKeypair(crypto);
  const listed = (pk: Uint8Array): boolean => Buffer.from(pk).equals(Buffer.from(client.publicKey));
  const request = Buffer.from('request to example.com:443');
  const nonce = (n: number): Uint8Array => new Uint8Array(16).fill(n);
  const T = 1_800_000_000_000;

  it('a listed key passes once; the same proof again is a replay', () => {
    const v = new PlainProofVerifier(crypto, server, listed);
    const proof = sealPlainProof(crypto, client, server.publicKey, request, T, nonce(1));
    expect(proof.length).toBe(PLAIN_PROOF_BYTES);
    const r = v.verify(request, proof, T + 500);
    expect(r.ok).toBe(true);
    expect(r.ok && Buffer.from(r.clientKey).equals(Buffer.from(client.publicKey))).toBe(true);
    expect(v.verify(request, proof, T + 600)).toEqual({ ok: false, reason: 'replayed_proof' });
    expect(v.verify(request, sealPlainProof(crypto, client, server.publicKey, request, T, nonce(2)), T + 700).ok).toBe(true);
  });

  it('refuses a missing, moved, forged, stale, unlisted or misaddressed proof', () => {
    const v = new PlainProofVerifier(crypto, server, listed, { windowMs: 60_000 });
    const good = sealPlainProof(crypto, client, server.publicKey, request, T, nonce(3));
    expect(v.verify(request, new Uint8Array(0), T)).toEqual({ ok: false, reason: 'no_proof' });
    expect(v.verify(request, good.subarray(0, 40), T)).toEqual({ ok: false, reason: 'no_proof' });
    expect(v.verify(Buffer.from('request to 127.0.0.1:22'), good, T)).toEqual({ ok: false, reason: 'bad_proof' });
    const flipped = Buffer.from(good);
    flipped[PLAIN_PROOF_BYTES - 1]! ^= 1;
    expect(v.verify(request, flipped, T)).toEqual({ ok: false, reason: 'bad_proof' });
    const later = Buffer.from(good);
    later.writeBigUInt64BE(BigInt(T + 1), 32); // the time is covered by the MAC
    expect(v.verify(request, later, T)).toEqual({ ok: false, reason: 'bad_proof' });
    expect(v.verify(request, good, T + 60_001)).toEqual({ ok: false, reason: 'stale_proof' });
    expect(v.verify(request, sealPlainProof(crypto, stranger, server.publicKey, request, T, nonce(4)), T)).toEqual({ ok: false, reason: 'unauthorized_key' });
    const other = generateKeypair(crypto);
    expect(v.verify(request, sealPlainProof(crypto, client, other.publicKey, request, T, nonce(5)), T)).toEqual({ ok: false, reason: 'bad_proof' });
  });

  it('remembers nonces only within the window, and at most maxNonces', () => {
    const v = new PlainProofVerifier(crypto, server, listed, { windowMs: 1_000, maxNonces: 2 });
    const p1 = sealPlainProof(crypto, client, server.publicKey, request, T, nonce(6));
    expect(v.verify(request, p1, T).ok).toBe(true);
    expect(v.verify(request, sealPlainProof(crypto, client, server.publicKey, request, T, nonce(7)), T).ok).toBe(true);
    expect(v.verify(request, sealPlainProof(crypto, client, server.publicKey, request, T, nonce(8)), T)).toEqual({ ok: false, reason: 'busy' });
    // Past the window the old nonces are gone and room is back; the old proof is stale anyway.
    expect(v.verify(request, sealPlainProof(crypto, client, server.publicKey, request, T + 2_000, nonce(9)), T + 2_001).ok).toBe(true);
    expect(v.verify(request, p1, T + 2_001)).toEqual({ ok: false, reason: 'stale_proof' });
  });
});
