/**
 * The contract between the Node driver and a transport (UDP datagrams, WebSocket): a
 * transport only moves segment bytes over one path between one local address and the
 * server; it knows nothing of MPTCP. Types only: implementations live in transport-*.
 */

export interface TransportAddress {
  host: string;
  port: number;
}

/** Why a path went away, with a stable code. */
export interface PathCloseInfo {
  code: string; // e.g. 'ERR_MPTUN_PATH_CLOSED', 'ERR_MPTUN_HANDSHAKE_TIMEOUT', 'ERR_MPTUN_PEER_GONE'
  message: string;
}

/**
 * One path: an authenticated channel (or a plain one, when asked) from a local address to
 * the peer. Many MPTCP subflows, of many connections, may share one path.
 */
export interface PathLink {
  readonly kind: 'udp' | 'ws';
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  /** Largest segment this path carries in one datagram/message now, bytes (path MTU discovery may move it). */
  readonly maxSegment: number;
  /**
   * Largest segment this path can deliver to us, bytes (what the SYN's MSS option says we
   * take); maxSegment when absent.
   */
  readonly maxReceiveSegment?: number;
  /** Optional: called when maxSegment changed (a path MTU search confirmed a size, or a black hole). */
  onMaxSegment?: ((maxSegment: number) => void) | null;
  /**
   * True when the carrier retransmits by itself (a WebSocket's TCP): the engine runs the
   * subflows of this path in reliable-link mode.
   */
  readonly reliable: boolean;
  /**
   * True when the path's session proved who the peer is (sealed UDP, WebSocket): data in a
   * SYN may then be acted on at once. False on plain paths, where the source may be spoofed.
   */
  readonly authenticated: boolean;
  /**
   * The peer's static public key as the path session proved it (a server's sealed UDP and
   * WebSocket paths: the client's key); null or absent where no session proved one (plain).
   */
  readonly peerKey?: Uint8Array | null;
  /**
   * The token the server named itself with for a reverse proxy to route on (a client's
   * WebSocket paths, packages/transport-ws/src/affinity.ts); null or absent otherwise.
   */
  readonly affinity?: string | null;
  /**
   * The peer's answer to the first segment this path carried in its handshake (a client's
   * sealed UDP path opened with an EarlySegmentSource): hand it to the engine before anything
   * else arrives. Null or absent: none came (the first segment, if any, was not answered).
   */
  readonly earlyAnswer?: Uint8Array | null;
  /** Send one segment. Returns false when the segment was dropped (backpressure, closed). */
  send(segment: Uint8Array): boolean;
  /** Bytes queued locally and not yet handed to the network (0 for UDP). */
  readonly bufferedAmount: number;
  /** Called for every segment that arrives (already authenticated and decrypted). */
  onSegment: ((segment: Uint8Array) => void) | null;
  /** Called once when the path ends, whoever ended it. */
  onClose: ((info: PathCloseInfo) => void) | null;
  /** Called when bufferedAmount fell after send() returned false. */
  onDrain: ((() => void) | null);
  /**
   * Optional: called when the peer went quiet (`silent` true, with why) while the path stays
   * open and tries to reach it again, and when it is heard again (false). A path that
   * reports this keeps what rides on it through an outage; onClose still ends it.
   */
  onSilence?: ((silent: boolean, reason: string) => void) | null;
  /**
   * Optional: under traffic the peer stopped answering (true, silent for `silentMs`), or was
   * heard again (false). Only shown: the path stays in use (a WebSocket's TCP delivers late
   * what it holds); onSilence and onClose keep their roles.
   */
  onStall?: ((stalled: boolean, silentMs: number) => void) | null;
  close(): void;
}

/** What a path will be, known before its handshake ends (sealed UDP: once its socket is bound). */
export interface PathShape {
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly maxSegment: number;
  readonly maxReceiveSegment: number;
  readonly reliable: boolean;
  readonly authenticated: boolean;
}

/**
 * A client's source of a new path's first segment (an MP_JOIN SYN), asked once before the
 * handshake starts: the segment rides the handshake (0-RTT), or null for none. The answer
 * arrives as the opened link's earlyAnswer.
 */
export type EarlySegmentSource = (shape: PathShape) => Uint8Array | null;

/** A server side listening on one address: every new authenticated peer path is reported. */
export interface PathListener {
  readonly local: TransportAddress;
  onPath: ((path: PathLink) => void) | null;
  /**
   * Optional: a new path's first segment came in its handshake, which passed every check
   * but whose keys the client has not confirmed yet. The user may take the link now (what
   * it sends is dropped until the path is up) and returns its answer to the segment, which
   * rides the handshake's response (null: none). onPath follows at key confirmation with the
   * same link, or the link closes if the keys are never confirmed.
   */
  onEarlyPath?: ((path: PathLink, segment: Uint8Array) => Uint8Array | null) | null;
  close(): Promise<void>;
}
