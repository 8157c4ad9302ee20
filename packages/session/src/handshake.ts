/**
 * The path session's key exchange: Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise revision 34,
 * §7.5 pattern IK), shaped like WireGuard's but on BLAKE2b and without a PSK.
 *
 *   IK:
 *     <- s                      the client knows (pins) the server's static key
 *     ...
 *     -> e, es, s, ss           initiation: client ephemeral, client static encrypted,
 *                               payload = TAI64N timestamp ‖ index of the session replaced
 *                               ‖ early data (a new path's first segment, or nothing)
 *     <- e, ee, se              response: server ephemeral, payload = early answer (the
 *                               server's reply to the early data, or nothing)
 *
 * After the response both sides Split() into two ChaCha20-Poly1305 keys. The ephemeral
 * keys give forward secrecy; the server admits a client only if `isAllowed(static key)`
 * and only if the timestamp is newer than the last one it accepted from that key.
 *
 * Early data rides message 1 after "ss" (Noise §7.5 allows a payload there): it is
 * encrypted and bound to the client's static key, but, unlike the session's data, could be
 * replayed; so the server hands it on only after the replay record took the timestamp, and
 * never for a rekey. The server's answer is sealed after "ee, se" (forward secret).
 *
 * Every message carries mac1/mac2 (see cookie.ts); the server checks mac1 before any
 * Diffie-Hellman. As in WireGuard, an initiation's mac2 is read only while the server is
 * under load (it covers no secret, only the proof of address); a response's mac2 must
 * be zero. Sender and receiver indexes (u32, never 0) let each side find the
 * session by index rather than by source address, so a path may roam.
 *
 * Sans-IO: time is the caller's `now` (ms since the Unix epoch — the timestamp is wall
 * clock), randomness comes from a RandomSource.
 */
import type { RandomSource } from '@mptun/core';
import { X25519_KEY_BYTES, cryptoRandomSource, type CryptoBackend } from './crypto/backend.js';
import {
  COOKIE_USE_MS,
  CookieChecker,
  cookieKey,
  mac,
  mac1Key,
  openCookieReply,
} from './cookie.js';
import { SessionError } from './errors.js';
import { keysEqual, requireKeyBytes, type Keypair } from './keys.js';
import {
  COOKIE_RECEIVER,
  INITIATION_BYTES,
  INITIATION_PAYLOAD_BYTES,
  INIT_EPHEMERAL,
  INIT_PAYLOAD,
  INIT_SENDER,
  INIT_STATIC,
  MAC_BYTES,
  MAX_EARLY_DATA_BYTES,
  MessageType,
  RESPONSE_BYTES,
  RESP_EMPTY,
  RESP_EPHEMERAL,
  RESP_RECEIVER,
  RESP_SENDER,
  mac1Offset,
  mac2Offset,
  maxEarlyAnswer,
  messageType,
  readU32,
  writeType,
  writeU32,
} from './messages.js';
import { SymmetricState, prologueBytes } from './noise.js';
import { ReplayRecord } from './replay-record.js';
import { TIMESTAMP_BYTES, TimestampClock } from './timestamp.js';

/** What a completed handshake hands to a SecureChannel. */
export interface TransportKeys {
  /** Our index for this session: the peer writes it as receiver index. */
  readonly localIndex: number;
  /** The peer's index for this session: we write it as receiver index. */
  readonly remoteIndex: number;
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  readonly isInitiator: boolean;
  readonly peerPublicKey: Uint8Array;
  /** Noise's final h: identifies this handshake (channel binding). */
  readonly handshakeHash: Uint8Array;
}

/** h and ck after InitializeSymmetric, MixHash(prologue) and the pre-message MixHash(rs). */
function initialState(crypto: CryptoBackend, responderStatic: Uint8Array): SymmetricState {
  const state = new SymmetricState(crypto);
  state.mixHash(prologueBytes());
  state.mixHash(responderStatic);
  return state;
}

