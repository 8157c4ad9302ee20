/**
 * Datagrams a socket sends in one event-loop turn, handed to the kernel together. A bulk
 * sender emits dozens of equal-sized datagrams per turn to one peer; node:dgram makes one
 * syscall (and a lookup, a request object, a callback) for each, about a quarter of the
 * sending side's CPU (docs/benchmarks.md, issue 16). Where the caller can (Linux, a socket
 * whose fd we made), a run of equal-sized datagrams to one destination leaves in a single
 * sendmsg() with UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18): the kernel
 * cuts the run into the same datagrams on the wire. Anything else goes through node:dgram
 * as before, in order.
 */
import type dgram from 'node:dgram';

/** Where one run goes: null on a connected socket. */
export interface BatchDestination {
  host: string;
  port: number;
}

/**
 * Sends `datagrams` (all `segmentSize` bytes long but the last, which may be shorter) in one
 * call on socket `fd`. 'sent': all left; 'again': the socket's buffer is full, none left;
 * 'failed': the kernel refused this run (e.g. an ICMP error pending on a connected socket);
 * 'unsupported': it never will on this socket (no UDP_SEGMENT, no checksum offload).
 */
export type DatagramBatchSend = (fd: number, datagrams: readonly Uint8Array[], segmentSize: number, to: BatchDestination | null) => 'sent' | 'again' | 'failed' | 'unsupported';

/** Linux: at most 64 segments per send (UDP_MAX_SEGMENTS), and the run fits one 64 KiB IP packet. */
const MAX_SEGMENTS = 64;
const MAX_RUN_BYTES = 65_000;
/** A turn that sends more goes out in pieces of about this much, so little waits in user space. */
const FLUSH_BYTES = 64 * 1024;

export class DatagramBatcher {
  private readonly queue: Uint8Array[] = [];
  private readonly ports: number[] = [];
  private readonly hosts: string[] = [];
  private queued = 0;
  private scheduled = false;
  private batchSend: DatagramBatchSend | null;

  constructor(
    private readonly socket: dgram.Socket,
    /** The socket's fd when we made it (openSocket); batching needs it. */
    private readonly fd: number | undefined,
    batchSend: DatagramBatchSend | undefined,
    /** A connected socket sends without a destination. */
    private readonly connected: boolean,
  ) {
    this.batchSend = fd !== undefined && batchSend !== undefined ? batchSend : null;
  }

  /**
   * Bytes the kernel did not take and node:dgram queues (what a path's send-queue limit
   * judges). The batch itself is not counted: it leaves within the turn, at most FLUSH_BYTES.
   */
  get queuedBytes(): number {
    return this.socket.getSendQueueSize();
  }

  /** Sends `datagram` (to `port`/`host` on an unconnected socket) at the end of this turn, after those before it. */
  send(datagram: Uint8Array, port = 0, host = ''): boolean {
    if (this.batchSend === null) {
      this.sendOne(datagram, port, host);
      return true;
    }
    this.queue.push(datagram);
    this.ports.push(port);
    this.hosts.push(host);
    this.queued += datagram.length;
    if (this.queued >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
    return true;
  }

  private clear(): void {
    this.queue.length = this.ports.length = this.hosts.length = 0;
    this.queued = 0;
  }

  /** Sends what waits now, e.g. before the socket closes. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const q = this.queue;
    let i = 0;
    while (i < q.length) {
      const end = this.runEnd(i);
      if (end - i < 2 || !this.sendRun(i, end)) for (let k = i; k < end; k++) this.sendOne(q[k]!, this.ports[k]!, this.hosts[k]!);
      i = end;
    }
    this.clear();
  };

  /** The end of the run from `start`: equal sizes (the last may be shorter), one destination, within the kernel's bounds. */
  private runEnd(start: number): number {
    const q = this.queue;
    const size = q[start]!.length;
    let bytes = size;
    let end = start + 1;
    while (end < q.length && end - start < MAX_SEGMENTS && bytes + q[end]!.length <= MAX_RUN_BYTES && this.ports[end] === this.ports[start] && this.hosts[end] === this.hosts[start]) {
      const len = q[end]!.length;
      if (len > size) break;
      bytes += len;
      end++;
      if (len < size) break; // a shorter one ends the run
    }
    return end;
  }

  /** One sendmsg for q[start..end); false when node:dgram must send them instead. */
  private sendRun(start: number, end: number): boolean {
    // Order: what node:dgram still queues must leave first.
    if (this.socket.getSendQueueCount() > 0) return false;
    const run = this.queue.slice(start, end);
    const to = this.connected ? null : { host: this.hosts[start]!, port: this.ports[start]! };
    const result = this.batchSend!(this.fd!, run, run[0]!.length, to);
    if (result === 'sent') return true;
    if (result === 'unsupported') this.batchSend = null;
    return false;
  }

  private sendOne(datagram: Uint8Array, port: number, host: string): void {
    try {
      if (this.connected) this.socket.send(datagram);
      else this.socket.send(datagram, port, host);
    } catch {
      // The socket closed in this turn: the datagram is lost, as one the kernel refused.
    }
  }
}
