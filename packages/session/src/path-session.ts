/**
 * One path's session, sans-IO, for every transport: the handshake with its retries and
 * cookie replies, the sealed data channel, rekeying, keepalives and the idle timeout.
 * The caller moves bytes and time:
 *
 *   handle(message, now)  a message that arrived (handshake or data)
 *   seal(plaintext, now)  a segment to send, sealed (null: no key may send)
 *   poll(now)             runs due timers, then the next output: a message to transmit,
 *                         'up' once, 'silent'/'heard' as the peer goes quiet and comes
 *                         back, or 'down' once with a typed reason; null when none
 *   nextDeadline()        when poll() should next be called, or null
 *
 * Initiator (client): sends an initiation, another every retryMs until one is answered
 * or handshakeTimeoutMs passes. Every initiation still in flight is kept (its ephemeral
 * secret and index) until that deadline, so a response to any of them completes the
 * session: on a path whose round trip is longer than the retry interval, the answer is
 * always to an older initiation (issue 14, item 10). 'up' comes with the response; the
 * first thing sent is an empty sealed message that confirms the keys to the server.
 * Early data: a new path's first segment (`earlyData`) rides every initiation of the
 * handshake (retries and the one after a cookie reply alike), and the server's answer to it
 * (`earlyAnswer`) comes with the response. Then no empty message goes out at once: the
 * engine's reply to the answer is the first sealed message and confirms the keys; the empty
 * one follows only if nothing was sealed within EARLY_CONFIRM_GRACE_MS.
 * When nothing authenticated has come for silenceMs, the initiator reports 'silent' and
 * handshakes again on the same path, naming its keys: a live server that was cut off takes
 * it as a rekey of the same path (what rides the path survives the outage), a restarted
 * one as a new session. 'heard' follows the first authenticated message; idleTimeoutMs
 * still ends the session.
 *
 * Responder (server): made from an accepted initiation (the listener runs the shared
 * HandshakeResponder, which keeps the replay record). Its first output is the response;
 * 'up' comes only with the first authenticated data message from the client (key
 * confirmation), and an unconfirmed session ends after handshakeTimeoutMs. A replayed
 * initiation therefore never yields a path: its sender cannot confirm.
 *
 * Path MTU discovery (RFC 8899, plpmtu.ts), when `pmtu` is given: once up, the session
 * probes with padded sealed messages (type 5) and reports each new largest datagram as
 * 'max-datagram'. Both roles answer probes whether or not they search themselves.
 *
 * No clock, timers, sockets or global randomness here; `now` is the caller's wall clock in
 * ms (the handshake's timestamp is wall-clock time).
 */
import type { ChannelLimits } from './channel.js';
import type { CryptoBackend } from './crypto/backend.js';
import { SecureChannel } from './channel.js';
import { SessionError } from './errors.js';
import type { HandshakeInitiator, InitiationResult, PendingInitiation, TransportKeys } from './handshake.js';
import { keysEqual } from './keys.js';
import { decodeProbePlaintext, encodeProbePlaintext, MAX_EARLY_DATA_BYTES, MessageType, messageType, receiverIndex } from './messages.js';
import { PlpmtuSearch, type PlpmtuOptions } from './plpmtu.js';

/** Why a session ended. */
export type PathDownReason =
  /** Initiator: no response within handshakeTimeoutMs. */
  | 'handshake-timeout'
  /** Responder: the client never proved it holds the keys. */
  | 'unconfirmed'
  /** Nothing authenticated arrived for idleTimeoutMs. */
  | 'peer-gone'
  /** Every key aged out before a rekey succeeded. */
  | 'keys-expired';

export type PathSessionOutput =
  | { kind: 'transmit'; message: Uint8Array }
  | { kind: 'up' }
  | { kind: 'silent'; message: string }
  | { kind: 'heard' }
  /** Path MTU discovery confirmed a new largest datagram (bytes), larger or, after a black hole, the floor. */
  | { kind: 'max-datagram'; bytes: number }
  | { kind: 'down'; reason: PathDownReason; message: string };

