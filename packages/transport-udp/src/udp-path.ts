/**
 * The PathLink of one UDP path. The mode-specific parts (how a segment becomes a
 * datagram, what closing releases) are passed in; this class keeps the contract: onSegment
 * for every arriving segment, onClose exactly once with a code.
 */
import type { PathCloseInfo, PathLink, TransportAddress } from '@mptun/core';
import { PathCloseCode } from './errors.js';

export interface UdpPathHooks {
  /** Sends one segment; false when it could not (too big, malformed, no key). */
  transmit(segment: Uint8Array): boolean;
  /** Bytes the socket holds that the kernel has not taken yet (node:dgram queues them). */
  queuedBytes(): number;
  /** Releases what the path holds (socket, timers, table entries); called once. */
  release(): void;
}

/** Bytes a path lets wait in its socket's send queue before it drops. */
export const SEND_QUEUE_LIMIT = 256 * 1024;

export class UdpPath implements PathLink {
  readonly kind = 'udp' as const;
  readonly reliable = false;
  onSegment: ((segment: Uint8Array) => void) | null = null;
  onClose: ((info: PathCloseInfo) => void) | null = null;
  onDrain: (() => void) | null = null;
  onSilence: ((silent: boolean, reason: string) => void) | null = null;
  onMaxSegment: ((maxSegment: number) => void) | null = null;
  /** The client's static key on a server's sealed path (set by the listener); null otherwise. */
  peerKey: Uint8Array | null = null;
  /** A client's sealed path: the server's answer to the first segment, which rode the handshake (PathLink.earlyAnswer). */
  earlyAnswer: Uint8Array | null = null;
  private closed = false;
  private currentMax: number;
  /** What our SYN may advertise: the search's cap when one runs, else maxSegment. */
  readonly maxReceiveSegment: number;

  constructor(
    readonly local: TransportAddress,
    /** The peer's address; on a server it follows the client when it roams. */
    public remote: TransportAddress,
    maxSegment: number,
    private readonly hooks: UdpPathHooks,
    /** Sealed paths proved the peer's key; plain ones did not (the source may be spoofed). */
    readonly authenticated: boolean,
    /** The largest segment path MTU discovery may reach (maxSegment when it does not run). */
    maxReceiveSegment = maxSegment,
  ) {
    this.currentMax = maxSegment;
    this.maxReceiveSegment = Math.max(maxSegment, maxReceiveSegment);
  }

  /** Largest segment the path carries now. */
  get maxSegment(): number {
    return this.currentMax;
  }

  /** Path MTU discovery moved the largest segment: tell the user of the path. */
  setMaxSegment(maxSegment: number): void {
    if (this.closed || maxSegment === this.currentMax) return;
    this.currentMax = maxSegment;
    this.onMaxSegment?.(maxSegment);
  }

  /** What waits in the socket's user-space queue for the kernel. */
  get bufferedAmount(): number {
    return this.hooks.queuedBytes();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * When the kernel stops taking datagrams, node:dgram queues them in user space without
   * bound: past SEND_QUEUE_LIMIT we drop instead, a local tail drop that congestion
   * control sees as loss, rather than a queue that grows round trips to seconds.
   */
  send(segment: Uint8Array): boolean {
    if (this.closed || segment.length > this.maxSegment) return false;
    if (this.hooks.queuedBytes() > SEND_QUEUE_LIMIT) return false;
    return this.hooks.transmit(segment);
  }

  /** Hands an arriving segment to the user of the path. */
  deliver(segment: Uint8Array): void {
    if (!this.closed) this.onSegment?.(segment);
  }

  /** The session's peer went quiet or was heard again (see PathLink.onSilence). */
  silence(silent: boolean, reason: string): void {
    if (!this.closed) this.onSilence?.(silent, reason);
  }

  close(): void {
    this.end({ code: PathCloseCode.Closed, message: 'closed by this side' });
  }

  /** Ends the path for `info`'s reason: releases everything, then reports once. */
  end(info: PathCloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.hooks.release();
    this.onClose?.(info);
  }
}