function cloneState(crypto: CryptoBackend, from: SymmetricState): SymmetricState {
  const state = new SymmetricState(crypto);
  state.h = from.h.slice();
  state.ck = from.ck.slice();
  return state;
}

function newEphemeral(crypto: CryptoBackend, random: RandomSource): Keypair {
  const privateKey = new Uint8Array(X25519_KEY_BYTES);
  random.fill(privateKey);
  return { privateKey, publicKey: crypto.x25519Base(privateKey) };
}

const ZERO_MAC = new Uint8Array(MAC_BYTES);
const EMPTY = new Uint8Array(0);

function requireIndex(index: number, what: string): void {
  if (!Number.isInteger(index) || index < 1 || index > 0xffff_ffff) {
    throw new RangeError(`${what} must be an integer in 1..2^32-1, got ${index}`);
  }
}

export interface InitiatorOptions {
  /** The client's static keypair. */
  staticKeypair: Keypair;
  /** The server's static public key, pinned: a server without its private key cannot answer. */
  serverPublicKey: Uint8Array;
  /** Source of ephemeral keys. Default: the backend's CSPRNG. */
  random?: RandomSource;
  /** Shared by every initiator of one static key (see timestamp.ts). Default: a private clock. */
  clock?: TimestampClock;
}

/**
 * The client's side, one per path (it holds that path's cookie). Each call to initiate()
 * makes a fresh initiation; a PendingInitiation then takes the server's reply.
 */
export class HandshakeInitiator {
  readonly serverPublicKey: Uint8Array;
  private readonly staticKeypair: Keypair;
  private readonly random: RandomSource;
  private readonly clock: TimestampClock;
  private readonly base: SymmetricState;
  /** DH(s, rs) is the same for every handshake: computed once. */
  private readonly staticShared: Uint8Array;
  private readonly serverMac1Key: Uint8Array;
  readonly ownMac1Key: Uint8Array;
  readonly serverCookieKey: Uint8Array;
  private cookie: Uint8Array | null = null;
  private cookieReceivedAt = 0;

  constructor(
    readonly crypto: CryptoBackend,
    opts: InitiatorOptions,
  ) {
    requireKeyBytes(opts.staticKeypair.privateKey, 'static private key');
    requireKeyBytes(opts.staticKeypair.publicKey, 'static public key');
    requireKeyBytes(opts.serverPublicKey, 'server public key');
    this.staticKeypair = opts.staticKeypair;
    this.serverPublicKey = opts.serverPublicKey.slice();
    this.random = opts.random ?? cryptoRandomSource(crypto);
    this.clock = opts.clock ?? new TimestampClock();
    const shared = crypto.x25519(this.staticKeypair.privateKey, this.serverPublicKey);
    if (shared === null) throw new SessionError('ERR_MPTUN_BAD_KEY', 'the server public key is a low-order point');
    this.staticShared = shared;
    this.base = initialState(crypto, this.serverPublicKey);
    this.serverMac1Key = mac1Key(crypto, this.serverPublicKey);
    this.ownMac1Key = mac1Key(crypto, this.staticKeypair.publicKey);
    this.serverCookieKey = cookieKey(crypto, this.serverPublicKey);
  }

