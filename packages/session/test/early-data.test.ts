/**
 * Early data: a new path's first segment rides the initiation, the server's answer the
 * response (messages.ts, handshake.ts), and PathSession carries it through retries and
 * cookie replies. What must hold: the 152/92-byte forms still mean "none", lengths are
 * checked before anything is read, and nothing that fails a check (macs, cookie, AEAD,
 * replay record) ever reaches the callback that hands the segment on.
 */
import { describe, it, expect } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { SessionError } from '../src/errors.js';
import type { InitiationContext } from '../src/handshake.js';
import { IndexTable, claimFrom } from '../src/index-table.js';
import {
  INITIATION_BYTES,
  MAX_EARLY_DATA_BYTES,
  MessageType,
  RESPONSE_BYTES,
  decodeInitiation,
  decodeResponse,
  maxEarlyAnswer,
  messageType,
} from '../src/messages.js';
import { EARLY_CONFIRM_GRACE_MS, PathSession, type PathSessionOutput, type PathSessionTimers } from '../src/path-session.js';
import { bothBackends, hex, makePair } from './helpers.js';

const NOW = 1_700_000_000_000;
const SYN = Uint8Array.from({ length: 56 }, (_, i) => (i * 7 + 1) & 0xff);
const SYN_ACK = Uint8Array.from({ length: 60 }, (_, i) => (i * 11 + 3) & 0xff);

/** A context whose early-data callback records what reached it and answers SYN_ACK. */
function recordingCtx(overrides: Partial<InitiationContext> = {}): { ctx: InitiationContext; seen: Uint8Array[] } {
  const seen: Uint8Array[] = [];
  let next = 1000;
  const ctx: InitiationContext = {
    now: NOW,
    source: '127.0.0.2:40000',
    underLoad: false,
    allocateIndex: () => next++,
    answerEarlyData: (data) => {
      seen.push(data.slice());
      return SYN_ACK;
    },
    ...overrides,
  };
  return { ctx, seen };
}

const TIMERS = { handshakeTimeoutMs: 5000, handshakeRetryMs: 1000, keepaliveMs: null, idleTimeoutMs: null };

function drain(session: PathSession, now: number): PathSessionOutput[] {
  const out: PathSessionOutput[] = [];
  for (let o = session.poll(now); o !== null; o = session.poll(now)) out.push(o);
  return out;
}

const transmitted = (outs: PathSessionOutput[]): Uint8Array[] => outs.flatMap((o) => (o.kind === 'transmit' ? [o.message] : []));

/** A client session with SYN as early data, brought up by the server's answer at NOW + 1. */
function sessionUpWithAnswer(crypto: Awaited<ReturnType<typeof bothBackends>>[number], seed: number, extra: Partial<PathSessionTimers> = {}): PathSession {
  const p = makePair(crypto, crypto);
  const session = PathSession.initiator({
    ...TIMERS,
    ...extra,
    initiator: p.initiator,
    indexes: claimFrom(new IndexTable<true>(new SeededRandom(seed))),
    now: NOW,
    earlyData: SYN,
  });
  const [init] = transmitted(drain(session, NOW));
  const r = p.responder.consumeInitiation(init!, recordingCtx().ctx);
  if (r.kind !== 'accept') throw new Error(r.kind);
  session.handle(r.response, NOW + 1);
  return session;
}

