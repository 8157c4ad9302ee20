/** Small async helpers shared by this package's tests. */
import type { PathCloseInfo, PathLink } from '@mptun/core';

/** A queue of values that tests await one at a time. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(v: T) => void> = [];

  push = (value: T): void => {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(value);
    else this.items.push(value);
  };

  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get length(): number {
    return this.items.length;
  }
}

/** Collects a path's segments and its close. */
export class PathProbe {
  readonly segments: Uint8Array[] = [];
  readonly closed: Promise<PathCloseInfo>;
  private wanted: { count: number; resolve: () => void } | null = null;

  constructor(readonly path: PathLink) {
    this.closed = new Promise((resolve) => {
      path.onClose = resolve;
    });
    path.onSegment = (segment) => {
      this.segments.push(segment);
      if (this.wanted !== null && this.segments.length >= this.wanted.count) {
        this.wanted.resolve();
        this.wanted = null;
      }
    };
  }

  /** Resolves once `count` segments in all have arrived. */
  received(count: number): Promise<void> {
    if (this.segments.length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.wanted = { count, resolve };
    });
  }
}

/** A segment whose bytes say which one it is, so loss or reordering shows. */
export function numberedSegment(n: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  new DataView(out.buffer).setUint32(0, n);
  for (let i = 4; i < length; i++) out[i] = (n + i) & 0xff;
  return out;
}

export function segmentNumber(segment: Uint8Array): number {
  return new DataView(segment.buffer, segment.byteOffset, segment.byteLength).getUint32(0);
}

/** Counts of open TCP handles, to see that a test let go of every socket it made. */
export function openTcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}

/** Resolves once at most `count` TCP handles remain open (sockets close asynchronously). */
export async function tcpHandlesDropTo(count: number): Promise<void> {
  while (openTcpHandles() > count) await new Promise((resolve) => setTimeout(resolve, 5));
}
