/**
 * What a path manager needs around it. The connection side is the subset of the engine's
 * Connection it calls (a real Connection fits it as is); the path side is the driver's,
 * which owns sockets (or the simulator's links) and the Endpoint's path table.
 */
import type { Address, ConnectionState, SubflowState } from '@mptun/core';

/** The view of a subflow the path manager reads. */
export interface ManagedSubflow {
  readonly id: number;
  readonly pathId: number;
  readonly state: SubflowState;
  /** Our B flag for it (RFC 8684 §3.2, §3.3.8). */
  readonly backup: boolean;
  /** The engine's id for the subflow's local address, as the peer knows it (RFC 8684 §3.4). */
  readonly localAddressId: number;
}

/** The calls the path manager makes on one connection (Connection implements them). */
export interface ManagedConnection {
  readonly state: ConnectionState;
  /** Plain TCP after a fallback: no further subflows (RFC 8684 §3.7). */
  readonly fallback: boolean;
  /**
   * The peer set the C bit (RFC 8684 §3.1): no subflow may be opened to the address the
   * connection started on, only to announced ones. Absent means false.
   */
  readonly joinsToInitialAddressRefused?: boolean;
  subflows(): readonly ManagedSubflow[];
  /** MP_JOIN a new subflow over a path (RFC 8684 §3.2); null when it cannot be started. */
  join(now: number, pathId: number, backup?: boolean): ManagedSubflow | null;
  /** Close one subflow with MP_TCPRST carrying `reason` (RFC 8684 §3.6). */
  closeSubflow(now: number, subflowId: number, reason?: number): void;
  /** Change our B flag and tell the peer (MP_PRIO, RFC 8684 §3.3.8). */
  setBackup(subflowId: number, backup: boolean): void;
  /** REMOVE_ADDR (RFC 8684 §3.4.2). */
  withdrawAddresses(addressIds: readonly number[]): void;
  /** What the peer announced with ADD_ADDR and has not withdrawn. */
  peerAddressList(): ReadonlyArray<{ addressId: number; host: string; port: number | undefined }>;
}

/** The driver's side: paths (a local address bound toward a remote one). */
export interface PathHost {
  /**
   * A path from `localHost` to `remote`, opened if need be (bind a socket, register it with
   * the Endpoint); null when that cannot be done now (the address is not bindable).
   * `index` tells sibling subflows over one address pair apart (ndiffports): a transport
   * whose path carries one subflow at a time (tcp-in-udp with a fixed port) opens a path
   * per index; one whose paths carry many may return the same path for every index.
   * 'pending': the path is being opened (a handshake in flight); the subflow waits without
   * counting a failure, and the host ticks the manager again once the path is up or failed.
   */
  ensurePath(localHost: string, remote: Address, index: number): number | null | 'pending';
  /** The path manager no longer needs this path: no subflow of its connection uses it. */
  releasePath(pathId: number): void;
  /** The addresses of a path (Endpoint.pathInfo fits), or undefined for one that is gone. */
  pathInfo(pathId: number): { local: Address; remote: Address } | undefined;
}