export interface PathSessionTimers {
  /** Initiator: give up after this long without a response. Responder: forget an unconfirmed session. */
  handshakeTimeoutMs: number;
  /**
   * Initiator: a new initiation goes out this often while none is answered; null sends one
   * only (a reliable carrier, e.g. a WebSocket, loses nothing). Rekey initiations are
   * repeated this often too, or every handshakeTimeoutMs when null.
   */
  handshakeRetryMs: number | null;
  /** Send an empty sealed message after this long without sending; null: the carrier has its own. */
  keepaliveMs: number | null;
  /** End the session after this long without an authenticated message; null: the carrier watches. */
  idleTimeoutMs: number | null;
  /**
   * Initiator: after this long without an authenticated message, report 'silent' and
   * handshake again (every handshakeRetryMs) until the peer is heard; null: never.
   */
  silenceMs?: number | null;
  channelLimits?: Partial<ChannelLimits>;
  /** Search for the largest datagram the path carries, from `base` up to `max` (RFC 8899); null or absent: keep the floor. */
  pmtu?: PlpmtuOptions | null;
}

/** Where sessions file the u32 indexes they choose (unique among one endpoint's sessions). */
export interface SessionIndexes {
  claim(): number;
  release(index: number): void;
}

export interface InitiatorSessionOptions extends PathSessionTimers {
  initiator: HandshakeInitiator;
  indexes: SessionIndexes;
  now: number;
  /** The path's first segment, carried in the handshake (at most MAX_EARLY_DATA_BYTES); none when absent. */
  earlyData?: Uint8Array | null;
}

export interface ResponderSessionOptions extends PathSessionTimers {
  crypto: CryptoBackend;
  /** The accepted initiation: its keys and the response to send. */
  accepted: Extract<InitiationResult, { kind: 'accept' }>;
  /** Called with each of our indexes as its keys are zeroed (the listener unfiles them). */
  onKeyRetired?: (localIndex: number) => void;
  now: number;
}

const EMPTY = new Uint8Array(0);

/**
 * With an early answer, how long the client waits for the engine's first segment (which
 * confirms the keys) before it sends an empty message to confirm them.
 */
export const EARLY_CONFIRM_GRACE_MS = 20;

type State = 'handshake' | 'answered' | 'up' | 'down';

export class PathSession {
  private state: State;
  private channel: SecureChannel | null = null;
  private readonly outputs: PathSessionOutput[] = [];
  /** Initiations in flight (initial or rekey), oldest first. */
  private pending: PendingInitiation[] = [];
  private readonly startedAt: number;
  private lastInitiationAt = -Infinity;
  private lastSent: number;
  private lastReceived: number;
  private rekeys = 0;
  /** 'silent' was reported and no authenticated message came since. */
  private silent = false;
  /** The path MTU search, from the moment the session is up (timers.pmtu). */
  private search: PlpmtuSearch | null = null;
  /** Initiator: the first segment every initial initiation carries. */
  private earlyData: Uint8Array = EMPTY;
  /** Initiator: the server's answer to it, once the response came (null: none). */
  private answer: Uint8Array | null = null;
  /** Initiator: when the keys must be confirmed by an empty message if nothing was sealed; null: not waiting. */
  private confirmDueAt: number | null = null;

  private constructor(
    private readonly timers: PathSessionTimers,
    private readonly initiator: HandshakeInitiator | null,
    private readonly indexes: SessionIndexes | null,
    now: number,
  ) {
    this.startedAt = now;
    this.lastSent = now;
    this.lastReceived = now;
    this.state = initiator === null ? 'answered' : 'handshake';
  }

