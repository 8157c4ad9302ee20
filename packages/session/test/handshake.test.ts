import { describe, it, expect } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { HandshakeInitiator, HandshakeResponder } from '../src/handshake.js';
import { mac, mac1Key } from '../src/cookie.js';
import { INIT_MAC1, INIT_MAC2, INITIATION_BYTES, MessageType, messageType, receiverIndex } from '../src/messages.js';
import { TimestampClock } from '../src/timestamp.js';
import { bothBackends, channels, handshake, hex, makePair, seededKeypair, text } from './helpers.js';

const NOW = 1_700_000_000_000;
const ctx = (overrides: Partial<{ now: number; source: string; underLoad: boolean }> = {}) => {
  let next = 1000;
  return { now: NOW, source: '127.0.0.2:40000', underLoad: false, allocateIndex: () => next++, ...overrides };
};

describe('Noise IK handshake', async () => {
  const backends = await bothBackends();

  for (const a of backends) {
    for (const b of backends) {
      it(`completes and carries traffic both ways: client ${a.name}, server ${b.name}`, () => {
        const p = makePair(a, b);
        const keys = handshake(p, NOW, 7);
        expect(hex(keys.client.sendKey)).toBe(hex(keys.server.receiveKey));
        expect(hex(keys.client.receiveKey)).toBe(hex(keys.server.sendKey));
        expect(hex(keys.client.handshakeHash)).toBe(hex(keys.server.handshakeHash));
        expect(hex(keys.server.peerPublicKey)).toBe(hex(p.client.publicKey));
        expect(keys.client.remoteIndex).toBe(keys.server.localIndex);
        expect(keys.server.remoteIndex).toBe(7);
        const ch = channels(a, b, keys, NOW);
        expect(ch.server.confirmed).toBe(false);
        const up = ch.client.seal(text('client to server'));
        expect(messageType(up)).toBe(MessageType.Data);
        expect(receiverIndex(up)).toBe(keys.server.localIndex);
        expect(new TextDecoder().decode(ch.server.open(up)!)).toBe('client to server');
        expect(ch.server.confirmed).toBe(true);
        const down = ch.server.seal(text('server to client'));
        expect(new TextDecoder().decode(ch.client.open(down)!)).toBe('server to client');
      });
    }
  }

  it('the same inputs give the same bytes on both backends', () => {
    const [lw, sn] = backends as [(typeof backends)[0], (typeof backends)[0]];
    const run = (crypto: typeof lw) => {
      const p = makePair(crypto, crypto, 5);
      const pending = p.initiator.initiate(NOW, 9);
      const r = p.responder.consumeInitiation(pending.message, ctx());
      if (r.kind !== 'accept') throw new Error(r.kind);
      return hex(pending.message) + hex(r.response) + hex(r.keys.sendKey) + hex(r.keys.receiveKey);
    };
    expect(run(lw)).toBe(run(sn));
  });

  for (const crypto of backends) {
    describe(crypto.name, () => {
      it('a client pinning the wrong server key gets nothing: mac1 fails before any DH', () => {
        const p = makePair(crypto, crypto);
        const wrong = new HandshakeInitiator(crypto, {
          staticKeypair: p.client,
          serverPublicKey: seededKeypair(crypto, 999).publicKey,
        });
        let allocated = 0;
        const r = p.responder.consumeInitiation(wrong.initiate(NOW, 3).message, {
          ...ctx(),
          allocateIndex: () => ++allocated,
        });
        expect(r).toEqual({ kind: 'drop', reason: 'mac1' });
        expect(allocated).toBe(0);
        expect(p.responder.knownClients).toBe(0);
      });

      it('a server without the pinned private key cannot answer', () => {
        const p = makePair(crypto, crypto);
        const impostorKeys = seededKeypair(crypto, 77);
        // The impostor claims the real public key (so mac1 checks out) without its private key.
        const impostor = new HandshakeResponder(crypto, {
          staticKeypair: { publicKey: p.server.publicKey, privateKey: impostorKeys.privateKey },
          isAllowed: () => true,
        });
        const pending = p.initiator.initiate(NOW, 3);
        const r = impostor.consumeInitiation(pending.message, ctx());
        expect(r.kind).toBe('drop');
      });

      it('a client that is not allowed gets nothing and leaves no state', () => {
        const p = makePair(crypto, crypto);
        p.allowed.clear();
        let allocated = 0;
        const r = p.responder.consumeInitiation(p.initiator.initiate(NOW, 3).message, {
          ...ctx(),
          allocateIndex: () => ++allocated,
        });
        expect(r).toEqual({ kind: 'drop', reason: 'not-allowed' });
        expect(allocated).toBe(0);
        expect(p.responder.knownClients).toBe(0);
      });

      it('refuses a replayed initiation, and an older one, but takes a newer one', () => {
        const p = makePair(crypto, crypto);
        const older = p.initiator.initiate(NOW - 5000, 1);
        const first = p.initiator.initiate(NOW, 2);
        expect(p.responder.consumeInitiation(first.message, ctx()).kind).toBe('accept');
        expect(p.responder.consumeInitiation(first.message, ctx())).toEqual({ kind: 'drop', reason: 'replay' });
        expect(p.responder.consumeInitiation(older.message, ctx())).toEqual({ kind: 'drop', reason: 'replay' });
        expect(p.responder.consumeInitiation(p.initiator.initiate(NOW, 3).message, ctx()).kind).toBe('accept');
      });

      it('two paths of one client in the same millisecond both get in (shared clock)', () => {
        const p = makePair(crypto, crypto);
        const clock = new TimestampClock();
        const second = new HandshakeInitiator(crypto, { staticKeypair: p.client, serverPublicKey: p.server.publicKey, clock });
        const first = new HandshakeInitiator(crypto, { staticKeypair: p.client, serverPublicKey: p.server.publicKey, clock });
        expect(p.responder.consumeInitiation(first.initiate(NOW, 1).message, ctx()).kind).toBe('accept');
        expect(p.responder.consumeInitiation(second.initiate(NOW, 2).message, ctx()).kind).toBe('accept');
      });

      it('a tampered byte anywhere in an initiation is dropped with no state', () => {
        const p = makePair(crypto, crypto);
        const msg = p.initiator.initiate(NOW, 3).message;
        // mac2 is only read under load (below); every other byte is covered by mac1 or the AEAD.
        for (let i = 0; i < INIT_MAC2; i++) {
          const bad = msg.slice();
          bad[i]! ^= 0x01 << i % 8;
          let allocated = 0;
          const r = p.responder.consumeInitiation(bad, { ...ctx(), allocateIndex: () => ++allocated });
          expect(r.kind, `byte ${i}`).toBe('drop');
          expect(allocated).toBe(0);
        }
        expect(p.responder.knownClients).toBe(0);
        expect(p.responder.consumeInitiation(msg, ctx()).kind).toBe('accept');
      });

      it('a tampered byte anywhere in a response is refused and the real one still works', () => {
        const p = makePair(crypto, crypto);
        const pending = p.initiator.initiate(NOW, 3);
        const r = p.responder.consumeInitiation(pending.message, ctx());
        if (r.kind !== 'accept') throw new Error(r.kind);
        for (let i = 0; i < r.response.length; i++) {
          const bad = r.response.slice();
          bad[i]! ^= 0x80 >> i % 8;
          expect(pending.consumeResponse(bad), `byte ${i}`).toBeNull();
        }
        expect(pending.consumeResponse(r.response)).not.toBeNull();
        // Single use: a replayed response does nothing more.
        expect(pending.consumeResponse(r.response)).toBeNull();
      });

      it('under load: cookie reply first (no DH, no state), then a mac2 initiation gets in', () => {
        const p = makePair(crypto, crypto);
        let allocated = 0;
        const load = { ...ctx({ underLoad: true }), allocateIndex: () => ++allocated + 100 };
        const first = p.initiator.initiate(NOW, 3);
        const r1 = p.responder.consumeInitiation(first.message, load);
        expect(r1.kind).toBe('cookie');
        if (r1.kind !== 'cookie') return;
        expect(messageType(r1.reply)).toBe(MessageType.CookieReply);
        expect(receiverIndex(r1.reply)).toBe(3);
        expect(allocated).toBe(0);
        expect(p.responder.knownClients).toBe(0);

        // A tampered cookie reply is ignored.
        for (let i = 0; i < r1.reply.length; i++) {
          const bad = r1.reply.slice();
          bad[i]! ^= 0x04;
          expect(first.consumeCookieReply(bad, NOW), `byte ${i}`).toBe(false);
        }
        expect(p.initiator.hasCookie(NOW)).toBe(false);
        expect(first.consumeCookieReply(r1.reply, NOW)).toBe(true);
        expect(p.initiator.hasCookie(NOW)).toBe(true);

        const second = p.initiator.initiate(NOW + 10, 4);
        // The cookie is bound to the source address: from elsewhere it is worth nothing.
        expect(p.responder.consumeInitiation(second.message, { ...load, source: '127.0.0.3:40000' }).kind).toBe('cookie');
        // A tampered mac2 gets another cookie, not a session.
        const badMac2 = second.message.slice();
        badMac2[INITIATION_BYTES - 1]! ^= 1;
        expect(p.responder.consumeInitiation(badMac2, load).kind).toBe('cookie');
        expect(allocated).toBe(0);
        const r2 = p.responder.consumeInitiation(second.message, load);
        expect(r2.kind).toBe('accept');
        if (r2.kind === 'accept') expect(second.consumeResponse(r2.response)).not.toBeNull();
        // The client stops offering the cookie once it is old.
        expect(p.initiator.hasCookie(NOW + 120_000)).toBe(false);
      });

      it('a cookie reply meant for another initiation does not fit', () => {
        const p = makePair(crypto, crypto);
        const a = p.initiator.initiate(NOW, 3);
        const b = p.initiator.initiate(NOW, 3); // same index, different mac1
        const r = p.responder.consumeInitiation(a.message, ctx({ underLoad: true }));
        if (r.kind !== 'cookie') throw new Error(r.kind);
        expect(b.consumeCookieReply(r.reply, NOW)).toBe(false);
        expect(a.consumeCookieReply(r.reply, NOW)).toBe(true);
      });

      it('the rekey initiation names the session it replaces', () => {
        const p = makePair(crypto, crypto);
        const first = handshake(p, NOW, 3);
        const second = handshake(p, NOW + 1, 4, first.client.remoteIndex);
        expect(second.server.localIndex).not.toBe(first.server.localIndex);
        const pending = p.initiator.initiate(NOW + 2, 5, first.client.remoteIndex);
        const r = p.responder.consumeInitiation(pending.message, ctx());
        expect(r.kind === 'accept' && r.replacesIndex).toBe(first.client.remoteIndex);
      });

      it('ephemeral keys differ per handshake (forward secrecy): same static keys, new session keys', () => {
        const p = makePair(crypto, crypto);
        const one = handshake(p, NOW, 3);
        const two = handshake(p, NOW + 1, 3);
        expect(hex(one.client.sendKey)).not.toBe(hex(two.client.sendKey));
      });

      it('refuses a low-order server key and out-of-range indexes', () => {
        const p = makePair(crypto, crypto);
        expect(() => new HandshakeInitiator(crypto, { staticKeypair: p.client, serverPublicKey: new Uint8Array(32) })).toThrow(
          expect.objectContaining({ code: 'ERR_MPTUN_BAD_KEY' }),
        );
        expect(() => p.initiator.initiate(NOW, 0)).toThrow(RangeError);
        expect(() => p.initiator.initiate(NOW, 2 ** 32)).toThrow(RangeError);
      });

      it('a low-order ephemeral in an initiation is dropped', () => {
        const p = makePair(crypto, crypto);
        // Rebuild an initiation with a zero ephemeral but a valid mac1: only the DH can notice.
        const r = new HandshakeInitiator(crypto, {
          staticKeypair: p.client,
          serverPublicKey: p.server.publicKey,
          random: new SeededRandom(1),
        });
        const msg = r.initiate(NOW, 3).message;
        msg.fill(0, 8, 40);
        msg.set(mac(crypto, mac1Key(crypto, p.server.publicKey), msg.subarray(0, INIT_MAC1)), INIT_MAC1);
        expect(p.responder.consumeInitiation(msg, ctx())).toEqual({ kind: 'drop', reason: 'bad-key' });
      });
    });
  }
});
