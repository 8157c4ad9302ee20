/**
 * An interactive application for the testbed: the client sends a fixed-size request at a
 * fixed interval; the server answers each complete request with a fixed-size response.
 * Measured per request: the time from the client's write to the server reading the whole
 * request (one way), and to the client reading the whole response (round trip).
 */
import { PATTERN_MAX_SLICE, PatternStream } from './pattern.js';
import type { Session, Testbed, Workload } from './testbed.js';
import type { Connection } from '@mptun/core';

export interface RequestResponseOptions {
  /** Time between requests, ms. Default 50. */
  intervalMs?: number;
  /** Default 1024. */
  requestBytes?: number;
  /** Default 1024. */
  responseBytes?: number;
  /** First request at this time (or once connected, if later), ms. Default 0. */
  startAt?: number;
  /** No request is sent at or after this time, ms. Default never. */
  stopAt?: number;
  /** Seeds the payload bytes. Default 2. */
  seed?: number;
}

/** Bytes waiting to be written because the connection refused them for now. */
class Outbox {
  private pending: Uint8Array[] = [];

  push(data: Uint8Array): void {
    this.pending.push(data);
  }

  flush(conn: Connection): void {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      const n = conn.write(head);
      if (n === head.length) this.pending.shift();
      else {
        this.pending[0] = head.subarray(n);
        return;
      }
    }
  }
}

export class RequestResponse implements Workload {
  readonly intervalMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Write time of each request, by index. */
  readonly sentAt: number[] = [];
  /** Per answered request: write → server has read it all, ms. */
  readonly requestDelays: number[] = [];
  /** Per answered request: write → client has read the whole response, ms. */
  readonly latencies: number[] = [];
  /** Bytes that arrived different from what was sent (should stay 0). */
  mismatches = 0;
  private nextAt: number;
  private readonly stopAt: number;
  private serverRead = 0;
  private clientRead = 0;
  private readonly clientOut = new Outbox();
  private readonly serverOut = new Outbox();
  private readonly payload: PatternStream;

  constructor(
    private readonly testbed: Testbed,
    readonly session: Session,
    options: RequestResponseOptions = {},
  ) {
    this.intervalMs = positive('intervalMs', options.intervalMs ?? 50);
    this.requestBytes = messageSize('requestBytes', options.requestBytes ?? 1024);
    this.responseBytes = messageSize('responseBytes', options.responseBytes ?? 1024);
    this.nextAt = options.startAt ?? 0;
    this.stopAt = options.stopAt ?? Infinity;
    this.payload = new PatternStream(options.seed ?? 2);
  }

  /** Requests sent so far. */
  get sent(): number {
    return this.sentAt.length;
  }

  pump(now: number): void {
    const client = this.session.client;
    const server = this.session.server;
    if (this.session.connectedAt !== undefined) {
      // Requests start once the connection is up, not in a burst for the time before.
      if (this.sentAt.length === 0 && this.nextAt < now) this.nextAt = now;
      while (this.nextAt <= now && this.nextAt < this.stopAt) {
        const k = this.sentAt.length;
        this.sentAt.push(now);
        this.clientOut.push(this.payload.slice(k * this.requestBytes, this.requestBytes));
        this.nextAt += this.intervalMs;
      }
      this.clientOut.flush(client);
    }
    if (server !== null) {
      for (let d = server.read(); d !== null; d = server.read()) {
        if (!this.payload.matches(this.serverRead, d)) this.mismatches++;
        const before = Math.floor(this.serverRead / this.requestBytes);
        this.serverRead += d.length;
        for (let k = before; k < Math.floor(this.serverRead / this.requestBytes); k++) {
          this.requestDelays.push(now - this.sentAt[k]!);
          this.serverOut.push(this.payload.slice(k * this.responseBytes, this.responseBytes));
        }
      }
      this.serverOut.flush(server);
    }
    for (let d = client.read(); d !== null; d = client.read()) {
      if (!this.payload.matches(this.clientRead, d)) this.mismatches++;
      const before = Math.floor(this.clientRead / this.responseBytes);
      this.clientRead += d.length;
      for (let k = before; k < Math.floor(this.clientRead / this.responseBytes); k++) this.latencies.push(now - this.sentAt[k]!);
    }
  }

  nextWakeup(): number {
    if (this.session.connectedAt === undefined || this.nextAt >= this.stopAt) return Infinity;
    return this.nextAt;
  }
}

function positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}

function messageSize(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > PATTERN_MAX_SLICE) throw new RangeError(`${name} must be an integer in [1, ${PATTERN_MAX_SLICE}], got ${v}`);
  return v;
}
