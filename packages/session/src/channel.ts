/**
 * The data channel of one path after its handshake: every datagram is sealed with
 * ChaCha20-Poly1305 under the session key, a 64-bit counter as nonce, and the 16-byte
 * header as associated data; the receiver drops anything that does not authenticate or
 * whose counter it has seen (replay-window.ts).
 *
 * Keys are rotated by a fresh handshake (the client starts it when needsRekey(now) says
 * so). A channel holds up to three key sets, as WireGuard does:
 * - current: used to send;
 * - previous: the one current replaced, still accepted for a grace period so that
 *   packets in flight during a rekey are not lost, then zeroed;
 * - next (server side only): keys from a rekey handshake, promoted to current as soon as
 *   the client's first datagram under them arrives (the proof that it has them).
 * Every key set is retired (zeroed) once older than rejectAfterMs or used for
 * rejectAfterMessages datagrams.
 */
import { Slab } from '@mptun/core';
import type { CryptoBackend } from './crypto/backend.js';
import { AEAD_NONCE_BYTES } from './crypto/backend.js';
import { SessionError } from './errors.js';
import type { TransportKeys } from './handshake.js';
import { DATA_COUNTER, DATA_HEADER_BYTES, DATA_OVERHEAD_BYTES, DATA_RECEIVER, MessageType, readU32, writeCounter, writeU32 } from './messages.js';
import { noiseNonce } from './noise.js';
import { ReplayWindow } from './replay-window.js';

export interface ChannelLimits {
  /** The client rekeys when the current keys are this old. */
  rekeyAfterMs: number;
  /** …or after this many datagrams either way under them. */
  rekeyAfterMessages: number;
  /** Keys are never used past this age… */
  rejectAfterMs: number;
  /** …nor past this many datagrams (must stay below 2^53). */
  rejectAfterMessages: number;
  /** How long replaced keys still decrypt stragglers. */
  previousKeyGraceMs: number;
}

/** WireGuard's timings (§6.1), and message limits far below the nonce space. */
export const DEFAULT_CHANNEL_LIMITS: Readonly<ChannelLimits> = {
  rekeyAfterMs: 120_000,
  rekeyAfterMessages: 2 ** 40,
  rejectAfterMs: 180_000,
  rejectAfterMessages: 2 ** 41,
  previousKeyGraceMs: 10_000,
};

export interface ChannelOptions {
  limits?: Partial<ChannelLimits>;
  /** Called with our index of each key set as it is zeroed: the owner unfiles it. */
  onKeyRetired?: (localIndex: number) => void;
}

/** One key set and its counters. */
class KeySet {
  sendCounter = 0;
  readonly replay = new ReplayWindow();
  /** When it stopped being current (set by maintain()); null while current or next. */
  demotedAt: number | null = null;
  private readonly sendNonce = new Uint8Array(AEAD_NONCE_BYTES);
  private readonly receiveNonce = new Uint8Array(AEAD_NONCE_BYTES);

  constructor(
    readonly keys: TransportKeys,
    readonly createdAt: number,
  ) {}

  nextSendNonce(counter: number): Uint8Array {
    return noiseNonce(counter, this.sendNonce);
  }

  receiveNonceFor(counter: number): Uint8Array {
    return noiseNonce(counter, this.receiveNonce);
  }

  zero(): void {
    this.keys.sendKey.fill(0);
    this.keys.receiveKey.fill(0);
  }
}

const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/** Where sealed datagrams are written: they are sent (or dropped) soon after, by every channel. */
const datagrams = new Slab();

export class SecureChannel {
  readonly isInitiator: boolean;
  readonly peerPublicKey: Uint8Array;
  private readonly limits: ChannelLimits;
  private readonly onKeyRetired: ((localIndex: number) => void) | undefined;
  private current: KeySet | null;
  private previous: KeySet | null = null;
  private next: KeySet | null = null;
  private isConfirmed: boolean;

  constructor(
    private readonly crypto: CryptoBackend,
    keys: TransportKeys,
    now: number,
    opts: ChannelOptions = {},
  ) {
    this.limits = { ...DEFAULT_CHANNEL_LIMITS, ...opts.limits };
    if (!(this.limits.rejectAfterMessages < 2 ** 53)) throw new RangeError('rejectAfterMessages must be below 2^53');
    this.onKeyRetired = opts.onKeyRetired;
    this.isInitiator = keys.isInitiator;
    this.peerPublicKey = keys.peerPublicKey;
    this.current = new KeySet(keys, now);
    // The initiator knows the server has the keys (it answered); the server learns that
    // the client has them from the client's first datagram.
    this.isConfirmed = keys.isInitiator;
  }