  /** A client session; its first output is the initiation. */
  static initiator(opts: InitiatorSessionOptions): PathSession {
    const session = new PathSession(opts, opts.initiator, opts.indexes, opts.now);
    const early = opts.earlyData ?? EMPTY;
    if (early.length > MAX_EARLY_DATA_BYTES) throw new RangeError(`early data of ${early.length} bytes is over ${MAX_EARLY_DATA_BYTES}`);
    session.earlyData = early.slice();
    session.initiate(opts.now, 0);
    return session;
  }

  /** A server session for an accepted initiation; its first output is the response. */
  static responder(opts: ResponderSessionOptions): PathSession {
    const session = new PathSession(opts, null, null, opts.now);
    session.channel = new SecureChannel(opts.crypto, opts.accepted.keys, opts.now, {
      limits: opts.channelLimits ?? {},
      ...(opts.onKeyRetired ? { onKeyRetired: opts.onKeyRetired } : {}),
    });
    session.transmit(opts.accepted.response, opts.now);
    return session;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  get isDown(): boolean {
    return this.state === 'down';
  }

  get isInitiator(): boolean {
    return this.initiator !== null;
  }

  /** Completed rekeys. */
  get rekeyCount(): number {
    return this.rekeys;
  }

  /** Initiations in flight whose answer would still be taken. */
  get pendingInitiations(): number {
    return this.pending.length;
  }

  /** The peer's static public key, once keys exist. */
  get peerPublicKey(): Uint8Array | null {
    return this.channel?.peerPublicKey ?? null;
  }

  /** Our indexes of every live key set (the server files the session under each). */
  get localIndexes(): number[] {
    return this.channel?.localIndexes ?? [];
  }

  /**
   * Initiator: the server's answer to the early data, from the response that brought the
   * session up; null when there was none (no early data, or the server did not answer it).
   */
  get earlyAnswer(): Uint8Array | null {
    return this.answer;
  }

  /** The largest datagram path MTU discovery confirmed, or null when it does not run. */
  get maxDatagram(): number | null {
    return this.search?.size ?? null;
  }

  /** True when an output waits for poll(). */
  get hasOutput(): boolean {
    return this.outputs.length > 0;
  }

  /**
   * Takes one arriving message. Returns the plaintext of an authenticated data message
   * (empty for a keepalive), true for a handshake message this session took, false for
   * anything dropped (forged, replayed, unexpected, or after the session ended).
   */
  handle(message: Uint8Array, now: number): Uint8Array | boolean {
    if (this.state === 'down') return false;
    switch (messageType(message)) {
      case MessageType.Data:
      case MessageType.Probe:
        return this.handleData(message, now);
      case MessageType.Response:
        return this.handleResponse(message, now);
      case MessageType.CookieReply:
        return this.handleCookieReply(message, now);
      default:
        return false;
    }
  }

  /**
   * Seals one segment for the wire, or null when no key may send (not up yet, ended, or
   * every key used up while a rekey is late): the segment is then lost like a dropped one.
   */
  seal(plaintext: Uint8Array, now: number, type: typeof MessageType.Data | typeof MessageType.Probe = MessageType.Data): Uint8Array | null {
    const channel = this.channel;
    if (channel === null || this.state !== 'up' || !channel.usable) return null;
    let sealed: Uint8Array;
    try {
      sealed = channel.seal(plaintext, type);
    } catch (err) {
      if (err instanceof SessionError) return null;
      throw err;
    }
    // A probe may well be lost: it does not stand in for a keepalive.
    if (type === MessageType.Data) {
      this.lastSent = now;
      this.confirmDueAt = null; // any sealed data confirms the keys
      this.search?.dataSent(sealed.length, now);
    }
    // The message-count limits of a rekey are reached by sending: check here, not on a timer.
    if (this.initiator !== null && this.pending.length === 0 && channel.needsRekey(now)) this.initiate(now, channel.remoteIndex);
    return sealed;
  }

  /**
   * Responder: takes a rekey the shared HandshakeResponder accepted for this session.
   * False (nothing changed; the caller zeroes the keys) unless it is from the same client
   * key and names keys this session holds.
   */
  acceptRekey(accepted: Extract<InitiationResult, { kind: 'accept' }>, now: number): boolean {
    const channel = this.channel;
    if (this.initiator !== null || channel === null || this.state === 'down') return false;
    if (!keysEqual(accepted.keys.peerPublicKey, channel.peerPublicKey)) return false;
    if (!channel.localIndexes.includes(accepted.replacesIndex)) return false;
    channel.install(accepted.keys, now);
    this.rekeys++;
    this.transmit(accepted.response, now);
    return true;
  }

  /** Runs the timers that are due, then returns the next output, or null. */
  poll(now: number): PathSessionOutput | null {
    if (this.state !== 'down') this.runTimers(now);
    return this.outputs.shift() ?? null;
  }

  /** When poll() next has timer work, or null for none. */
  nextDeadline(): number | null {
    if (this.state === 'down') return null;
    const t = this.timers;
    let at = Infinity;
    if (this.pending.length > 0) at = Math.min(at, this.pending[0]!.startedAt + t.handshakeTimeoutMs);
    if (this.state === 'handshake') {
      if (t.handshakeRetryMs !== null) at = Math.min(at, this.lastInitiationAt + t.handshakeRetryMs);
      return at;
    }
    if (this.state === 'answered') at = Math.min(at, this.startedAt + t.handshakeTimeoutMs);
    const channel = this.channel!;
    at = Math.min(at, channel.nextExpiry() ?? Infinity);
    if (t.idleTimeoutMs !== null) at = Math.min(at, this.lastReceived + t.idleTimeoutMs);
    if (this.state === 'up') {
      if (this.confirmDueAt !== null) at = Math.min(at, this.confirmDueAt);
      if (t.keepaliveMs !== null) at = Math.min(at, this.lastSent + t.keepaliveMs);
      const silenceMs = this.initiator !== null ? (t.silenceMs ?? null) : null;
      if (silenceMs !== null) at = Math.min(at, this.silent ? this.lastInitiationAt + this.rekeyRetryMs() : this.lastReceived + silenceMs);
      // No probe before the keys are confirmed: the engine's first segment goes first.
      if (this.search !== null && this.confirmDueAt === null) at = Math.min(at, this.search.nextDeadline());
      if (this.initiator !== null) {
        const due = channel.rekeyDueAt();
        if (due !== null) at = Math.min(at, this.pending.length === 0 ? due : Math.max(due, this.lastInitiationAt + this.rekeyRetryMs()));
      }
    }
    return at;
  }

  /** Ends the session from this side: zeroes every key and ephemeral secret, reports nothing. */
  close(): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.release();
    this.outputs.length = 0;
  }

