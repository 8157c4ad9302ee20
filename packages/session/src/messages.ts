/**
 * Wire layout of the path session's five messages (our own format, shaped like
 * WireGuard's). All integers are little-endian, as in Noise's nonces. Every message opens
 * with a type byte and three reserved bytes that must be zero.
 *
 *   Initiation (152 + n bytes, 0 <= n <= 512), client → server, Noise IK message 1
 *   "e, es, s, ss":
 *     0 type=1 | 1..3 zero | 4..7 sender index | 8..39 ephemeral public key
 *     40..87 static public key, encrypted (32 + tag)
 *     88..119+n payload, encrypted (TAI64N timestamp 12 + replaced index 4 + early data n,
 *       + tag) | then mac1 16 | mac2 16 (always the last 32 bytes)
 *   Response (92 + m bytes, 0 <= m <= min(512, n + 60)), server → client, message 2
 *   "e, ee, se":
 *     0 type=2 | 1..3 zero | 4..7 sender index | 8..11 receiver index
 *     12..43 ephemeral public key | 44..59+m payload, encrypted (early answer m, + tag)
 *     then mac1 16 | mac2 16 (the last 32 bytes)
 *   Early data (n > 0) is the path's first segment (an MP_JOIN SYN), which Noise lets ride
 *   message 1 after "ss"; the early answer is the engine's reply to it (the SYN/ACK), after
 *   "ee, se". With n = 0 and m = 0 the two messages are the 152 and 92 bytes of the format
 *   before early data, read the same way. A rekey initiation carries none. A response is
 *   never more than 60 bytes longer than the early data that asked for it, so an
 *   initiation buys no amplification beyond its own size.
 *   Cookie reply (64 bytes), server → client, instead of a response when under load:
 *     0 type=3 | 1..3 zero | 4..7 receiver index | 8..31 nonce
 *     32..63 cookie, encrypted (16 + tag)
 *   Data (32 bytes or more), either way:
 *     0 type=4 | 1..3 zero | 4..7 receiver index | 8..15 counter | 16.. ciphertext + tag
 *     (an empty plaintext is a keepalive)
 *   Probe (44 bytes or more), either way: a data message with type=5, the same receiver
 *   index, counter, nonce and replay window, whose plaintext is path MTU discovery's
 *   (RFC 8899 §4.1) and never reaches the engine:
 *     plaintext 0 kind (1 probe, 2 ack) | 1..3 zero | 4..7 probe id | 8..11 size
 *     | 12.. zero padding (a probe only: the datagram is `size` bytes; an ack has none, and
 *     its size is the datagram size that arrived)
 *   A peer from before type 5 drops it like any unknown message, so probes go unanswered and
 *   the path keeps its floor.
 *
 * Decoders check the length before reading anything and throw only SessionError
 * (ERR_MPTUN_BAD_MESSAGE); the peek helpers never throw and return null instead.
 */
import { AEAD_TAG_BYTES, X25519_KEY_BYTES } from './crypto/backend.js';
import { SessionError } from './errors.js';