  /** True once the peer proved it holds the keys (always for the client). */
  get confirmed(): boolean {
    return this.isConfirmed;
  }

  /** True until destroy() or until every key set expired. */
  get usable(): boolean {
    return this.current !== null;
  }

  /** Our index of the current keys (the server files the path under it). */
  get localIndex(): number {
    return this.current?.keys.localIndex ?? 0;
  }

  /** The peer's index of the current keys (a rekey initiation names it as replaced). */
  get remoteIndex(): number {
    return this.current?.keys.remoteIndex ?? 0;
  }

  /** Our indexes of every live key set. */
  get localIndexes(): number[] {
    const out: number[] = [];
    for (const set of [this.current, this.previous, this.next]) if (set !== null) out.push(set.keys.localIndex);
    return out;
  }

  /** Datagrams sealed under the current keys. */
  get sentUnderCurrentKeys(): number {
    return this.current?.sendCounter ?? 0;
  }

  /**
   * Adds the keys of a completed rekey handshake. On the client they become current at
   * once (the old ones turn previous); on the server they wait as `next` until the client
   * uses them.
   */
  install(keys: TransportKeys, now: number): void {
    if (keys.isInitiator !== this.isInitiator) throw new RangeError('keys of the other role');
    const set = new KeySet(keys, now);
    if (this.isInitiator) {
      this.retire(this.previous);
      this.previous = this.current;
      if (this.previous !== null) this.previous.demotedAt = now;
      this.current = set;
    } else {
      this.retire(this.next);
      this.next = set;
    }
  }

  /**
   * Seals one plaintext (an empty one is a keepalive) into a data datagram under the
   * current keys. Throws ERR_MPTUN_KEY_EXHAUSTED when no key may send any more.
   */
  seal(plaintext: Uint8Array, type: typeof MessageType.Data | typeof MessageType.Probe = MessageType.Data): Uint8Array {
    const set = this.current;
    if (set === null || set.sendCounter >= this.limits.rejectAfterMessages) {
      throw new SessionError('ERR_MPTUN_KEY_EXHAUSTED', 'the channel has no key that may send; rekey first');
    }
    const counter = set.sendCounter++;
    const out = datagrams.take(DATA_OVERHEAD_BYTES + plaintext.length);
    out[0] = type; // inside the associated data: a peer cannot be fooled about which it is
    writeU32(out, DATA_RECEIVER, set.keys.remoteIndex);
    writeCounter(out, DATA_COUNTER, counter);
    this.crypto.aeadSeal(
      out.subarray(DATA_HEADER_BYTES),
      plaintext,
      out.subarray(0, DATA_HEADER_BYTES),
      set.nextSendNonce(counter),
      set.keys.sendKey,
    );
    return out;
  }

  /**
   * Opens a data datagram: its plaintext (empty for a keepalive), or null to drop it
   * silently — malformed, unknown index, bad tag, replayed, or too old. Never throws.
   * With `now`, keys this datagram demotes start their grace period at once; without it,
   * at the next maintain().
   */
  open(datagram: Uint8Array, now?: number): Uint8Array | null {
    return this.openInto(datagram, now, false);
  }

  /**
   * open(), decrypting where the ciphertext lies: the plaintext is a view into `datagram`,
   * whose bytes are overwritten (garbage when it is dropped). For a receive buffer no one
   * reads again; it saves an allocation and a copy per datagram.
   */
  openInPlace(datagram: Uint8Array, now?: number): Uint8Array | null {
    return this.openInto(datagram, now, true);
  }