  private handleData(message: Uint8Array, now: number): Uint8Array | boolean {
    const channel = this.channel;
    if (channel === null) return false;
    // Opening in place leaves the header as it was: read the type (authenticated) after.
    const size = message.length;
    // The message is the transport's receive buffer, read by no one after this.
    const plaintext = channel.openInPlace(message, now);
    if (plaintext === null) return false;
    this.heardAt(now);
    // RFC-style key confirmation: the server trusts the path once the client used the keys.
    if (this.state === 'answered' && channel.confirmed) this.goUp();
    if (message[0] === MessageType.Probe) return this.handleProbe(plaintext, size, now);
    return plaintext;
  }

  /** A probe is answered with an ack of its id; an ack goes to our search (RFC 8899 §4.1). */
  private handleProbe(plaintext: Uint8Array, size: number, now: number): boolean {
    let probe;
    try {
      probe = decodeProbePlaintext(plaintext);
    } catch (err) {
      if (err instanceof SessionError) return false;
      throw err;
    }
    if (probe.kind === 'probe') {
      if (probe.size !== size || this.state !== 'up') return false;
      this.sendSealed(encodeProbePlaintext({ kind: 'ack', id: probe.id, size }), now, MessageType.Probe);
      return true;
    }
    if (this.search !== null && this.search.onAck(probe.id, now)) this.outputs.push({ kind: 'max-datagram', bytes: this.search.size });
    return true;
  }

