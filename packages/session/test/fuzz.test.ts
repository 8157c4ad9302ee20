/**
 * Every decoder of untrusted bytes against fast-check: random buffers and mutated valid
 * messages, 20 000 of each per decoder. Decoders may only throw SessionError
 * (ERR_MPTUN_BAD_MESSAGE); the receive paths (open, consume*) may not throw at all, and
 * nothing that was changed may authenticate.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SessionError } from '../src/errors.js';
import {
  decodeCookieReply,
  decodeDataHeader,
  decodeInitiation,
  decodeResponse,
  messageType,
  receiverIndex,
  MessageType,
  INIT_MAC2,
} from '../src/messages.js';
import { decodeKey } from '../src/keys.js';
import { libsodiumWrappersBackend } from '../src/crypto/libsodium-wrappers.js';
import { channels, handshake, makePair, text } from './helpers.js';

const RUNS = 20_000;
const SEED = 0xf022;
const NOW = 1_700_000_000_000;

/** A valid message with some bytes overwritten, maybe cut short or lengthened. */
function mutated(valid: Uint8Array[]): fc.Arbitrary<{ original: Uint8Array; bytes: Uint8Array }> {
  return fc
    .record({
      which: fc.nat({ max: valid.length - 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ which, edits, cut, extra }) => {
      const original = valid[which]!;
      let bytes: Uint8Array = original.slice();
      for (const e of edits) bytes[e.at % bytes.length] = e.value;
      if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
      else if (extra.length > 0) bytes = Uint8Array.from([...bytes, ...extra]);
      return { original, bytes };
    });
}

const randomBytes = fc.uint8Array({ maxLength: 200 });
const same = (a: Uint8Array, b: Uint8Array, upTo = Math.max(a.length, b.length)): boolean =>
  a.length === b.length && a.subarray(0, upTo).every((x, i) => x === b[i]);

function onlySessionErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SessionError);
    expect((e as SessionError).code).toBe('ERR_MPTUN_BAD_MESSAGE');
  }
}

