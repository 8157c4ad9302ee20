/**
 * Fresh keys for a long-lived WebSocket path. The client starts a new Noise IK handshake
 * inside the open WebSocket when its SecureChannel asks for a rekey; the server answers it
 * in the same WebSocket. The messages are the session's own initiation and response, sent
 * unsealed (they protect themselves); data keeps flowing under the old keys meanwhile, and
 * the channel switches once both sides hold the new ones (see SecureChannel.install): the
 * client at the response, the server at the client's first data message under them.
 */
import {
  HandshakeInitiator,
  HandshakeResponder,
  IndexTable,
  MessageType,
  PendingInitiation,
  SecureChannel,
  keysEqual,
  messageType,
} from '@mptun/session';

export interface KeyRotation {
  /** The handshake message to send now to renew the keys, or null when none is due. */
  poll(now: number): Uint8Array | null;
  /**
   * A handshake message that arrived on the established path: the reply to send, null when
   * none is needed, or false when the message is not acceptable (the path must close).
   */
  handle(message: Uint8Array, now: number): Uint8Array | null | false;
  /** Completed rotations. */
  readonly count: number;
  destroy(): void;
}

/** The client's side: initiates, takes the response, installs the keys. */
export class InitiatorRotation implements KeyRotation {
  private pending: PendingInitiation | null = null;
  private completed = 0;

  constructor(
    private readonly initiator: HandshakeInitiator,
    private readonly channel: SecureChannel,
    private readonly indexes: IndexTable<true>,
    /** An unanswered initiation is replaced after this long. */
    private readonly retryMs: number,
  ) {}

  get count(): number {
    return this.completed;
  }

  poll(now: number): Uint8Array | null {
    if (this.pending !== null && now - this.pending.startedAt < this.retryMs) return null;
    if (!this.channel.needsRekey(now)) return null;
    this.dropPending();
    const index = this.indexes.freshIndex();
    this.indexes.set(index, true);
    // The initiation names the server's index of the keys it replaces.
    this.pending = this.initiator.initiate(now, index, this.channel.remoteIndex);
    return this.pending.message;
  }

  handle(message: Uint8Array, now: number): Uint8Array | null | false {
    if (this.pending === null || messageType(message) !== MessageType.Response) return false;
    const keys = this.pending.consumeResponse(message);
    if (keys === null) return false;
    this.pending = null;
    this.channel.install(keys, now);
    this.completed++;
    // An empty data message under the new keys tells the server we hold them, so it
    // switches now rather than at our next segment (an idle path may send none for long).
    return this.channel.seal(new Uint8Array(0));
  }

  destroy(): void {
    this.dropPending();
  }

  private dropPending(): void {
    if (this.pending === null) return;
    this.indexes.delete(this.pending.localIndex);
    this.pending.destroy();
    this.pending = null;
  }
}

/** The server's side: answers a rekey initiation from the same client key only. */
export class ResponderRotation implements KeyRotation {
  private completed = 0;

  constructor(
    private readonly responder: HandshakeResponder,
    private readonly channel: SecureChannel,
    private readonly indexes: IndexTable<true>,
    /** The peer's address, for the responder's cookie binding. */
    private readonly source: string,
  ) {}

  get count(): number {
    return this.completed;
  }

  poll(): null {
    return null;
  }

  handle(message: Uint8Array, now: number): Uint8Array | null | false {
    if (messageType(message) !== MessageType.Initiation) return false;
    const result = this.responder.consumeInitiation(message, {
      now,
      source: this.source,
      // The peer finished a TCP handshake with us: its address is real, cookies add nothing.
      underLoad: false,
      allocateIndex: () => {
        const index = this.indexes.freshIndex();
        this.indexes.set(index, true);
        return index;
      },
    });
    if (result.kind !== 'accept') return false;
    const { keys } = result;
    // Another client key, or a rekey of keys this path does not hold, is not a rekey.
    if (!keysEqual(keys.peerPublicKey, this.channel.peerPublicKey) || result.replacesIndex !== this.channel.localIndex) {
      keys.sendKey.fill(0);
      keys.receiveKey.fill(0);
      this.indexes.delete(keys.localIndex);
      return false;
    }
    this.channel.install(keys, now);
    this.completed++;
    return result.response;
  }

  destroy(): void {}
}