  /** Runs the path MTU search: a probe due goes out, a size lost (black hole) is reported. */
  private runSearch(search: PlpmtuSearch, now: number): void {
    const { probe, changed } = search.poll(now);
    if (changed) this.outputs.push({ kind: 'max-datagram', bytes: search.size });
    if (probe !== null) this.sendSealed(encodeProbePlaintext({ kind: 'probe', id: probe.id, size: probe.size }), now, MessageType.Probe);
  }

  private handleResponse(message: Uint8Array, now: number): boolean {
    const entry = this.pendingFor(message);
    if (entry === null) return false;
    const keys = entry.consumeResponse(message);
    if (keys === null) return false;
    const answered = this.pending.indexOf(entry);
    this.pending.splice(answered, 1);
    this.heardAt(now);
    if (this.state === 'handshake') {
      // The answered initiation's index lives on as the keys' index; drop the others' state
      // (the server made a session of each, and forgets those we never confirm).
      const answer = entry.earlyAnswer;
      this.dropPending();
      this.establish(keys, now);
      if (this.earlyData.length > 0 && answer !== null && answer.length > 0) {
        // The engine's reply to the answer confirms the keys; an empty message only if none comes.
        this.answer = answer;
        this.confirmDueAt = now + EARLY_CONFIRM_GRACE_MS;
        return true;
      }
    } else {
      // A rekey: the server keeps only the newest one it accepted. Initiations sent after
      // this one may still be answered (they queued behind a frozen or slow path): their
      // keys then replace these, so only the older ones are given up.
      for (let i = 0; i < answered; i++) this.dropOldestPending();
      this.channel!.install(keys, now);
      this.rekeys++;
    }
    // An empty sealed message at once: the server switches to (or confirms) these keys
    // even when no segment is waiting.
    this.sendSealed(EMPTY, now);
    return true;
  }

  private handleCookieReply(message: Uint8Array, now: number): boolean {
    const entry = this.pendingFor(message);
    if (entry === null || !entry.consumeCookieReply(message, now)) return false;
    // Under load: the server wants proof of our address. Go again at once, with mac2.
    this.initiate(now, this.state === 'up' ? this.channel!.remoteIndex : 0);
    return true;
  }

  private pendingFor(message: Uint8Array): PendingInitiation | null {
    const index = receiverIndex(message);
    for (const p of this.pending) if (p.localIndex === index) return p;
    return null;
  }

  private establish(keys: TransportKeys, now: number): void {
    const indexes = this.indexes!;
    this.channel = new SecureChannel(this.initiator!.crypto, keys, now, {
      limits: this.timers.channelLimits ?? {},
      onKeyRetired: (index) => indexes.release(index),
    });
    this.goUp();
  }

  /** An authenticated message arrived: the idle and silence clocks start over. */
  private heardAt(now: number): void {
    this.lastReceived = now;
    this.search?.heard(now);
    if (!this.silent) return;
    this.silent = false;
    this.outputs.push({ kind: 'heard' });
  }

  private goUp(): void {
    this.state = 'up';
    this.outputs.push({ kind: 'up' });
    const pmtu = this.timers.pmtu;
    if (pmtu != null && pmtu.max > pmtu.base) this.search = new PlpmtuSearch(pmtu, this.lastReceived);
  }

