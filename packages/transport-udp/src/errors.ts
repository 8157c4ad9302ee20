/** Errors of the UDP transport, with stable codes (tests and callers match on `code`). */
export type UdpTransportErrorCode =
  | 'ERR_MPTUN_BAD_CONFIG' // a required key or option is missing or out of range
  | 'ERR_MPTUN_BIND' // the socket could not bind to the requested local address
  | 'ERR_MPTUN_HANDSHAKE_TIMEOUT' // no authenticated answer from the server in time
  | 'ERR_MPTUN_SERVER_UNREACHABLE' // ICMP port unreachable: nothing listens at the server's address
  | 'ERR_MPTUN_PATH_CLOSED'; // connect() was abandoned because the transport closed it

export class UdpTransportError extends Error {
  override readonly name = 'UdpTransportError';
  constructor(
    readonly code: UdpTransportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Codes a path reports in onClose. */
export const PathCloseCode = {
  /** close() was called on this side. */
  Closed: 'ERR_MPTUN_PATH_CLOSED',
  /** Nothing authenticated arrived for idleTimeoutMs. */
  PeerGone: 'ERR_MPTUN_PEER_GONE',
  /** The keys expired before a rekey handshake succeeded. */
  KeysExpired: 'ERR_MPTUN_KEYS_EXPIRED',
  /** ICMP port unreachable on the connected socket: the server process is gone. */
  ServerUnreachable: 'ERR_MPTUN_SERVER_UNREACHABLE',
  /** The listener that carried this path was closed. */
  ListenerClosed: 'ERR_MPTUN_LISTENER_CLOSED',
} as const;

/** Why a path ended on ICMP port unreachable from `remote` (arriving as ECONNREFUSED). */
export function serverUnreachableMessage(remote: { host: string; port: number }): string {
  return `server unreachable: nothing listens on UDP ${remote.host}:${remote.port} (ICMP port unreachable)`;
}
