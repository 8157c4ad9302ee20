/**
 * Small Driveable endpoints for the simulator's own tests (the MPTCP engine is not used
 * here). Each message starts with a 4-byte big-endian sequence number.
 */
import type { Driveable, Transmit } from '@mptun/core';
import { Ring } from '../../src/ring.js';

function message(size: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(Math.max(size, 12));
  new DataView(bytes.buffer).setUint32(0, seq);
  return bytes;
}

export function seqOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

/** Sends transmits queued by its own callbacks. */
abstract class Queueing implements Driveable {
  protected readonly out = new Ring<Transmit>();
  abstract handleSegment(now: number, pathId: number, bytes: Uint8Array): void;
  handleTimeout(_now: number): void {}
  pollTransmit(_now: number): Transmit | null {
    return this.out.shift() ?? null;
  }
  pollTimeout(): number | null {
    return null;
  }
}

/** Sends every segment back on the path it came from. */
export class Echo extends Queueing {
  received = 0;
  handleSegment(_now: number, pathId: number, bytes: Uint8Array): void {
    this.received++;
    this.out.push({ pathId, bytes });
  }
}

/**
 * Every `intervalMs` from `startMs`, sends a ping carrying its send time on each pathId;
 * records the round-trip time of every echo, per path.
 */
export class Pinger extends Queueing {
  readonly rtts = new Map<number, number[]>();
  private sent = 0;
  private nextAt: number;

  constructor(
    private readonly pathIds: readonly number[],
    private readonly count: number,
    private readonly intervalMs: number,
    private readonly size = 64,
    startMs = 0,
  ) {
    super();
    this.nextAt = startMs;
    for (const id of pathIds) this.rtts.set(id, []);
  }

  handleSegment(now: number, pathId: number, bytes: Uint8Array): void {
    const sentAt = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(4);
    this.rtts.get(pathId)!.push(now - sentAt);
  }

  override handleTimeout(now: number): void {
    while (this.sent < this.count && this.nextAt <= now) {
      for (const pathId of this.pathIds) {
        const bytes = message(this.size, this.sent);
        new DataView(bytes.buffer).setFloat64(4, now);
        this.out.push({ pathId, bytes });
      }
      this.sent++;
      this.nextAt += this.intervalMs;
    }
  }

  override pollTimeout(): number | null {
    return this.sent < this.count ? this.nextAt : null;
  }

  get answered(): number {
    let n = 0;
    for (const r of this.rtts.values()) n += r.length;
    return n;
  }
}

/** Acknowledges every data segment with a 12-byte segment echoing its sequence number. */
export class AckingSink extends Queueing {
  /** Next in-order sequence number expected. */
  expected = 0;
  segments = 0;
  duplicates = 0;
  bytes = 0;
  firstAt = -1;
  lastAt = -1;

  handleSegment(now: number, pathId: number, bytes: Uint8Array): void {
    const seq = seqOf(bytes);
    this.segments++;
    if (seq === this.expected) {
      this.expected++;
      this.bytes += bytes.length;
      if (this.firstAt < 0) this.firstAt = now;
      this.lastAt = now;
    } else if (seq < this.expected) {
      this.duplicates++;
    }
    this.out.push({ pathId, bytes: message(12, seq) });
  }
}

/** Sends `total` segments one at a time, each retransmitted every `rtoMs` until acknowledged. */
export class StopAndWaitSender extends Queueing {
  acked = 0;
  transmissions = 0;
  doneAt: number | null = null;
  private deadline: number | null = 0;

  constructor(
    private readonly pathId: number,
    private readonly total: number,
    private readonly rtoMs: number,
    private readonly size = 1000,
  ) {
    super();
  }

  handleSegment(now: number, _pathId: number, bytes: Uint8Array): void {
    if (seqOf(bytes) !== this.acked) return; // stale ack of an earlier copy
    this.acked++;
    if (this.acked === this.total) {
      this.doneAt = now;
      this.deadline = null;
      return;
    }
    this.send(now);
  }

  override handleTimeout(now: number): void {
    if (this.deadline !== null && now >= this.deadline) this.send(now);
  }

  override pollTimeout(): number | null {
    return this.deadline;
  }

  private send(now: number): void {
    this.transmissions++;
    this.out.push({ pathId: this.pathId, bytes: message(this.size, this.acked) });
    this.deadline = now + this.rtoMs;
  }
}

/**
 * Keeps `window` segments in flight, one new segment per acknowledgment (no loss
 * recovery: for lossless paths). Stops after `total` segments.
 */
export class WindowSender extends Queueing {
  acked = 0;
  private nextSeq = 0;
  private started = false;

  constructor(
    private readonly pathId: number,
    private readonly window: number,
    private readonly total: number,
    private readonly size = 1000,
  ) {
    super();
  }

  handleSegment(_now: number, _pathId: number, _bytes: Uint8Array): void {
    this.acked++;
    this.fill();
  }

  override handleTimeout(_now: number): void {
    if (this.started) return;
    this.started = true;
    this.fill();
  }

  override pollTimeout(): number | null {
    return this.started ? null : 0;
  }

  private fill(): void {
    while (this.nextSeq < this.total && this.nextSeq - this.acked < this.window) {
      this.out.push({ pathId: this.pathId, bytes: message(this.size, this.nextSeq++) });
    }
  }
}

/** Never stops transmitting: pollTransmit always has another segment. */
export class Chatterbox implements Driveable {
  handleSegment(): void {}
  handleTimeout(): void {}
  pollTransmit(): Transmit {
    return { pathId: 0, bytes: new Uint8Array(20) };
  }
  pollTimeout(): number | null {
    return null;
  }
}

/** Its deadline never moves past the time it is called at. */
export class StuckTimer implements Driveable {
  timeouts = 0;
  handleSegment(): void {}
  handleTimeout(): void {
    this.timeouts++;
  }
  pollTransmit(): Transmit | null {
    return null;
  }
  pollTimeout(): number | null {
    return 5;
  }
}

/** Sends one segment on pathId 0 at time 0, and echoes what it receives (with Echo: endless ping-pong). */
export class KickoffEcho extends Echo {
  private kicked = false;
  override pollTransmit(now: number): Transmit | null {
    if (!this.kicked) {
      this.kicked = true;
      return { pathId: 0, bytes: message(12, 0) };
    }
    return super.pollTransmit(now);
  }
}

/** Sends only what its app writes (from outside, e.g. a stopWhen hook); counts what comes back. */
export class Writer extends Queueing {
  received = 0;
  write(pathId: number, bytes: Uint8Array): void {
    this.out.push({ pathId, bytes });
  }
  handleSegment(): void {
    this.received++;
  }
}