describe('fuzzing the decoders', async () => {
  const crypto = await libsodiumWrappersBackend();
  const p = makePair(crypto, crypto, 3);
  const pending = p.initiator.initiate(NOW, 42);
  const accepted = p.responder.consumeInitiation(pending.message, {
    now: NOW,
    source: 's',
    underLoad: false,
    allocateIndex: () => 4242,
  });
  if (accepted.kind !== 'accept') throw new Error('set-up handshake failed');
  const cookieResult = p.responder.consumeInitiation(pending.message, { now: NOW, source: 's', underLoad: true, allocateIndex: () => 1 });
  if (cookieResult.kind !== 'cookie') throw new Error('set-up cookie failed');
  const keys = handshake(p, NOW + 1, 43);
  const ch = channels(crypto, crypto, keys, NOW);
  const data = [ch.client.seal(text('a segment of some length')), ch.client.seal(new Uint8Array(0)), ch.client.seal(new Uint8Array(1168))];
  const valid = [pending.message, accepted.response, cookieResult.reply, ...data];
  console.log(`fuzz seed ${SEED}`);

  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeInitiation', decodeInitiation],
    ['decodeResponse', decodeResponse],
    ['decodeCookieReply', decodeCookieReply],
    ['decodeDataHeader', decodeDataHeader],
  ];
  for (const [name, decode] of decoders) {
    it(`${name}: only SessionError, random and mutated`, () => {
      fc.assert(fc.property(randomBytes, (b) => onlySessionErrors(() => decode(b))), { seed: SEED, numRuns: RUNS });
      fc.assert(fc.property(mutated(valid), ({ bytes }) => onlySessionErrors(() => decode(bytes))), { seed: SEED, numRuns: RUNS });
    });
  }

  it('messageType and receiverIndex never throw and agree with the decoders', () => {
    const check = (b: Uint8Array) => {
      const t = messageType(b);
      const r = receiverIndex(b);
      if (t === null || t === MessageType.Initiation) expect(r).toBeNull();
      else expect(r).toBeTypeOf('number');
      if (t === MessageType.Initiation) expect(() => decodeInitiation(b)).not.toThrow();
      if (t === MessageType.Response) expect(decodeResponse(b).receiverIndex).toBe(r);
      if (t === MessageType.CookieReply) expect(decodeCookieReply(b).receiverIndex).toBe(r);
    };
    fc.assert(fc.property(randomBytes, check), { seed: SEED, numRuns: RUNS });
    fc.assert(fc.property(mutated(valid), ({ bytes }) => check(bytes)), { seed: SEED, numRuns: RUNS });
  });

  it('SecureChannel.open never throws and opens nothing that was changed', () => {
    const server = channels(crypto, crypto, keys, NOW).server;
    fc.assert(fc.property(randomBytes, (b) => {
      expect(server.open(b)).toBeNull();
    }), { seed: SEED, numRuns: RUNS });
    fc.assert(
      fc.property(mutated(data), ({ original, bytes }) => {
        const out = server.open(bytes);
        if (!same(original, bytes)) expect(out).toBeNull();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('HandshakeResponder.consumeInitiation never throws and accepts nothing that was changed', () => {
    const ctx = { now: NOW, source: 'f', underLoad: false, allocateIndex: () => 7 };
    fc.assert(fc.property(randomBytes, (b) => {
      expect(p.responder.consumeInitiation(b, ctx).kind).toBe("drop");
    }), {
      seed: SEED,
      numRuns: RUNS,
    });
    const fresh = p.initiator.initiate(NOW + 5, 44).message;
    fc.assert(
      fc.property(mutated([fresh]), ({ original, bytes }) => {
        const r = p.responder.consumeInitiation(bytes, ctx);
        // mac2 is not read when the server is not under load.
        if (!same(original.subarray(0, INIT_MAC2), bytes.subarray(0, INIT_MAC2)) || bytes.length !== original.length) {
          expect(r.kind).toBe('drop');
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('PendingInitiation.consumeResponse / consumeCookieReply never throw and take nothing changed', () => {
    const live = p.initiator.initiate(NOW + 9, 45);
    const r = p.responder.consumeInitiation(live.message, { now: NOW + 9, source: 's', underLoad: false, allocateIndex: () => 99 });
    const c = p.responder.consumeInitiation(live.message, { now: NOW + 9, source: 's', underLoad: true, allocateIndex: () => 98 });
    if (r.kind !== 'accept' || c.kind !== 'cookie') throw new Error('set-up failed');
    fc.assert(
      fc.property(randomBytes, (b) => {
        expect(live.consumeResponse(b)).toBeNull();
        expect(live.consumeCookieReply(b, NOW)).toBe(false);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    fc.assert(
      fc.property(mutated([r.response, c.reply]), ({ original, bytes }) => {
        if (same(original, bytes)) return;
        expect(live.consumeResponse(bytes)).toBeNull();
        expect(live.consumeCookieReply(bytes, NOW)).toBe(false);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(live.consumeResponse(r.response)).not.toBeNull();
  });

  it('decodeKey: only ERR_MPTUN_BAD_KEY, on random text and mutated keys', () => {
    const good = 'q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=';
    const check = (s: string) => {
      try {
        expect(decodeKey(s)).toHaveLength(32);
      } catch (e) {
        expect(e).toBeInstanceOf(SessionError);
        expect((e as SessionError).code).toBe('ERR_MPTUN_BAD_KEY');
      }
    };
    fc.assert(fc.property(fc.string({ maxLength: 60 }), check), { seed: SEED, numRuns: RUNS });
    fc.assert(
      fc.property(fc.nat({ max: 43 }), fc.string({ minLength: 1, maxLength: 1 }), (at, ch) => check(good.slice(0, at) + ch + good.slice(at + 1))),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