describe('early data in the handshake', async () => {
  const [crypto] = await bothBackends();

  it('the old lengths mean none: a 152-byte initiation is read as before and gets a 92-byte response', () => {
    const p = makePair(crypto!, crypto!);
    const pending = p.initiator.initiate(NOW, 3);
    expect(pending.message.length).toBe(INITIATION_BYTES);
    const { ctx, seen } = recordingCtx();
    const r = p.responder.consumeInitiation(pending.message, ctx);
    if (r.kind !== 'accept') throw new Error(r.kind);
    expect(seen).toEqual([]); // nothing to hand on
    expect(r.earlyData.length).toBe(0);
    expect(r.response.length).toBe(RESPONSE_BYTES);
    expect(pending.consumeResponse(r.response)).not.toBeNull();
    expect(pending.earlyAnswer!.length).toBe(0);
  });

  it('a new path carries its first segment; the answer comes back in the response', () => {
    const p = makePair(crypto!, crypto!);
    const pending = p.initiator.initiate(NOW, 3, 0, SYN);
    expect(pending.message.length).toBe(INITIATION_BYTES + SYN.length);
    expect(messageType(pending.message)).toBe(MessageType.Initiation);
    const { ctx, seen } = recordingCtx();
    const r = p.responder.consumeInitiation(pending.message, ctx);
    if (r.kind !== 'accept') throw new Error(r.kind);
    expect(seen.map(hex)).toEqual([hex(SYN)]);
    expect(r.response.length).toBe(RESPONSE_BYTES + SYN_ACK.length);
    expect(decodeResponse(r.response).encryptedPayload.length).toBe(SYN_ACK.length + 16);
    expect(pending.consumeResponse(r.response)).not.toBeNull();
    expect(hex(pending.earlyAnswer!)).toBe(hex(SYN_ACK));
  });

  it('a server without the callback ignores the early data and answers as before', () => {
    const p = makePair(crypto!, crypto!);
    const pending = p.initiator.initiate(NOW, 3, 0, SYN);
    const { ctx } = recordingCtx();
    const { answerEarlyData: _, ...plain } = ctx;
    const r = p.responder.consumeInitiation(pending.message, plain);
    if (r.kind !== 'accept') throw new Error(r.kind);
    expect(r.response.length).toBe(RESPONSE_BYTES);
    expect(pending.consumeResponse(r.response)).not.toBeNull();
    expect(pending.earlyAnswer!.length).toBe(0);
  });

  it('too long: the initiator refuses to build it, a receiver drops it unread (typed error from the decoder)', () => {
    const p = makePair(crypto!, crypto!);
    expect(() => p.initiator.initiate(NOW, 3, 0, new Uint8Array(MAX_EARLY_DATA_BYTES + 1))).toThrow(RangeError);
    expect(p.initiator.initiate(NOW, 3, 0, new Uint8Array(MAX_EARLY_DATA_BYTES)).message.length).toBe(INITIATION_BYTES + MAX_EARLY_DATA_BYTES);
    const long = new Uint8Array(INITIATION_BYTES + MAX_EARLY_DATA_BYTES + 1);
    long[0] = MessageType.Initiation;
    expect(messageType(long)).toBeNull();
    expect(() => decodeInitiation(long)).toThrow(SessionError);
    try {
      decodeInitiation(long);
    } catch (err) {
      expect((err as SessionError).code).toBe('ERR_MPTUN_BAD_MESSAGE');
    }
    const { ctx, seen } = recordingCtx();
    expect(p.responder.consumeInitiation(long, ctx)).toEqual({ kind: 'drop', reason: 'malformed' });
    // One byte short of the old form is no initiation either.
    expect(p.responder.consumeInitiation(long.subarray(0, INITIATION_BYTES - 1), ctx)).toEqual({ kind: 'drop', reason: 'malformed' });
    expect(seen).toEqual([]);
  });

  it('a rekey carries none: the initiator refuses, and a server hands on none', () => {
    const p = makePair(crypto!, crypto!);
    expect(() => p.initiator.initiate(NOW, 3, 77, SYN)).toThrow(RangeError);
  });

  it('a tampered byte anywhere in an initiation with early data is dropped before the segment is handed on', () => {
    const p = makePair(crypto!, crypto!);
    const msg = p.initiator.initiate(NOW, 3, 0, SYN).message;
    const { ctx, seen } = recordingCtx();
    // mac2 (the last 16 bytes) is read only under load.
    for (let i = 0; i < msg.length - 16; i++) {
      const bad = msg.slice();
      bad[i]! ^= 0x01 << i % 8;
      const r = p.responder.consumeInitiation(bad, ctx);
      expect(r.kind, `byte ${i}`).toBe('drop');
    }
    // Cut short or grown by a byte: the macs no longer sit where the sender put them.
    expect(p.responder.consumeInitiation(msg.subarray(0, msg.length - 1), ctx).kind).toBe('drop');
    const grown = new Uint8Array(msg.length + 1);
    grown.set(msg);
    expect(p.responder.consumeInitiation(grown, ctx).kind).toBe('drop');
    expect(seen).toEqual([]);
    expect(p.responder.consumeInitiation(msg, ctx).kind).toBe('accept');
    expect(seen.length).toBe(1);
  });

  it('a replayed initiation never hands its segment on, however often it comes', () => {
    const p = makePair(crypto!, crypto!);
    const msg = p.initiator.initiate(NOW, 3, 0, SYN).message;
    const { ctx, seen } = recordingCtx();
    expect(p.responder.consumeInitiation(msg, ctx).kind).toBe('accept');
    for (let i = 0; i < 5; i++) expect(p.responder.consumeInitiation(msg, { ...ctx, now: NOW + i * 1000 })).toEqual({ kind: 'drop', reason: 'replay' });
    expect(seen.length).toBe(1);
  });

  it('an answer longer than the early data allows is left out; a response carrying one is refused', () => {
    const p = makePair(crypto!, crypto!);
    const pending = p.initiator.initiate(NOW, 3, 0, SYN.subarray(0, 8));
    const tooLong = new Uint8Array(maxEarlyAnswer(8) + 1);
    const r = p.responder.consumeInitiation(pending.message, { ...recordingCtx().ctx, answerEarlyData: () => tooLong });
    if (r.kind !== 'accept') throw new Error(r.kind);
    expect(r.response.length).toBe(RESPONSE_BYTES);
    expect(r.earlyAnswer.length).toBe(0);
    // A forged response of that length (the client sent 8 bytes) is refused before any work.
    const forged = new Uint8Array(RESPONSE_BYTES + maxEarlyAnswer(8) + 1);
    forged.set(r.response.subarray(0, 12));
    expect(pending.consumeResponse(forged)).toBeNull();
    expect(pending.consumeResponse(r.response)).not.toBeNull();
  });

  it('PathSession: retries and the initiation after a cookie reply carry the same segment', () => {
    const p = makePair(crypto!, crypto!);
    const session = PathSession.initiator({
      ...TIMERS,
      initiator: p.initiator,
      indexes: claimFrom(new IndexTable<true>(new SeededRandom(7))),
      now: NOW,
      earlyData: SYN,
    });
    const first = transmitted(drain(session, NOW));
    const retry = transmitted(drain(session, NOW + TIMERS.handshakeRetryMs));
    expect(first.length).toBe(1);
    expect(retry.length).toBe(1);
    const { ctx, seen } = recordingCtx({ underLoad: true });
    // Under load the server wants proof of address: a cookie reply, and the segment is not handed on.
    const cookie = p.responder.consumeInitiation(retry[0]!, ctx);
    if (cookie.kind !== 'cookie') throw new Error(cookie.kind);
    expect(seen).toEqual([]);
    expect(session.handle(cookie.reply, NOW + 1001)).toBe(true);
    const again = transmitted(drain(session, NOW + 1001));
    expect(again.length).toBe(1);
    for (const m of [first[0]!, retry[0]!, again[0]!]) expect(m.length).toBe(INITIATION_BYTES + SYN.length);
    const r = p.responder.consumeInitiation(again[0]!, ctx);
    if (r.kind !== 'accept') throw new Error(r.kind);
    expect(seen.map(hex)).toEqual([hex(SYN)]);

    // Up with the answer; the keys are confirmed by the first sealed segment, not by an empty message.
    expect(session.handle(r.response, NOW + 1002)).toBe(true);
    const up = drain(session, NOW + 1002);
    expect(up.map((o) => o.kind)).toEqual(['up']);
    expect(hex(session.earlyAnswer!)).toBe(hex(SYN_ACK));
    const sealed = session.seal(new Uint8Array([1, 2, 3]), NOW + 1003);
    expect(sealed).not.toBeNull();
    expect(drain(session, NOW + 1002 + EARLY_CONFIRM_GRACE_MS)).toEqual([]);
  });

  it('PathSession: with nothing sealed after the answer, an empty message confirms the keys after the grace', () => {
    const session = sessionUpWithAnswer(crypto!, 8);
    expect(drain(session, NOW + 1).map((o) => o.kind)).toEqual(['up']);
    expect(session.nextDeadline()).toBe(NOW + 1 + EARLY_CONFIRM_GRACE_MS);
    const late = drain(session, NOW + 1 + EARLY_CONFIRM_GRACE_MS);
    expect(late.map((o) => o.kind)).toEqual(['transmit']);
    expect(messageType(transmitted(late)[0]!)).toBe(MessageType.Data);
  });

  it('PathSession: a path MTU search sends no probe before the engine\'s first segment confirmed the keys', () => {
    const session = sessionUpWithAnswer(crypto!, 10, { pmtu: { base: 1200, max: 1472 } });
    // Up, and nothing else: no probe ahead of the third ACK.
    expect(drain(session, NOW + 1).map((o) => o.kind)).toEqual(['up']);
    expect(drain(session, NOW + 2)).toEqual([]);
    const third = session.seal(new Uint8Array(52), NOW + 3)!;
    expect(messageType(third)).toBe(MessageType.Data);
    // Now the search may start: its first probe goes out.
    const after = transmitted(drain(session, NOW + 3));
    expect(after.map((m) => messageType(m))).toEqual([MessageType.Probe]);
  });

  it('PathSession: a rekey initiation of a session that began with early data carries none', () => {
    const session = sessionUpWithAnswer(crypto!, 9, { silenceMs: 3000 });
    drain(session, NOW + 1);
    session.seal(new Uint8Array(1), NOW + 2);
    // Silence: the client handshakes again, naming its keys (a rekey of the same path).
    const outs = drain(session, NOW + 3100);
    const rekey = transmitted(outs).filter((m) => messageType(m) === MessageType.Initiation);
    expect(outs.some((o) => o.kind === 'silent')).toBe(true);
    expect(rekey.length).toBe(1);
    expect(rekey[0]!.length).toBe(INITIATION_BYTES);
  });
});