  /**
   * Message 1. `localIndex` is where the caller files the pending handshake (the server's
   * reply names it); `replacesIndex` is the server's index of the session this one
   * rekeys, or 0 for a new path. `earlyData` (a new path only, at most
   * MAX_EARLY_DATA_BYTES) rides the encrypted payload; the response may answer it.
   */
  initiate(now: number, localIndex: number, replacesIndex = 0, earlyData: Uint8Array = EMPTY): PendingInitiation {
    requireIndex(localIndex, 'localIndex');
    if (replacesIndex !== 0) requireIndex(replacesIndex, 'replacesIndex');
    if (earlyData.length > MAX_EARLY_DATA_BYTES) throw new RangeError(`early data of ${earlyData.length} bytes is over ${MAX_EARLY_DATA_BYTES}`);
    if (earlyData.length > 0 && replacesIndex !== 0) throw new RangeError('a rekey initiation carries no early data');
    const crypto = this.crypto;
    const state = cloneState(crypto, this.base);
    const ephemeral = newEphemeral(crypto, this.random);
    const msg = new Uint8Array(INITIATION_BYTES + earlyData.length);
    const macAt = mac1Offset(msg.length);
    writeType(msg, MessageType.Initiation);
    writeU32(msg, INIT_SENDER, localIndex);

    // -> e
    msg.set(ephemeral.publicKey, INIT_EPHEMERAL);
    state.mixHash(ephemeral.publicKey);
    // -> es
    const es = crypto.x25519(ephemeral.privateKey, this.serverPublicKey)!; // the key passed the low-order check
    state.mixKey(es);
    es.fill(0);
    // -> s
    msg.set(state.encryptAndHash(this.staticKeypair.publicKey), INIT_STATIC);
    // -> ss
    state.mixKey(this.staticShared);
    // payload: timestamp ‖ replaced index ‖ early data
    const payload = new Uint8Array(INITIATION_PAYLOAD_BYTES + earlyData.length);
    payload.set(this.clock.next(now), 0);
    writeU32(payload, TIMESTAMP_BYTES, replacesIndex);
    payload.set(earlyData, INITIATION_PAYLOAD_BYTES);
    msg.set(state.encryptAndHash(payload), INIT_PAYLOAD);

    msg.set(mac(crypto, this.serverMac1Key, msg.subarray(0, macAt)), macAt);
    const cookie = this.currentCookie(now);
    if (cookie !== null) msg.set(mac(crypto, cookie, msg.subarray(0, mac2Offset(msg.length))), mac2Offset(msg.length));
    return new PendingInitiation(this, state, ephemeral, localIndex, msg, now, earlyData.length);
  }

  /** True while a cookie received from the server may be offered as mac2. */
  hasCookie(now: number): boolean {
    return this.currentCookie(now) !== null;
  }

  private currentCookie(now: number): Uint8Array | null {
    if (this.cookie !== null && now - this.cookieReceivedAt >= COOKIE_USE_MS) {
      this.cookie.fill(0);
      this.cookie = null;
    }
    return this.cookie;
  }

  /** @internal Called by PendingInitiation when a cookie reply authenticates. */
  storeCookie(cookie: Uint8Array, now: number): void {
    this.cookie?.fill(0);
    this.cookie = cookie;
    this.cookieReceivedAt = now;
  }

  /** @internal The pieces PendingInitiation needs to finish the handshake. */
  finishResponse(state: SymmetricState, ephemeral: Keypair, responderEphemeral: Uint8Array): boolean {
    const crypto = this.crypto;
    // <- e
    state.mixHash(responderEphemeral);
    // <- ee
    const ee = crypto.x25519(ephemeral.privateKey, responderEphemeral);
    if (ee === null) return false;
    state.mixKey(ee);
    ee.fill(0);
    // <- se (the initiator's side of it: DH(s, re))
    const se = crypto.x25519(this.staticKeypair.privateKey, responderEphemeral)!;
    state.mixKey(se);
    se.fill(0);
    return true;
  }
}

/** One initiation in flight: it takes the response or a cookie reply that answers it. */
export class PendingInitiation {
  private done = false;
  private readonly sentMac1: Uint8Array;
  private answer: Uint8Array | null = null;

  constructor(
    private readonly initiator: HandshakeInitiator,
    private readonly state: SymmetricState,
    private readonly ephemeral: Keypair,
    readonly localIndex: number,
    /** The datagram to send. */
    readonly message: Uint8Array,
    readonly startedAt: number,
    /** How many bytes of early data the message carries. */
    readonly earlyDataBytes = 0,
  ) {
    this.sentMac1 = message.slice(mac1Offset(message.length), mac2Offset(message.length));
  }