  private runTimers(now: number): void {
    const t = this.timers;
    // Initiations past the handshake deadline are given up (their secrets zeroed).
    while (this.pending.length > 0 && now - this.pending[0]!.startedAt >= t.handshakeTimeoutMs) this.dropOldestPending();
    if (this.state === 'handshake') {
      if (now - this.startedAt >= t.handshakeTimeoutMs) {
        this.end('handshake-timeout', `no handshake response within ${t.handshakeTimeoutMs} ms`);
      } else if (t.handshakeRetryMs !== null && now - this.lastInitiationAt >= t.handshakeRetryMs) {
        this.initiate(now, 0);
      }
      return;
    }
    const channel = this.channel!;
    if (this.state === 'answered' && now - this.startedAt >= t.handshakeTimeoutMs) {
      this.end('unconfirmed', 'the client never confirmed the session keys');
      return;
    }
    if (!channel.maintain(now)) {
      this.end('keys-expired', 'session keys expired before a rekey succeeded');
      return;
    }
    if (t.idleTimeoutMs !== null && now - this.lastReceived >= t.idleTimeoutMs) {
      this.end('peer-gone', `nothing authenticated from the peer for ${t.idleTimeoutMs} ms`);
      return;
    }
    if (this.state !== 'up') return;
    if (this.initiator !== null && t.silenceMs != null && now - this.lastReceived >= t.silenceMs) {
      if (!this.silent) {
        this.silent = true;
        this.outputs.push({ kind: 'silent', message: `nothing authenticated from the peer for ${now - this.lastReceived} ms` });
        this.initiate(now, this.channel!.remoteIndex);
      } else if (now - this.lastInitiationAt >= this.rekeyRetryMs()) {
        this.initiate(now, this.channel!.remoteIndex);
      }
    }
    if (
      this.initiator !== null &&
      channel.needsRekey(now) &&
      (this.pending.length === 0 || now - this.lastInitiationAt >= this.rekeyRetryMs())
    ) {
      this.initiate(now, channel.remoteIndex);
    }
    if (this.confirmDueAt !== null && now >= this.confirmDueAt) this.sendSealed(EMPTY, now);
    if (this.search !== null && this.confirmDueAt === null) this.runSearch(this.search, now);
    if (t.keepaliveMs !== null && now - this.lastSent >= t.keepaliveMs) this.sendSealed(EMPTY, now);
  }

  private rekeyRetryMs(): number {
    return this.timers.handshakeRetryMs ?? this.timers.handshakeTimeoutMs;
  }

  /** A fresh initiation (replacesIndex 0: a new path), kept beside the ones in flight. */
  private initiate(now: number, replacesIndex: number): void {
    const indexes = this.indexes!;
    const index = indexes.claim();
    // Only a new path's handshake carries the first segment; a rekey or re-handshake carries none.
    const early = replacesIndex === 0 && this.state === 'handshake' ? this.earlyData : EMPTY;
    const p = this.initiator!.initiate(now, index, replacesIndex, early);
    this.pending.push(p);
    this.lastInitiationAt = now;
    this.transmit(p.message, now);
  }

  private sendSealed(plaintext: Uint8Array, now: number, type: typeof MessageType.Data | typeof MessageType.Probe = MessageType.Data): void {
    const sealed = this.seal(plaintext, now, type);
    if (sealed !== null) this.outputs.push({ kind: 'transmit', message: sealed });
  }

  private transmit(message: Uint8Array, now: number): void {
    this.outputs.push({ kind: 'transmit', message });
    this.lastSent = now;
  }

  private end(reason: PathDownReason, message: string): void {
    this.state = 'down';
    this.release();
    this.outputs.length = 0;
    this.outputs.push({ kind: 'down', reason, message });
  }

  private dropOldestPending(): void {
    const p = this.pending.shift()!;
    this.indexes!.release(p.localIndex);
    p.destroy();
  }

  private dropPending(): void {
    while (this.pending.length > 0) this.dropOldestPending();
  }

  private release(): void {
    if (this.indexes !== null) this.dropPending();
    this.channel?.destroy();
  }
}

