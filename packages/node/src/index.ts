export { MptcpSocket, type SubflowInfo, type SocketInfo, type MptcpSocketEvents } from './socket.js';
export {
  MptcpClient,
  parseHostPort,
  checkClientOptions,
  type ClientOptions,
  type ClientCommonOptions,
  type SealedClientOptions,
  type PlainClientOptions,
  type UncheckedClientOptions,
  type ConnectOptions,
  type PathSpec,
  type MptcpClientEvents,
  type PathListEntry,
} from './client.js';
export type { PathState } from './client-paths.js';
export { MptcpServer, type ServerOptions, type ServerCommonOptions, type SealedServerOptions, type PlainServerOptions, type MptcpServerEvents } from './server.js';
export type { EventMap, Listener, TypedEmitter } from './events.js';
export { watchLocalAddresses, type InterfaceWatch, type WatchOptions } from './interfaces.js';
export { Driver, osRandom } from './driver.js';
export { MptunError } from './errors.js';
/** A budget of buffered bytes that a group of connections shares (Connection.shareBudget). */
export { BufferBudget } from '@mptun/core';
export { checkDeviceBinding, deviceBindingUnavailable, noFragmentUnavailable } from './bind-device.js';
export { profiles, resolveStrategy, type ProfileName } from './profiles.js';
export type { HandshakeDropReason } from '@mptun/transport-udp';
export { isAffinityToken, AFFINITY_TOKEN_PATTERN, MAX_AFFINITY_BYTES } from '@mptun/transport-ws';
export { transportKinds, type TransportKind, type SealedTransportKind, type ListenSpec } from './transports.js';
export { connect, createServer } from './api.js';
export type { SegmentTap, TappedSegment } from './segment-tap.js';
export { newKeypair, generateKeypair, keypairFromPrivateKey, encodeKey, decodeKey, loadCrypto, type Keypair, type CryptoBackend } from './keys.js';
export { PLAIN_PROOF_BYTES, PlainProofVerifier, sealPlainProof, type PlainProofFailure, type PlainProofOptions, type PlainProofResult } from './plain-proof.js';
