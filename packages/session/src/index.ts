// Crypto backends (libsodium-wrappers always, sodium-native when its optional package loads).
export type { CryptoBackend, CryptoBackendName } from './crypto/backend.js';
export { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, X25519_KEY_BYTES, cryptoRandomSource } from './crypto/backend.js';
export { loadCrypto, type LoadCryptoOptions } from './crypto/load.js';
export { libsodiumWrappersBackend } from './crypto/libsodium-wrappers.js';
export { sodiumNativeBackend } from './crypto/sodium-native.js';

// Errors.
export { SessionError, type SessionErrorCode } from './errors.js';

// Static keys.
export { generateKeypair, keypairFromPrivateKey, encodeKey, decodeKey, keysEqual, type Keypair } from './keys.js';

// Wire layout of the path session's messages.
export {
  MessageType,
  INITIATION_BYTES,
  RESPONSE_BYTES,
  MAX_EARLY_DATA_BYTES,
  maxEarlyAnswer,
  COOKIE_REPLY_BYTES,
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  messageType,
  receiverIndex,
  decodeInitiation,
  decodeResponse,
  decodeCookieReply,
  decodeDataHeader,
  PROBE_MIN_BYTES,
  encodeProbePlaintext,
  decodeProbePlaintext,
  type ProbePlaintext,
  type InitiationMessage,
  type ResponseMessage,
  type CookieReplyMessage,
  type DataHeader,
} from './messages.js';

// The Noise IK handshake, cookies and the data channel.
export { NOISE_PROTOCOL_NAME, NOISE_PROLOGUE, concat } from './noise.js';
export { TimestampClock, TIMESTAMP_BYTES } from './timestamp.js';
export {
  HandshakeInitiator,
  PendingInitiation,
  HandshakeResponder,
  type InitiatorOptions,
  type ResponderOptions,
  type InitiationContext,
  type InitiationResult,
  type TransportKeys,
} from './handshake.js';
export { ReplayWindow, REPLAY_WINDOW_SIZE } from './replay-window.js';
export { ReplayRecord } from './replay-record.js';
export { SecureChannel, DEFAULT_CHANNEL_LIMITS, type ChannelLimits, type ChannelOptions } from './channel.js';
export { IndexTable, claimFrom } from './index-table.js';
export { LoadMeter } from './load-meter.js';

// The path session every transport drives (sans-IO), and the driver that gives it a clock and a timer.
export {
  PathSession,
  type PathSessionOutput,
  type PathSessionTimers,
  type PathDownReason,
  type SessionIndexes,
  type InitiatorSessionOptions,
  type ResponderSessionOptions,
} from './path-session.js';

export { SessionDriver, type SessionHost } from './session-driver.js';

// Path MTU discovery (RFC 8899), sans-IO; PathSession runs it when given `pmtu`.
export { PlpmtuSearch, MAX_PROBES, RAISE_INTERVAL_MS, CONFIRM_INTERVAL_MS, type PlpmtuOptions, type PlpmtuState, type ProbeRequest } from './plpmtu.js';