  private openInto(datagram: Uint8Array, now: number | undefined, inPlace: boolean): Uint8Array | null {
    if (
      datagram.length < DATA_OVERHEAD_BYTES ||
      (datagram[0] !== MessageType.Data && datagram[0] !== MessageType.Probe) ||
      (datagram[1]! | datagram[2]! | datagram[3]!) !== 0
    ) {
      return null;
    }
    const index = readU32(datagram, DATA_RECEIVER);
    const set = this.keySetFor(index);
    if (set === null) return null;
    const high = readU32(datagram, DATA_COUNTER + 4);
    if (high > MAX_SAFE_HIGH_WORD) return null;
    const counter = high * 0x1_0000_0000 + readU32(datagram, DATA_COUNTER);
    if (counter >= this.limits.rejectAfterMessages || !set.replay.check(counter)) return null;
    const size = datagram.length - DATA_OVERHEAD_BYTES;
    // In place: the plaintext starts where the ciphertext does (the tag follows it).
    const plaintext = inPlace ? datagram.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + size) : new Uint8Array(size);
    const ok = this.crypto.aeadOpen(
      plaintext,
      datagram.subarray(DATA_HEADER_BYTES),
      datagram.subarray(0, DATA_HEADER_BYTES),
      set.receiveNonceFor(counter),
      set.keys.receiveKey,
    );
    if (!ok || !set.replay.accept(counter)) return null;
    if (set === this.next) this.promoteNext(now);
    else if (set === this.current) this.isConfirmed = true;
    return plaintext;
  }

  /**
   * True when the client should start a rekey handshake: the current keys are old or
   * much used. Always false on the server, which never initiates.
   */
  needsRekey(now: number): boolean {
    const set = this.current;
    if (!this.isInitiator || set === null) return false;
    return (
      now - set.createdAt >= this.limits.rekeyAfterMs ||
      set.sendCounter >= this.limits.rekeyAfterMessages ||
      set.replay.highest >= this.limits.rekeyAfterMessages
    );
  }

  /**
   * When the current keys become old enough for needsRekey (client only), or null. The
   * message-count limits are not times: callers check needsRekey as they send.
   */
  rekeyDueAt(): number | null {
    if (!this.isInitiator || this.current === null) return null;
    return this.current.createdAt + this.limits.rekeyAfterMs;
  }

  /**
   * The earliest time maintain() has work: a previous key set's grace ends, or any key
   * set reaches rejectAfterMs. Null when no key set is held. A previous set not yet
   * stamped (promoted by open() without `now`) counts as due now.
   */
  nextExpiry(): number | null {
    let at = Infinity;
    for (const set of [this.current, this.next]) if (set !== null) at = Math.min(at, set.createdAt + this.limits.rejectAfterMs);
    const prev = this.previous;
    if (prev !== null) {
      at = Math.min(at, prev.createdAt + this.limits.rejectAfterMs, prev.demotedAt === null ? -Infinity : prev.demotedAt + this.limits.previousKeyGraceMs);
    }
    return at === Infinity ? null : at;
  }

  /**
   * Retires key sets whose time is up: previous ones after the grace period, any one
   * past rejectAfterMs. Call it from time to time (a driver's tick). Returns `usable`.
   */
  maintain(now: number): boolean {
    if (this.previous !== null) {
      this.previous.demotedAt ??= now;
      if (now - this.previous.demotedAt >= this.limits.previousKeyGraceMs || this.expired(this.previous, now)) {
        this.retire(this.previous);
        this.previous = null;
      }
    }
    if (this.next !== null && this.expired(this.next, now)) {
      this.retire(this.next);
      this.next = null;
    }
    if (this.current !== null && this.expired(this.current, now)) {
      this.retire(this.current);
      this.current = null;
    }
    return this.current !== null;
  }

  /** Zeroes every key and reports every index retired. */
  destroy(): void {
    for (const set of [this.previous, this.next, this.current]) this.retire(set);
    this.previous = this.next = this.current = null;
  }

  private expired(set: KeySet, now: number): boolean {
    return (
      now - set.createdAt >= this.limits.rejectAfterMs ||
      set.sendCounter >= this.limits.rejectAfterMessages ||
      set.replay.highest >= this.limits.rejectAfterMessages - 1
    );
  }

  private keySetFor(index: number): KeySet | null {
    if (this.current !== null && this.current.keys.localIndex === index) return this.current;
    if (this.next !== null && this.next.keys.localIndex === index) return this.next;
    if (this.previous !== null && this.previous.keys.localIndex === index) return this.previous;
    return null;
  }

  /** Server side: the client sent under the rekeyed keys, so they become current. */
  private promoteNext(now: number | undefined): void {
    this.retire(this.previous);
    this.previous = this.current;
    if (this.previous !== null) this.previous.demotedAt = now ?? null; // else maintain() stamps it
    this.current = this.next;
    this.next = null;
    this.isConfirmed = true;
  }

  private retire(set: KeySet | null): void {
    if (set === null) return;
    set.zero();
    this.onKeyRetired?.(set.keys.localIndex);
  }
}