export const MessageType = {
  Initiation: 1,
  Response: 2,
  CookieReply: 3,
  Data: 4,
  Probe: 5,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MAC_BYTES = 16;
export const COOKIE_BYTES = 16;
export const COOKIE_NONCE_BYTES = 24;
/** Timestamp (12) and the server index of the session this one replaces (4; 0 = a new path). */
export const INITIATION_PAYLOAD_BYTES = 16;
/** The most early data (a segment) an initiation carries, and the most early answer a response does. */
export const MAX_EARLY_DATA_BYTES = 512;
/** How much longer than its initiation's early data a response's early answer may be. */
export const EARLY_ANSWER_SLACK_BYTES = 60;

// Initiation offsets.
export const INIT_SENDER = 4;
export const INIT_EPHEMERAL = 8;
export const INIT_STATIC = INIT_EPHEMERAL + X25519_KEY_BYTES; // 40
export const INIT_PAYLOAD = INIT_STATIC + X25519_KEY_BYTES + AEAD_TAG_BYTES; // 88
export const INIT_MAC1 = INIT_PAYLOAD + INITIATION_PAYLOAD_BYTES + AEAD_TAG_BYTES; // 120
export const INIT_MAC2 = INIT_MAC1 + MAC_BYTES; // 136
/** An initiation without early data; with n bytes of it, INITIATION_BYTES + n. */
export const INITIATION_BYTES = INIT_MAC2 + MAC_BYTES; // 152

// Response offsets.
export const RESP_SENDER = 4;
export const RESP_RECEIVER = 8;
export const RESP_EPHEMERAL = 12;
export const RESP_EMPTY = RESP_EPHEMERAL + X25519_KEY_BYTES; // 44
export const RESP_MAC1 = RESP_EMPTY + AEAD_TAG_BYTES; // 60
export const RESP_MAC2 = RESP_MAC1 + MAC_BYTES; // 76
/** A response without an early answer; with m bytes of it, RESPONSE_BYTES + m. */
export const RESPONSE_BYTES = RESP_MAC2 + MAC_BYTES; // 92

/** Where mac1 starts in a handshake message (initiation or response) of `length` bytes: 32 from the end. */
export function mac1Offset(length: number): number {
  return length - 2 * MAC_BYTES;
}

/** Where mac2 starts in a handshake message of `length` bytes: the last 16. */
export function mac2Offset(length: number): number {
  return length - MAC_BYTES;
}

/** The early data an initiation of `length` bytes carries (0 for the 152-byte form). */
export function earlyDataBytes(initiationLength: number): number {
  return initiationLength - INITIATION_BYTES;
}

/** The early answer a response of `length` bytes carries (0 for the 92-byte form). */
export function earlyAnswerBytes(responseLength: number): number {
  return responseLength - RESPONSE_BYTES;
}

/** The longest early answer a response to `earlyData` bytes of early data may carry. */
export function maxEarlyAnswer(earlyData: number): number {
  return Math.min(MAX_EARLY_DATA_BYTES, earlyData + EARLY_ANSWER_SLACK_BYTES);
}

// Cookie reply offsets.
export const COOKIE_RECEIVER = 4;
export const COOKIE_NONCE = 8;
export const COOKIE_SEALED = COOKIE_NONCE + COOKIE_NONCE_BYTES; // 32
export const COOKIE_REPLY_BYTES = COOKIE_SEALED + COOKIE_BYTES + AEAD_TAG_BYTES; // 64

// Data offsets.
export const DATA_RECEIVER = 4;
export const DATA_COUNTER = 8;
export const DATA_HEADER_BYTES = 16;
/** A data message is this much longer than the plaintext it carries. */
export const DATA_OVERHEAD_BYTES = DATA_HEADER_BYTES + AEAD_TAG_BYTES; // 32

// Probe plaintext offsets.
export const PROBE_KIND = 0;
export const PROBE_ID = 4;
export const PROBE_SIZE = 8;
export const PROBE_PLAINTEXT_BYTES = 12;
/** The smallest probe datagram: header, probe fields, tag. */
export const PROBE_MIN_BYTES = DATA_OVERHEAD_BYTES + PROBE_PLAINTEXT_BYTES; // 44
export const ProbeKind = { Probe: 1, Ack: 2 } as const;

export interface ProbePlaintext {
  kind: 'probe' | 'ack';
  id: number;
  size: number;
}

/** The plaintext of a probe that makes a datagram of `size` bytes (zero padded), or of an ack. */
export function encodeProbePlaintext(p: ProbePlaintext): Uint8Array {
  const length = p.kind === 'probe' ? p.size - DATA_OVERHEAD_BYTES : PROBE_PLAINTEXT_BYTES;
  if (!Number.isInteger(length) || length < PROBE_PLAINTEXT_BYTES) throw new RangeError(`a probe of ${p.size} bytes is below ${PROBE_MIN_BYTES}`);
  const out = new Uint8Array(length);
  out[PROBE_KIND] = p.kind === 'probe' ? ProbeKind.Probe : ProbeKind.Ack;
  writeU32(out, PROBE_ID, p.id);
  writeU32(out, PROBE_SIZE, p.size);
  return out;
}

/**
 * Reads an opened probe plaintext. Throws ERR_MPTUN_BAD_MESSAGE when it is short, of an
 * unknown kind, has nonzero reserved bytes or padding, or an ack carries padding.
 */
export function decodeProbePlaintext(plaintext: Uint8Array): ProbePlaintext {
  if (plaintext.length < PROBE_PLAINTEXT_BYTES) throw new SessionError('ERR_MPTUN_BAD_MESSAGE', `probe plaintext of ${plaintext.length} bytes`);
  const kind = plaintext[PROBE_KIND];
  if ((kind !== ProbeKind.Probe && kind !== ProbeKind.Ack) || (plaintext[1]! | plaintext[2]! | plaintext[3]!) !== 0) {
    throw new SessionError('ERR_MPTUN_BAD_MESSAGE', 'unknown probe kind');
  }
  if (kind === ProbeKind.Ack && plaintext.length !== PROBE_PLAINTEXT_BYTES) throw new SessionError('ERR_MPTUN_BAD_MESSAGE', 'a probe ack carries no padding');
  let nonzero = 0;
  for (let i = PROBE_PLAINTEXT_BYTES; i < plaintext.length; i++) nonzero |= plaintext[i]!;
  if (nonzero !== 0) throw new SessionError('ERR_MPTUN_BAD_MESSAGE', 'probe padding is not zero');
  return { kind: kind === ProbeKind.Probe ? 'probe' : 'ack', id: readU32(plaintext, PROBE_ID), size: readU32(plaintext, PROBE_SIZE) };
}

/** Counters stay below 2^53 so that a JavaScript number holds them exactly. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/** The message's type, or null unless it has a known type, zero reserved bytes and that type's length. */
export function messageType(datagram: Uint8Array): MessageType | null {
  if (datagram.length < 4 || datagram[1] !== 0 || datagram[2] !== 0 || datagram[3] !== 0) return null;
  switch (datagram[0]) {
    case MessageType.Initiation:
      return inRange(datagram.length, INITIATION_BYTES) ? MessageType.Initiation : null;
    case MessageType.Response:
      return inRange(datagram.length, RESPONSE_BYTES) ? MessageType.Response : null;
    case MessageType.CookieReply:
      return datagram.length === COOKIE_REPLY_BYTES ? MessageType.CookieReply : null;
    case MessageType.Data:
      return datagram.length >= DATA_OVERHEAD_BYTES ? MessageType.Data : null;
    case MessageType.Probe:
      return datagram.length >= PROBE_MIN_BYTES ? MessageType.Probe : null;
    default:
      return null;
  }
}

/** A handshake message's length: its form without early data, plus at most MAX_EARLY_DATA_BYTES. */
function inRange(length: number, base: number): boolean {
  return length >= base && length <= base + MAX_EARLY_DATA_BYTES;
}

/**
 * The index the receiver chose for this session (where it files the session), or null for
 * an initiation (which has none) and for anything messageType() rejects.
 */
export function receiverIndex(datagram: Uint8Array): number | null {
  switch (messageType(datagram)) {
    case MessageType.Response:
      return readU32(datagram, RESP_RECEIVER);
    case MessageType.CookieReply:
      return readU32(datagram, COOKIE_RECEIVER);
    case MessageType.Data:
    case MessageType.Probe:
      return readU32(datagram, DATA_RECEIVER);
    default:
      return null;
  }
}

export interface InitiationMessage {
  senderIndex: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  /** Timestamp, replaced index and early data, encrypted. */
  encryptedPayload: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface ResponseMessage {
  senderIndex: number;
  receiverIndex: number;
  ephemeral: Uint8Array;
  /** The early answer (often empty), encrypted. */
  encryptedPayload: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface CookieReplyMessage {
  receiverIndex: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
}

export interface DataHeader {
  receiverIndex: number;
  counter: number;
  /** Ciphertext and tag, a view into the datagram. */
  sealed: Uint8Array;
}

function expect(datagram: Uint8Array, type: MessageType, what: string): void {
  if (messageType(datagram) !== type) {
    throw new SessionError('ERR_MPTUN_BAD_MESSAGE', `not a well-formed ${what} (${datagram.length} bytes)`);
  }
}

/** Field views of an initiation. Throws ERR_MPTUN_BAD_MESSAGE unless it is one. */
export function decodeInitiation(datagram: Uint8Array): InitiationMessage {
  expect(datagram, MessageType.Initiation, 'initiation');
  const mac1 = mac1Offset(datagram.length);
  return {
    senderIndex: readU32(datagram, INIT_SENDER),
    ephemeral: datagram.subarray(INIT_EPHEMERAL, INIT_STATIC),
    encryptedStatic: datagram.subarray(INIT_STATIC, INIT_PAYLOAD),
    encryptedPayload: datagram.subarray(INIT_PAYLOAD, mac1),
    mac1: datagram.subarray(mac1, mac1 + MAC_BYTES),
    mac2: datagram.subarray(mac1 + MAC_BYTES),
  };
}

/** Field views of a response. Throws ERR_MPTUN_BAD_MESSAGE unless it is one. */
export function decodeResponse(datagram: Uint8Array): ResponseMessage {
  expect(datagram, MessageType.Response, 'response');
  const mac1 = mac1Offset(datagram.length);
  return {
    senderIndex: readU32(datagram, RESP_SENDER),
    receiverIndex: readU32(datagram, RESP_RECEIVER),
    ephemeral: datagram.subarray(RESP_EPHEMERAL, RESP_EMPTY),
    encryptedPayload: datagram.subarray(RESP_EMPTY, mac1),
    mac1: datagram.subarray(mac1, mac1 + MAC_BYTES),
    mac2: datagram.subarray(mac1 + MAC_BYTES),
  };
}

/** Field views of a cookie reply. Throws ERR_MPTUN_BAD_MESSAGE unless it is one. */
export function decodeCookieReply(datagram: Uint8Array): CookieReplyMessage {
  expect(datagram, MessageType.CookieReply, 'cookie reply');
  return {
    receiverIndex: readU32(datagram, COOKIE_RECEIVER),
    nonce: datagram.subarray(COOKIE_NONCE, COOKIE_SEALED),
    encryptedCookie: datagram.subarray(COOKIE_SEALED, COOKIE_REPLY_BYTES),
  };
}

/**
 * Header of a data message. Throws ERR_MPTUN_BAD_MESSAGE unless it is one, or when its
 * counter is 2^53 or more (no honest sender gets there: keys are retired long before).
 */
export function decodeDataHeader(datagram: Uint8Array): DataHeader {
  expect(datagram, MessageType.Data, 'data message');
  const high = readU32(datagram, DATA_COUNTER + 4);
  if (high > MAX_SAFE_HIGH_WORD) throw new SessionError('ERR_MPTUN_BAD_MESSAGE', 'data counter out of range');
  return {
    receiverIndex: readU32(datagram, DATA_RECEIVER),
    counter: high * 0x1_0000_0000 + readU32(datagram, DATA_COUNTER),
    sealed: datagram.subarray(DATA_HEADER_BYTES),
  };
}

/** Writes the type byte and the zero reserved bytes. */
export function writeType(out: Uint8Array, type: MessageType): void {
  out[0] = type;
  out[1] = out[2] = out[3] = 0;
}

export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

export function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = (value >>> 24) & 0xff;
}

/** Writes a counter below 2^53 as 8 bytes little-endian. */
export function writeCounter(buf: Uint8Array, at: number, counter: number): void {
  writeU32(buf, at, counter >>> 0);
  writeU32(buf, at + 4, Math.floor(counter / 0x1_0000_0000));
}
