/**
 * Fixed keys → fixed bytes. Every expected value is recomputed here, step by step from the
 * Noise specification (revision 34, §5 and §7.5 IK), with node:crypto (X25519,
 * BLAKE2b-512, HMAC-BLAKE2b, ChaCha20-Poly1305) and a test-only BLAKE2b for the keyed
 * MACs — none of it shares code with src/. A few digests are also pinned as literals so a
 * change on both sides at once still shows.
 */
import { describe, it, expect } from 'vitest';
import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
} from 'node:crypto';
import { SeededRandom, type RandomSource } from '@mptun/core';
import { HandshakeInitiator, HandshakeResponder } from '../src/handshake.js';
import { keypairFromPrivateKey } from '../src/keys.js';
import { SecureChannel } from '../src/channel.js';
import { TimestampClock } from '../src/timestamp.js';
import { hmac } from '../src/noise.js';
import { referenceBlake2b } from './blake2b-reference.js';
import { bothBackends, hex } from './helpers.js';

const bytes = (f: (i: number) => number, n = 32): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => f(i) & 0xff));
const CLIENT_PRIV = bytes((i) => i + 1);
const SERVER_PRIV = bytes((i) => i + 0x41);
const CLIENT_EPH = bytes((i) => i + 0x81);
const SERVER_EPH = bytes((i) => 0xc1 + i);
const NOW = 1_700_000_000_123;
const CLIENT_INDEX = 0x11223344;
const SERVER_INDEX = 0x55667788;
const REPLACES = 0x01020304;

// --- The reference, from the spec text -------------------------------------------------
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const privKey = (d: Buffer) => createPrivateKey({ key: Buffer.concat([PKCS8_X25519, d]), format: 'der', type: 'pkcs8' });
const pubOf = (d: Buffer): Buffer => (createPublicKey(privKey(d)).export({ format: 'der', type: 'spki' }) as Buffer).subarray(12);
const DH = (d: Buffer, pub: Buffer): Buffer =>
  diffieHellman({ privateKey: privKey(d), publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, pub]), format: 'der', type: 'spki' }) });
const HASH = (...parts: Uint8Array[]): Buffer => createHash('blake2b512').update(Buffer.concat(parts)).digest();
const HMAC = (k: Uint8Array, d: Uint8Array): Buffer => createHmac('blake2b512', k).update(d).digest();
/** Noise §4.3 HKDF, two outputs. */
const HKDF = (ck: Buffer, ikm: Uint8Array): [Buffer, Buffer] => {
  const t = HMAC(ck, ikm);
  const o1 = HMAC(t, Buffer.of(1));
  return [o1, HMAC(t, Buffer.concat([o1, Buffer.of(2)]))];
};
/** Noise §12.3 ChaChaPoly ENCRYPT(k, n, ad, plaintext). */
const ENCRYPT = (k: Buffer, n: number, ad: Uint8Array, pt: Uint8Array): Buffer => {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(n), 4);
  const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: pt.length });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
};
const u32le = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const MAC = (key: Uint8Array, msg: Uint8Array): Buffer => Buffer.from(referenceBlake2b(16, msg, key));
const mac1KeyOf = (pub: Uint8Array): Buffer => Buffer.from(referenceBlake2b(32, Buffer.concat([Buffer.from('mac1----'), pub])));

function tai64n(nowMs: number): Buffer {
  const b = Buffer.alloc(12);
  const seconds = BigInt(Math.floor(nowMs / 1000));
  b.writeBigUInt64BE((1n << 62n) + 10n + seconds, 0);
  b.writeUInt32BE((nowMs % 1000) * 1_000_000, 8);
  return b;
}

interface Reference {
  initiation: Buffer;
  response: Buffer;
  initiatorToResponder: Buffer;
  responderToInitiator: Buffer;
  h: Buffer;
}

/** An MP_JOIN SYN's size of early data and an answer 4 bytes longer (a SYN/ACK's), fixed bytes. */
const EARLY = bytes((i) => 0x30 + i, 56);
const ANSWER = bytes((i) => 0x90 + i, 60);

