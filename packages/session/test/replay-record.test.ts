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

  it('initiations of parallel paths that arrive out of order are each taken once (reorder window)', () => {
    const record = new ReplayRecord();
    // Two paths opened in the same instant: the later stamp arrives first.
    const a = initiator.initiate(now + 20, 4).message;
    const b = initiator.initiate(now + 20, 5).message;
    expect(responder(record).consumeInitiation(b, ctx(now + 20)).kind).toBe('accept');
    expect(responder(record).consumeInitiation(a, ctx(now + 20)).kind).toBe('accept');
    expect(responder(record).consumeInitiation(a, ctx(now + 21))).toEqual({ kind: 'drop', reason: 'replay' });
    expect(responder(record).consumeInitiation(b, ctx(now + 21))).toEqual({ kind: 'drop', reason: 'replay' });
    // One older than the window is refused, as is anything after a restart that is not newer
    // (a second initiator: the first one's clock never goes back).
    const other = new HandshakeInitiator(crypto, { staticKeypair: client, serverPublicKey: server.publicKey, random: new SeededRandom(SEED + 4) });
    const stale = other.initiate(now + 20 - REORDER_WINDOW_MS - 1, 6).message;
    const newest = initiator.initiate(now + 23, 8).message;
    const late = other.initiate(now + 22, 7).message;
    expect(responder(record).consumeInitiation(stale, ctx(now + 20))).toEqual({ kind: 'drop', reason: 'replay' });
    expect(responder(record).consumeInitiation(newest, ctx(now + 23)).kind).toBe('accept');
    expect(responder(ReplayRecord.decode(record.encode())).consumeInitiation(late, ctx(now + 23))).toEqual({ kind: 'drop', reason: 'replay' });
    expect(responder(record).consumeInitiation(late, ctx(now + 23)).kind).toBe('accept');
  });

  it('remembers a bounded number of stamps per key: past that, the oldest remembered is the floor', () => {
    const record = new ReplayRecord();
    const clock = new TimestampClock();
    const key = client.publicKey;
    const stamps = Array.from({ length: 40 }, (_, i) => clock.next(now + i));
    expect(record.accept(key, stamps[39]!)).toBe(true);
    // Taken newest first: 31 older ones fit beside it; the 32nd is taken as the new floor,
    // and every one older than that is refused.
    const taken = stamps.slice(0, 39).reverse().map((s) => record.accept(key, s));
    expect(taken).toEqual([...Array(32).fill(true), ...Array(7).fill(false)]);
    for (const s of stamps) expect(record.accept(key, s)).toBe(false);
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