  /** The server's early answer in the response that completed this initiation (empty when none), else null. */
  get earlyAnswer(): Uint8Array | null {
    return this.answer;
  }

  /** True once a response completed it or it was destroyed. */
  get finished(): boolean {
    return this.done;
  }

  /**
   * Takes a cookie reply: true when it answers this initiation and authenticates; the
   * cookie is then stored in the initiator for the next initiate(). The caller should
   * send a fresh initiation.
   */
  consumeCookieReply(datagram: Uint8Array, now: number): boolean {
    if (this.done || messageType(datagram) !== MessageType.CookieReply) return false;
    if (readU32(datagram, COOKIE_RECEIVER) !== this.localIndex) return false;
    const cookie = openCookieReply(this.initiator.crypto, this.initiator.serverCookieKey, datagram, this.sentMac1);
    if (cookie === null) return false;
    this.initiator.storeCookie(cookie, now);
    return true;
  }

  /**
   * Takes the server's response: the session keys, or null (and no change) when it is not
   * a response to this initiation or does not authenticate. Single use on success.
   */
  consumeResponse(datagram: Uint8Array): TransportKeys | null {
    if (this.done || messageType(datagram) !== MessageType.Response) return null;
    if (readU32(datagram, RESP_RECEIVER) !== this.localIndex) return null;
    // An answer longer than our early data allows is not one the server sends.
    if (datagram.length - RESPONSE_BYTES > maxEarlyAnswer(this.earlyDataBytes)) return null;
    const crypto = this.initiator.crypto;
    const macAt = mac1Offset(datagram.length);
    const expectedMac1 = mac(crypto, this.initiator.ownMac1Key, datagram.subarray(0, macAt));
    if (!keysEqual(expectedMac1, datagram.subarray(macAt, macAt + MAC_BYTES))) return null;
    // Servers send no mac2 (clients hand out no cookies): anything but zeros is tampering.
    if (!keysEqual(datagram.subarray(macAt + MAC_BYTES), ZERO_MAC)) return null;
    const remoteIndex = readU32(datagram, RESP_SENDER);
    if (remoteIndex === 0) return null;

    // Work on a copy, so a forged response leaves this initiation able to take the real one.
    const state = cloneState(crypto, this.state);
    const responderEphemeral = datagram.slice(RESP_EPHEMERAL, RESP_EMPTY);
    if (!this.initiator.finishResponse(state, this.ephemeral, responderEphemeral)) {
      state.destroy();
      return null;
    }
    const answer = state.decryptAndHash(datagram.subarray(RESP_EMPTY, macAt));
    if (answer === null) {
      state.destroy();
      return null;
    }
    this.answer = answer;
    const [initiatorToResponder, responderToInitiator] = state.split();
    const handshakeHash = state.h.slice();
    state.destroy();
    this.destroy();
    return {
      localIndex: this.localIndex,
      remoteIndex,
      sendKey: initiatorToResponder,
      receiveKey: responderToInitiator,
      isInitiator: true,
      peerPublicKey: this.initiator.serverPublicKey.slice(),
      handshakeHash,
    };
  }

  /** Forgets the ephemeral secret (on success, timeout or close). */
  destroy(): void {
    this.done = true;
    this.ephemeral.privateKey.fill(0);
    this.state.destroy();
  }
}

export interface ResponderOptions {
  /** The server's static keypair. */
  staticKeypair: Keypair;
  /**
   * Whether a client static key may connect. Called with a key the sender claims before
   * that claim is proven (proof comes right after), so it must be a cheap lookup.
   */
  isAllowed: (publicKey: Uint8Array) => boolean;
  /** Source of ephemeral keys, cookie secrets and nonces. Default: the backend's CSPRNG. */
  random?: RandomSource;
  /**
   * Newest accepted timestamp per client key. Share one record between every responder
   * of one server key (every listener), and persist it, so that no listener and no
   * restart accepts a captured initiation. Default: a record of this responder's own.
   */
  replay?: ReplayRecord;
}

