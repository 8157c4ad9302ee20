/**
 * A bulk-transfer application for the testbed: one side writes a deterministic stream as
 * fast as the connection takes it, the other reads and checks every byte. It measures what
 * the reader got (bytes, silences) and how long sampled bytes took from their first
 * transmission to the reader (the data delivery delay: head-of-line blocking, loss
 * recovery and reordering, but not the time data waited in the sender's buffer).
 */
import type { ConnectionTrace } from './data-trace.js';
import { PatternStream } from './pattern.js';
import { GapRecorder } from './stats.js';
import type { Session, Side, Testbed, Workload } from './testbed.js';

export interface BulkTransferOptions {
  /** 'up': client → server; 'down': server → client. Default 'up'. */
  direction?: 'up' | 'down';
  /** Seeds the byte stream. Default 1. */
  seed?: number;
  /** Virtual time to start writing, ms. Default 0 (as soon as the connection is up). */
  startAt?: number;
  /** Virtual time to stop writing and half-close (DATA_FIN), ms. Default never. */
  stopAt?: number;
  /** Silences at the reader shorter than this are not recorded, ms. Default 20. */
  minGapMs?: number;
  /**
   * For 'down': bytes of request the client sends first; the server starts writing once it
   * has read them all, as a download answers a request. Default 64.
   */
  requestBytes?: number;
}

/** Bytes offered per write() call. */
const WRITE_CHUNK = 16 * 1024;

export class BulkTransfer implements Workload {
  readonly sender: Side;
  readonly receiver: Side;
  /** Bytes the sender's connection accepted. */
  written = 0;
  /** Bytes the reader read, all checked against the stream. */
  read = 0;
  /** Stream offset of the first byte that did not match (in the request, for a download), or -1. */
  firstMismatch = -1;
  /** First-transmission-to-read delays of sampled bytes, ms, in read order. */
  readonly delays: number[] = [];
  readonly gaps: GapRecorder;
  /** When the writer half-closed, and when the reader saw the end of the stream. */
  shutdownAt: number | undefined;
  private trace: ConnectionTrace | null = null;
  private readonly stream: PatternStream;
  private readonly startAt: number;
  private readonly stopAt: number;
  private readonly requestBytes: number;
  private requestWritten = 0;
  private requestRead = 0;

  constructor(
    private readonly testbed: Testbed,
    readonly session: Session,
    options: BulkTransferOptions = {},
  ) {
    this.sender = options.direction === 'down' ? 'server' : 'client';
    this.receiver = this.sender === 'client' ? 'server' : 'client';
    this.stream = new PatternStream(options.seed ?? 1);
    this.startAt = options.startAt ?? 0;
    this.stopAt = options.stopAt ?? Infinity;
    this.gaps = new GapRecorder(options.minGapMs ?? 20);
    this.requestBytes = this.sender === 'server' ? (options.requestBytes ?? 64) : 0;
    if (!Number.isInteger(this.requestBytes) || this.requestBytes < 0 || this.requestBytes > WRITE_CHUNK) {
      throw new RangeError(`requestBytes must be an integer in [0, ${WRITE_CHUNK}], got ${this.requestBytes}`);
    }
  }

  /** What the sender's subflows carried, per path (null before the sender exists). */
  get sendTrace(): ConnectionTrace | null {
    return this.trace;
  }

  /** The reader has read everything written and seen the DATA_FIN. */
  get complete(): boolean {
    return this.shutdownAt !== undefined && this.session.endAt[this.receiver] !== undefined && this.read === this.written;
  }

  pump(now: number): void {
    if (!this.requested(now)) return;
    const out = this.session.conn(this.sender);
    if (out !== null && this.session.connectedAt !== undefined && now >= this.startAt) {
      if (this.trace === null) this.trace = this.testbed.tracer.watch(out);
      if (now < this.stopAt) {
        for (;;) {
          const n = out.write(this.stream.slice(this.written, WRITE_CHUNK));
          this.written += n;
          if (n < WRITE_CHUNK) break;
        }
      } else if (this.shutdownAt === undefined) {
        this.shutdownAt = now;
        out.shutdown();
      }
    }
    const inp = this.session.conn(this.receiver);
    if (inp === null) return;
    for (let d = inp.read(); d !== null; d = inp.read()) {
      if (this.firstMismatch < 0 && !this.stream.matches(this.read, d)) this.firstMismatch = this.read;
      this.trace?.readDelays(this.read, this.read + d.length, now, this.delays);
      this.read += d.length;
      this.gaps.delivered(now);
    }
  }

  /** For a download, the client's request went out and the server read all of it. */
  private requested(now: number): boolean {
    if (this.requestRead >= this.requestBytes) return true;
    const client = this.session.client;
    if (this.session.connectedAt !== undefined && now >= this.startAt && this.requestWritten < this.requestBytes) {
      this.requestWritten += client.write(this.stream.slice(this.requestWritten, this.requestBytes - this.requestWritten));
    }
    const server = this.session.server;
    if (server !== null) {
      for (let d = server.read(this.requestBytes - this.requestRead); d !== null; d = server.read(this.requestBytes - this.requestRead)) {
        if (this.firstMismatch < 0 && !this.stream.matches(this.requestRead, d)) this.firstMismatch = this.requestRead;
        this.requestRead += d.length;
        if (this.requestRead >= this.requestBytes) break;
      }
    }
    return this.requestRead >= this.requestBytes;
  }

  nextWakeup(): number {
    const now = this.testbed.now;
    if (now < this.startAt) return this.startAt;
    if (now < this.stopAt) return this.stopAt;
    return Infinity;
  }
}
