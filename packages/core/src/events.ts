import type { Connection } from './connection/connection.js';
import type { EngineError } from './errors.js';
import type { PeerReset, SubflowCloseReason } from './subflow/subflow.js';

/** What the application learns from Endpoint.pollEvent(). */
export type EndpointEvent =
  /** Our connect() completed (MPTCP, or plain TCP after fallback). */
  | { type: 'connected'; connection: Connection }
  /** A listener accepted a new connection. */
  | { type: 'incoming'; connection: Connection }
  /** New bytes can be read. */
  | { type: 'readable'; connection: Connection }
  /** Send buffer space opened up after write() had refused bytes. */
  | { type: 'writable'; connection: Connection }
  /** The peer finished sending (DATA_FIN): reads end after what is buffered. */
  | { type: 'end'; connection: Connection }
  /** The connection is gone; error unless it closed gracefully. */
  | { type: 'closed'; connection: Connection; error?: EngineError }
  | { type: 'subflow-up'; connection: Connection; subflowId: number }
  /** `peerReset`: the peer's RST closed it and said why with MP_TCPRST (RFC 8684 §3.6). */
  | { type: 'subflow-down'; connection: Connection; subflowId: number; reason: SubflowCloseReason; peerReset?: PeerReset }
  /** A subflow's backup priority changed (MP_PRIO, RFC 8684 §3.3.8). */
  | { type: 'subflow-change'; connection: Connection; subflowId: number }
  /** The peer announced an address (ADD_ADDR with a valid HMAC, RFC 8684 §3.4.1). */
  | { type: 'address-added'; connection: Connection; addressId: number; host: string; port: number | undefined }
  /** The peer withdrew addresses (REMOVE_ADDR, RFC 8684 §3.4.2). */
  | { type: 'address-removed'; connection: Connection; addressIds: number[] };