/** The reference handshake; a new path's (replaces 0) may carry early data and its answer. */
function referenceHandshake(replaces = REPLACES, early: Buffer = Buffer.alloc(0), answer: Buffer = Buffer.alloc(0)): Reference {
  const si = pubOf(CLIENT_PRIV);
  const sr = pubOf(SERVER_PRIV);
  const ei = pubOf(CLIENT_EPH);
  const er = pubOf(SERVER_EPH);
  // InitializeSymmetric: the 33-byte name fits HASHLEN, so it is zero-padded.
  let h: Buffer = Buffer.alloc(64);
  h.write('Noise_IK_25519_ChaChaPoly_BLAKE2b');
  let ck: Buffer = Buffer.from(h);
  h = HASH(h, Buffer.from('mptun path session v1')); // prologue
  h = HASH(h, sr); // pre-message: <- s
  // -> e, es, s, ss
  h = HASH(h, ei);
  let k: Buffer;
  [ck, k] = HKDF(ck, DH(CLIENT_EPH, sr));
  const encS = ENCRYPT(k.subarray(0, 32), 0, h, si);
  h = HASH(h, encS);
  [ck, k] = HKDF(ck, DH(CLIENT_PRIV, sr));
  const encP = ENCRYPT(k.subarray(0, 32), 0, h, Buffer.concat([tai64n(NOW), u32le(replaces), early]));
  h = HASH(h, encP);
  const body1 = Buffer.concat([Buffer.of(1, 0, 0, 0), u32le(CLIENT_INDEX), ei, encS, encP]);
  const initiation = Buffer.concat([body1, MAC(mac1KeyOf(sr), body1), Buffer.alloc(16)]);
  // <- e, ee, se
  h = HASH(h, er);
  [ck, k] = HKDF(ck, DH(SERVER_EPH, ei));
  [ck, k] = HKDF(ck, DH(SERVER_EPH, si));
  const encE = ENCRYPT(k.subarray(0, 32), 0, h, answer);
  h = HASH(h, encE);
  const body2 = Buffer.concat([Buffer.of(2, 0, 0, 0), u32le(SERVER_INDEX), u32le(CLIENT_INDEX), er, encE]);
  const response = Buffer.concat([body2, MAC(mac1KeyOf(si), body2), Buffer.alloc(16)]);
  // Split()
  const [t1, t2] = HKDF(ck, Buffer.alloc(0));
  return { initiation, response, initiatorToResponder: t1.subarray(0, 32), responderToInitiator: t2.subarray(0, 32), h };
}

/** A RandomSource that hands out fixed byte strings in order. */
function fixedRandom(...chunks: Buffer[]): RandomSource {
  const queue = [...chunks];
  return {
    fill(buf) {
      const next = queue.shift();
      if (next === undefined || next.length !== buf.length) throw new Error('unexpected draw of randomness');
      buf.set(next);
    },
  };
}

/** The first 16 bytes of h after the early-data handshake, as first computed by the reference. */
const EARLY_H_PREFIX = 'a57b37db0d57143e56e1a360563b4b4e';

