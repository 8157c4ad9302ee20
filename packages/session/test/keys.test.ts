import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { decodeKey, encodeKey, generateKeypair, keypairFromPrivateKey, keysEqual } from '../src/keys.js';
import { loadCrypto } from '../src/crypto/load.js';
import { SessionError } from '../src/errors.js';
import { bothBackends, hex } from './helpers.js';

describe('keys', async () => {
  const backends = await bothBackends();

  it('loadCrypto prefers sodium-native and falls back cleanly on request', async () => {
    expect((await loadCrypto()).name).toBe('sodium-native');
    expect((await loadCrypto({ prefer: 'libsodium-wrappers' })).name).toBe('libsodium-wrappers');
  });

  for (const crypto of backends) {
    it(`generateKeypair gives distinct valid pairs (${crypto.name})`, () => {
      const a = generateKeypair(crypto);
      const b = generateKeypair(crypto);
      expect(a.publicKey.length).toBe(32);
      expect(hex(a.privateKey)).not.toBe(hex(b.privateKey));
      expect(hex(keypairFromPrivateKey(crypto, a.privateKey).publicKey)).toBe(hex(a.publicKey));
      // Both backends derive the same public key.
      for (const other of backends) expect(hex(other.x25519Base(a.privateKey))).toBe(hex(a.publicKey));
    });
  }

  it('RFC 7748 §6.1 X25519 test vector on both backends', () => {
    const alicePriv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    const bobPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex');
    for (const crypto of backends) {
      expect(hex(crypto.x25519Base(alicePriv))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
      expect(hex(crypto.x25519(alicePriv, bobPub)!)).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
      expect(crypto.x25519(alicePriv, new Uint8Array(32))).toBeNull();
    }
  });

  it('encodeKey/decodeKey round trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const text = encodeKey(key);
        expect(text).toHaveLength(44);
        expect(decodeKey(text)).toEqual(key);
        expect(decodeKey(` ${text}\n`)).toEqual(key);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('decodeKey refuses anything but canonical base64 of 32 bytes with ERR_MPTUN_BAD_KEY', () => {
    const good = encodeKey(new Uint8Array(32).fill(0xab));
    const bad = [
      '',
      good.slice(0, 43),
      good + '=',
      good.replace('=', 'A'),
      Buffer.alloc(31).toString('base64'),
      Buffer.alloc(33).toString('base64'),
      good.slice(0, 42) + 'r=', // non-zero unused bits: decodes, but not canonical
      good.slice(0, 10) + '*' + good.slice(11),
      Buffer.alloc(32).toString('base64url'),
      undefined as unknown as string,
    ];
    for (const text of bad) {
      let err: unknown = null;
      try {
        decodeKey(text);
      } catch (e) {
        err = e;
      }
      expect(err, String(text)).toBeInstanceOf(SessionError);
      expect((err as SessionError).code).toBe('ERR_MPTUN_BAD_KEY');
    }
    expect(() => encodeKey(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_BAD_KEY' }));
  });

  it('keysEqual', () => {
    expect(keysEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(keysEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(keysEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
  });
});
