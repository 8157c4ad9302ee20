/** One replay record per server key: shared by its responders, and carried across a restart. */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { libsodiumWrappersBackend } from '../src/crypto/libsodium-wrappers.js';
import { HandshakeInitiator, HandshakeResponder } from '../src/handshake.js';
import { REORDER_WINDOW_MS, ReplayRecord } from '../src/replay-record.js';
import { TimestampClock } from '../src/timestamp.js';
import { seededKeypair } from './helpers.js';

const SEED = 614;

describe(`ReplayRecord (seed ${SEED})`, async () => {
  const crypto = await libsodiumWrappersBackend();
  const server = seededKeypair(crypto, SEED);
  const client = seededKeypair(crypto, SEED + 1);
  const responder = (replay: ReplayRecord): HandshakeResponder =>
    new HandshakeResponder(crypto, { staticKeypair: server, isAllowed: () => true, replay, random: new SeededRandom(SEED + 2) });
  const ctx = (now: number) => ({ now, source: 'x', underLoad: false, allocateIndex: () => 5 });
  const initiator = new HandshakeInitiator(crypto, { staticKeypair: client, serverPublicKey: server.publicKey, random: new SeededRandom(SEED + 3) });
  const now = 1_790_000_000_000;

  it('an initiation accepted by one responder is refused by another sharing the record', () => {
    const shared = new ReplayRecord();
    const captured = initiator.initiate(now, 1).message;
    expect(responder(shared).consumeInitiation(captured, ctx(now)).kind).toBe('accept');
    expect(responder(shared).consumeInitiation(captured, ctx(now))).toEqual({ kind: 'drop', reason: 'replay' });
    // A responder with a record of its own (the old per-listener behaviour) would accept it.
    expect(responder(new ReplayRecord()).consumeInitiation(captured, ctx(now)).kind).toBe('accept');
    // The client's next initiation is newer and accepted.
    expect(responder(shared).consumeInitiation(initiator.initiate(now + 1, 2).message, ctx(now + 1)).kind).toBe('accept');
  });

  it('survives encode/decode (a restart), and says when it changed', () => {
    const before = new ReplayRecord();
    let changes = 0;
    before.onChange = () => changes++;
    const captured = initiator.initiate(now + 10, 3).message;
    expect(responder(before).consumeInitiation(captured, ctx(now + 10)).kind).toBe('accept');
    expect(changes).toBe(1);
    const after = ReplayRecord.decode(before.encode());
    expect(after.size).toBe(1);
    expect(responder(after).consumeInitiation(captured, ctx(now + 10))).toEqual({ kind: 'drop', reason: 'replay' });
  });

  it('two paths handshaking at once over routes of different delay: the earlier stamp arriving second is taken, each only once', () => {
    const clock = new TimestampClock();
    const record = new ReplayRecord();
    const fast = clock.next(now + 100);
    const slow = clock.next(now); // the shared clock never goes back: asked for an earlier time, still newer
    const early = new TimestampClock().next(now); // another clock's stamp of an earlier time, arriving after `fast`
    expect(record.accept(client.publicKey, fast)).toBe(true);
    expect(record.accept(client.publicKey, early)).toBe(true);
    expect(record.accept(client.publicKey, early)).toBe(false); // a replay of it
    expect(record.accept(client.publicKey, fast)).toBe(false);
    expect(record.accept(client.publicKey, slow)).toBe(true); // newer than fast
    // Older than the window behind the newest: refused.
    expect(record.accept(client.publicKey, new TimestampClock().next(now + 100 - REORDER_WINDOW_MS - 1))).toBe(false);
    // Through the handshake: the responder takes an initiation that was overtaken.
    const shared = new ReplayRecord();
    const first = initiator.initiate(now + 5000, 7).message;
    const second = initiator.initiate(now + 5020, 8).message;
    expect(responder(shared).consumeInitiation(second, ctx(now + 5020)).kind).toBe('accept');
    expect(responder(shared).consumeInitiation(first, ctx(now + 5040)).kind).toBe('accept');
    expect(responder(shared).consumeInitiation(first, ctx(now + 5060))).toEqual({ kind: 'drop', reason: 'replay' });
    expect(responder(shared).consumeInitiation(second, ctx(now + 5060))).toEqual({ kind: 'drop', reason: 'replay' });
  });

  it('remembers at most 32 stamps in the window: older ones than those are refused; a decoded record takes nothing at or below its newest', () => {
    const record = new ReplayRecord();
    const stamps = Array.from({ length: 40 }, (_, i) => new TimestampClock().next(now + i));
    expect(record.accept(client.publicKey, stamps[39]!)).toBe(true);
    for (let i = 38; i >= 0; i--) expect(record.accept(client.publicKey, stamps[i]!), `stamp ${i}`).toBe(i >= 7);
    for (const s of stamps) expect(record.accept(client.publicKey, s)).toBe(false);
    const restored = ReplayRecord.decode(record.encode());
    const between = new TimestampClock().next(now + 38.5);
    expect(new ReplayRecord().accept(client.publicKey, between)).toBe(true);
    expect(restored.accept(client.publicKey, between)).toBe(false);
    expect(restored.accept(client.publicKey, new TimestampClock().next(now + 40))).toBe(true);
  });

  it('decode refuses damaged bytes with ERR_MPTUN_BAD_MESSAGE', () => {
    const good = new ReplayRecord();
    good.accept(client.publicKey, new Uint8Array(12).fill(1));
    const bytes = good.encode();
    for (const bad of [new Uint8Array(0), new Uint8Array(3), bytes.subarray(0, bytes.length - 1), new Uint8Array([255, 255, 255, 255])]) {
      expect(() => ReplayRecord.decode(bad)).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_BAD_MESSAGE' }));
    }
  });
});