describe('derivation vectors', async () => {
  const backends = await bothBackends();
  const ref = referenceHandshake();

  it('the test-only BLAKE2b agrees with RFC 7693 appendix A and node:crypto', () => {
    expect(hex(referenceBlake2b(64, Buffer.from('abc')))).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1' +
        '7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    );
    const long = bytes((i) => i * 7, 300);
    expect(hex(referenceBlake2b(64, long))).toBe(createHash('blake2b512').update(long).digest('hex'));
  });

  it('pins the reference itself', () => {
    expect(hex(ref.h).slice(0, 32)).toBe('101c02ffb596891b2fd24d9ce01207d3');
    expect(hex(ref.initiatorToResponder)).toBe('7e491560f02130497f1a2199147f276b2d77aeff307ffdcd894b3964c0323ce9');
  });

  it('TAI64N timestamps', () => {
    expect(hex(new TimestampClock().next(NOW))).toBe(hex(tai64n(NOW)));
    const clock = new TimestampClock();
    const a = clock.next(NOW);
    const b = clock.next(NOW); // same millisecond: one nanosecond later
    const c = clock.next(NOW - 1000); // clock stepped back: still later
    expect(hex(a) < hex(b) && hex(b) < hex(c)).toBe(true);
    expect(Buffer.from(b).readUInt32BE(8)).toBe(123_000_001);
  });

  it('a clock with a sub-millisecond source: its nanoseconds below the millisecond, never going back', () => {
    const draws = [456_789, 5, 999_999];
    const clock = new TimestampClock(() => draws.shift()!);
    const a = clock.next(NOW);
    const b = clock.next(NOW); // drew 5: below a's, so a's plus one nanosecond
    const c = clock.next(NOW + 1);
    expect(Buffer.from(a).readUInt32BE(8)).toBe(123_456_789);
    expect(Buffer.from(b).readUInt32BE(8)).toBe(123_456_790);
    expect(Buffer.from(c).readUInt32BE(8)).toBe(124_999_999);
    expect(hex(a.subarray(0, 8))).toBe(hex(tai64n(NOW).subarray(0, 8)));
  });

  for (const crypto of backends) {
    describe(crypto.name, () => {
      it('HMAC-BLAKE2b matches node:crypto', () => {
        const key = bytes((i) => i * 3, 64);
        const data = bytes((i) => i, 200);
        expect(hex(hmac(crypto, key, data))).toBe(HMAC(key, data).toString('hex'));
      });

      it('keyed BLAKE2b (the MAC) matches the reference', () => {
        const key = bytes((i) => i, 32);
        expect(hex(crypto.blake2b(16, Buffer.from('message'), key))).toBe(hex(referenceBlake2b(16, Buffer.from('message'), key)));
      });

      it('initiation, response, session keys and the first data message', () => {
        const client = keypairFromPrivateKey(crypto, CLIENT_PRIV);
        const server = keypairFromPrivateKey(crypto, SERVER_PRIV);
        expect(hex(client.publicKey)).toBe(pubOf(CLIENT_PRIV).toString('hex'));
        const initiator = new HandshakeInitiator(crypto, {
          staticKeypair: client,
          serverPublicKey: server.publicKey,
          random: fixedRandom(CLIENT_EPH),
        });
        const responder = new HandshakeResponder(crypto, {
          staticKeypair: server,
          isAllowed: () => true,
          random: fixedRandom(SERVER_EPH),
        });
        const pending = initiator.initiate(NOW, CLIENT_INDEX, REPLACES);
        expect(hex(pending.message)).toBe(ref.initiation.toString('hex'));
        const r = responder.consumeInitiation(pending.message, {
          now: NOW,
          source: 'x',
          underLoad: false,
          allocateIndex: () => SERVER_INDEX,
        });
        if (r.kind !== 'accept') throw new Error(r.kind);
        expect(r.replacesIndex).toBe(REPLACES);
        expect(hex(r.response)).toBe(ref.response.toString('hex'));
        expect(hex(r.keys.receiveKey)).toBe(ref.initiatorToResponder.toString('hex'));
        expect(hex(r.keys.sendKey)).toBe(ref.responderToInitiator.toString('hex'));
        expect(hex(r.keys.handshakeHash)).toBe(ref.h.toString('hex'));
        const keys = pending.consumeResponse(r.response)!;
        expect(hex(keys.sendKey)).toBe(ref.initiatorToResponder.toString('hex'));

        // Data: header (type 4, receiver = server's index, counter LE) is the AD; nonce = counter.
        const channel = new SecureChannel(crypto, keys, NOW);
        channel.seal(new Uint8Array(0)); // counter 0: a keepalive
        const header = Buffer.concat([Buffer.of(4, 0, 0, 0), u32le(SERVER_INDEX), Buffer.of(1, 0, 0, 0, 0, 0, 0, 0)]);
        const expected = Buffer.concat([header, ENCRYPT(ref.initiatorToResponder, 1, header, Buffer.from('hello'))]);
        expect(hex(channel.seal(Buffer.from('hello')))).toBe(expected.toString('hex'));
      });

      it('early data: the initiation carries a first segment after the timestamp, the response its answer', () => {
        const early = referenceHandshake(0, EARLY, ANSWER);
        // Pinned: a change of the reference and of src/ together still shows.
        expect(early.initiation.length).toBe(152 + EARLY.length);
        expect(early.response.length).toBe(92 + ANSWER.length);
        expect(hex(early.h).slice(0, 32)).toBe(EARLY_H_PREFIX);
        const server = keypairFromPrivateKey(crypto, SERVER_PRIV);
        const initiator = new HandshakeInitiator(crypto, {
          staticKeypair: keypairFromPrivateKey(crypto, CLIENT_PRIV),
          serverPublicKey: server.publicKey,
          random: fixedRandom(CLIENT_EPH),
        });
        const responder = new HandshakeResponder(crypto, { staticKeypair: server, isAllowed: () => true, random: fixedRandom(SERVER_EPH) });
        const pending = initiator.initiate(NOW, CLIENT_INDEX, 0, EARLY);
        expect(hex(pending.message)).toBe(early.initiation.toString('hex'));
        const seen: string[] = [];
        const r = responder.consumeInitiation(pending.message, {
          now: NOW,
          source: 'x',
          underLoad: false,
          allocateIndex: () => SERVER_INDEX,
          answerEarlyData: (data) => {
            seen.push(hex(data));
            return ANSWER;
          },
        });
        if (r.kind !== 'accept') throw new Error(r.kind);
        expect(seen).toEqual([EARLY.toString('hex')]);
        expect(hex(r.earlyData)).toBe(EARLY.toString('hex'));
        expect(hex(r.response)).toBe(early.response.toString('hex'));
        expect(hex(r.keys.receiveKey)).toBe(early.initiatorToResponder.toString('hex'));
        expect(hex(r.keys.handshakeHash)).toBe(early.h.toString('hex'));
        const keys = pending.consumeResponse(r.response)!;
        expect(hex(keys.sendKey)).toBe(early.initiatorToResponder.toString('hex'));
        expect(hex(pending.earlyAnswer!)).toBe(ANSWER.toString('hex'));
      });

      it('cookie reply and mac2', () => {
        const server = keypairFromPrivateKey(crypto, SERVER_PRIV);
        const initiator = new HandshakeInitiator(crypto, {
          staticKeypair: keypairFromPrivateKey(crypto, CLIENT_PRIV),
          serverPublicKey: server.publicKey,
          random: fixedRandom(CLIENT_EPH, CLIENT_EPH),
        });
        const responder = new HandshakeResponder(crypto, { staticKeypair: server, isAllowed: () => true, random: new SeededRandom(42) });
        const pending = initiator.initiate(NOW, CLIENT_INDEX, REPLACES);
        const source = '127.0.0.2:5555';
        const r = responder.consumeInitiation(pending.message, { now: NOW, source, underLoad: true, allocateIndex: () => 1 });
        if (r.kind !== 'cookie') throw new Error(r.kind);
        // The responder drew its cookie secret (32 bytes), then the reply's nonce (24).
        const draws = new SeededRandom(42);
        const secret = new Uint8Array(32);
        draws.fill(secret);
        const nonce = new Uint8Array(24);
        draws.fill(nonce);
        const cookie = MAC(secret, Buffer.from(source));
        const sealKey = Buffer.from(referenceBlake2b(32, Buffer.concat([Buffer.from('cookie--'), server.publicKey])));
        const oneTime = Buffer.from(referenceBlake2b(32, nonce, sealKey));
        const expectedReply = Buffer.concat([
          Buffer.of(3, 0, 0, 0),
          u32le(CLIENT_INDEX),
          nonce,
          ENCRYPT(oneTime, 0, pending.message.subarray(120, 136), cookie),
        ]);
        expect(hex(r.reply)).toBe(expectedReply.toString('hex'));
        expect(pending.consumeCookieReply(r.reply, NOW)).toBe(true);
        const again = initiator.initiate(NOW + 1, CLIENT_INDEX, REPLACES);
        expect(hex(again.message.subarray(136))).toBe(MAC(cookie, again.message.subarray(0, 136)).toString('hex'));
      });
    });
  }
});
