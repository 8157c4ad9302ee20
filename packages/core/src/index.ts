// Randomness and the sans-IO driver surface.
export * from './random.js';
export * from './driveable.js';
export * from './transport.js';
export { Slab } from './slab.js';

// Wire format.
export * from './wire/error.js';
export * from './wire/tcp-option.js';
export * from './wire/tcp-segment.js';
export {
  TcpHeaderView,
  TcpHeaderField,
  TCP_HEADER_MIN_LENGTH,
  TCP_HEADER_MAX_LENGTH,
  TCP_OPTIONS_MAX_LENGTH,
  checkedHeaderLength,
} from './wire/tcp-header.js';
export { parseTcpOptions, tcpOptionsLength, emitTcpOptions } from './wire/tcp-options.js';
export * from './wire/mptcp/option.js';
export { parseMptcpOption, mptcpOptionLength, emitMptcpOption } from './wire/mptcp/codec.js';
export * from './wire/tcp-in-udp.js';

// Crypto of RFC 8684 (token, IDSN, HMACs, checksums).
export * from './crypto/keys.js';
export * from './crypto/hmac.js';
export * from './crypto/checksum.js';

// Strategies.
export * from './cc/controller.js';
export * from './cc/registry.js';
export { WindowController } from './cc/common.js';
export { RenoController } from './cc/reno.js';
export { CubicController } from './cc/cubic.js';
export { CubicLdController, queueTargetMs } from './cc/cubic-ld.js';
export { LiaController } from './cc/lia.js';
export { OliaController } from './cc/olia.js';
export { BaliaController } from './cc/balia.js';
export { LedbatController } from './cc/ledbat.js';
export { BbrController, type BbrOptions, type BbrState } from './cc/bbr.js';
export * from './sched/scheduler.js';
export * from './sched/candidates.js';
export * from './sched/minrtt.js';
export * from './sched/round-robin.js';
export * from './sched/redundant.js';
export * from './sched/backup.js';
export * from './sched/overflow.js';
export * from './sched/blest.js';
export * from './sched/ecf.js';
export * from './sched/registry.js';

// The engine.
export * from './config.js';
export * from './errors.js';
export * from './events.js';
export { STALLED_PROBE_MS, type PathLivenessEvent } from './path-liveness.js';
export { TallySet } from './tally-set.js';
export { BufferBudget } from './buffer-budget.js';
export { Endpoint, type ConnectOptions, type EndpointStats, type PathOptions } from './endpoint.js';
export { Connection, type Address, type ConnectionState } from './connection/connection.js';
export { Subflow, type PeerReset, type SubflowState, type SubflowStats, type SubflowCloseReason, type SubflowView } from './subflow/subflow.js';
export * from './ip.js';