export interface InitiationContext {
  /** Wall-clock ms since the Unix epoch (cookie secret rotation). */
  now: number;
  /** The sender's address as an opaque string (e.g. "192.0.2.1:4500"): cookies bind to it. */
  source: string;
  /** When true, an initiation without a valid mac2 gets a cookie reply instead of a handshake. */
  underLoad: boolean;
  /** A fresh, unused, non-zero index for the new session; called only on success. */
  allocateIndex: () => number;
  /**
   * Takes the early data of a new path's initiation (never of a rekey), called only after
   * every check passed, the replay record included, and returns the answer to seal into the
   * response (null or too long: none; at most maxEarlyAnswer(data.length) bytes). Without
   * it early data is ignored, as a server from before early data would.
   */
  answerEarlyData?: (data: Uint8Array, peerPublicKey: Uint8Array) => Uint8Array | null;
}

export type InitiationResult =
  | {
      kind: 'drop';
      reason: 'malformed' | 'mac1' | 'bad-key' | 'decrypt' | 'not-allowed' | 'replay';
    }
  | { kind: 'cookie'; reply: Uint8Array }
  | {
      kind: 'accept';
      /** The datagram to send back. */
      response: Uint8Array;
      keys: TransportKeys;
      /** The server index the client says this session replaces (0: a new path). */
      replacesIndex: number;
      /** The early data the initiation carried (empty when none). */
      earlyData: Uint8Array;
      /** The early answer sealed into the response (empty when none). */
      earlyAnswer: Uint8Array;
    };

/** The server's side, one per listening endpoint (the replay record may be shared). */
export class HandshakeResponder {
  private readonly staticKeypair: Keypair;
  private readonly isAllowed: (publicKey: Uint8Array) => boolean;
  private readonly random: RandomSource;
  private readonly base: SymmetricState;
  private readonly cookies: CookieChecker;
  /** Newest accepted timestamp per client static key (only keys that proved themselves). */
  private readonly replay: ReplayRecord;

  constructor(
    readonly crypto: CryptoBackend,
    opts: ResponderOptions,
  ) {
    requireKeyBytes(opts.staticKeypair.privateKey, 'static private key');
    requireKeyBytes(opts.staticKeypair.publicKey, 'static public key');
    this.staticKeypair = opts.staticKeypair;
    this.isAllowed = opts.isAllowed;
    this.random = opts.random ?? cryptoRandomSource(crypto);
    this.base = initialState(crypto, this.staticKeypair.publicKey);
    this.cookies = new CookieChecker(crypto, this.staticKeypair.publicKey, this.random);
    this.replay = opts.replay ?? new ReplayRecord();
  }

  /** How many client keys have a recorded timestamp (bounded by the allowed set). */
  get knownClients(): number {
    return this.replay.size;
  }

  /**
   * Processes an initiation, cheapest checks first: shape, mac1, then (under load) mac2,
   * then the Noise work. Never throws for bad input; a drop leaves no state behind.
   */
  consumeInitiation(datagram: Uint8Array, ctx: InitiationContext): InitiationResult {
    if (messageType(datagram) !== MessageType.Initiation) return { kind: 'drop', reason: 'malformed' };
    const senderIndex = readU32(datagram, INIT_SENDER);
    if (senderIndex === 0) return { kind: 'drop', reason: 'malformed' };
    if (!this.cookies.checkMac1(datagram)) return { kind: 'drop', reason: 'mac1' };
    if (ctx.underLoad && !this.cookies.checkMac2(datagram, ctx.source, ctx.now)) {
      return { kind: 'cookie', reply: this.cookies.createReply(datagram, ctx.source, ctx.now) };
    }

    const crypto = this.crypto;
    const state = cloneState(crypto, this.base);
    try {
      // -> e
      const initiatorEphemeral = datagram.slice(INIT_EPHEMERAL, INIT_STATIC);
      state.mixHash(initiatorEphemeral);
      // -> es (the responder's side: DH(s, re))
      const es = crypto.x25519(this.staticKeypair.privateKey, initiatorEphemeral);
      if (es === null) return { kind: 'drop', reason: 'bad-key' };
      state.mixKey(es);
      es.fill(0);
      // -> s
      const initiatorStatic = state.decryptAndHash(datagram.subarray(INIT_STATIC, INIT_PAYLOAD));
      if (initiatorStatic === null) return { kind: 'drop', reason: 'decrypt' };
      if (!this.isAllowed(initiatorStatic)) return { kind: 'drop', reason: 'not-allowed' };
      // -> ss
      const ss = crypto.x25519(this.staticKeypair.privateKey, initiatorStatic);
      if (ss === null) return { kind: 'drop', reason: 'bad-key' };
      state.mixKey(ss);
      ss.fill(0);
      const payload = state.decryptAndHash(datagram.subarray(INIT_PAYLOAD, mac1Offset(datagram.length)));
      if (payload === null) return { kind: 'drop', reason: 'decrypt' };

      // The sender proved it holds the static key; now refuse a replay of an old initiation.
      if (!this.replay.accept(initiatorStatic, payload.subarray(0, TIMESTAMP_BYTES))) return { kind: 'drop', reason: 'replay' };
      const replacesIndex = readU32(payload, TIMESTAMP_BYTES);
      const earlyData = payload.slice(INITIATION_PAYLOAD_BYTES);
      let earlyAnswer: Uint8Array = EMPTY;
      if (earlyData.length > 0 && replacesIndex === 0 && ctx.answerEarlyData) {
        const answer = ctx.answerEarlyData(earlyData, initiatorStatic);
        if (answer !== null && answer.length <= maxEarlyAnswer(earlyData.length)) earlyAnswer = answer;
      }

      // Message 2.
      const localIndex = ctx.allocateIndex();
      requireIndex(localIndex, 'allocated index');
      const ephemeral = newEphemeral(crypto, this.random);
      const response = new Uint8Array(RESPONSE_BYTES + earlyAnswer.length);
      const macAt = mac1Offset(response.length);
      writeType(response, MessageType.Response);
      writeU32(response, RESP_SENDER, localIndex);
      writeU32(response, RESP_RECEIVER, senderIndex);
      // <- e
      response.set(ephemeral.publicKey, RESP_EPHEMERAL);
      state.mixHash(ephemeral.publicKey);
      // <- ee
      const ee = crypto.x25519(ephemeral.privateKey, initiatorEphemeral)!; // re passed the es check
      state.mixKey(ee);
      ee.fill(0);
      // <- se (the responder's side: DH(e, rs))
      const se = crypto.x25519(ephemeral.privateKey, initiatorStatic)!; // rs passed the ss check
      state.mixKey(se);
      se.fill(0);
      ephemeral.privateKey.fill(0);
      response.set(state.encryptAndHash(earlyAnswer), RESP_EMPTY);
      response.set(mac(crypto, mac1Key(crypto, initiatorStatic), response.subarray(0, macAt)), macAt);
      // mac2 stays zero: clients send no cookies.

      const [initiatorToResponder, responderToInitiator] = state.split();
      return {
        kind: 'accept',
        response,
        replacesIndex,
        earlyData,
        earlyAnswer,
        keys: {
          localIndex,
          remoteIndex: senderIndex,
          sendKey: responderToInitiator,
          receiveKey: initiatorToResponder,
          isInitiator: false,
          peerPublicKey: initiatorStatic,
          handshakeHash: state.h.slice(),
        },
      };
    } finally {
      state.destroy();
    }
  }
}
