import { offsetOfDsn } from '../subflow/seq.js';
import { Reassembly } from './reassembly.js';

/**
 * The connection's receive side: data from every subflow put back in data-sequence order
 * (RFC 8684 §3.3.1 mappings, §3.3.2 DATA_ACK), the window we offer (§3.3.4), and the peer's
 * DATA_FIN (§3.3.3).
 */
export class ReceivePath {
  private readonly reasm: Reassembly;
  private peerFinOffset = -1;
  private ended = false;
  private readableSignalled = false;
  /** Mapped data that fell outside the receive window and was dropped. */
  private drops = 0;
  /** Auto-tuning: when the current measurement began (-1: not yet), and the read position then. */
  private epochAt = -1;
  private epochRead = 0;

  constructor(
    start: number,
    /** The most the buffer grows to. */
    private readonly max: number,
  ) {
    this.reasm = new Reassembly(Math.min(start, max));
  }

  /** Next connection offset expected from the peer (what our DATA_ACK says). */
  get rcvNxt(): number {
    return this.reasm.rcvNxt;
  }

  get readableBytes(): number {
    return this.reasm.readableBytes;
  }

  /** Bytes held: in order and not yet read, and out of order. */
  get bufferedBytes(): number {
    return this.reasm.bufferedBytes;
  }

  get peakBuffered(): number {
    return this.reasm.peakBuffered;
  }

  get outOfWindowDrops(): number {
    return this.drops;
  }

  /** The peer's DATA_FIN (plain TCP: its FIN) was reached and reported. */
  get endReached(): boolean {
    return this.ended;
  }

  window(): number {
    return this.reasm.window();
  }

  /** Data arrived beyond a gap and waits for it. */
  get hasOutOfOrder(): boolean {
    return this.reasm.bufferedBytes > this.reasm.readableBytes;
  }

  /** The connection offset of a peer DSN, unwrapped near what we expect next. */
  offsetOf(remoteIdsn: bigint, dsn: bigint, dsn64: boolean): number {
    return offsetOfDsn(remoteIdsn, dsn, dsn64, this.reasm.rcvNxt);
  }

  /**
   * Up to `max` bytes in order, or null. `windowOpened`: the window grew past half the
   * buffer, or the buffer itself grew, which is worth announcing at once (RFC 8684 §3.3.4).
   * `rtt()`: the longest round trip of the connection's paths, asked only while the buffer
   * may still grow.
   */
  read(max: number | undefined, now: number, rtt: () => number): { data: Uint8Array | null; windowOpened: boolean } {
    const before = this.reasm.window();
    const data = this.reasm.read(max);
    if (!data) {
      this.readableSignalled = false;
      return { data: null, windowOpened: false };
    }
    const grew = this.reasm.limit < this.max && this.tune(now, rtt());
    const windowOpened = grew || (before < this.reasm.limit / 2 && this.reasm.window() >= this.reasm.limit / 2);
    if (this.reasm.readableBytes === 0) this.readableSignalled = false;
    return { data, windowOpened };
  }

  /**
   * Receive-buffer auto-tuning, in the spirit of Linux's dynamic right-sizing: once per round
   * trip of the slowest path, the buffer becomes twice what the application read in it, if
   * that is more (up to max). RFC 8684 §3.3.4 sizes it at twice the paths' summed rate times
   * the longest RTT, so that the fast path keeps sending while the slow one fills a hole;
   * twice what was read per round trip also lets a sender in slow start double. It grows only
   * with reading: a reader that stops keeps the buffer it had. True when it grew.
   */
  private tune(now: number, rtt: number): boolean {
    const read = this.reasm.readOffset;
    if (this.epochAt < 0 || rtt <= 0) {
      this.epochAt = now;
      this.epochRead = read;
      return false;
    }
    if (now - this.epochAt < rtt) return false;
    const wanted = 2 * (read - this.epochRead);
    this.epochAt = now;
    this.epochRead = read;
    if (wanted <= this.reasm.limit) return false;
    this.reasm.limit = Math.min(this.max, wanted);
    return true;
  }

  /**
   * Mapped bytes from a subflow. Returns the new bytes; negative: beyond any window we
   * offered, dropped (a broken or forged mapping, so one forged segment cannot end the
   * connection).
   */
  deliver(dataOffset: number, data: Uint8Array): number {
    const added = this.reasm.insert(dataOffset, data);
    if (added < 0) this.drops++;
    return added;
  }

  /** New bytes arrived: true when the application should hear 'readable' (once until it reads all). */
  signalReadable(): boolean {
    if (this.readableSignalled) return false;
    this.readableSignalled = true;
    return true;
  }

  /** The peer's DATA_FIN takes the octet at `offset` (RFC 8684 §3.3.3). */
  setPeerFin(offset: number): void {
    this.peerFinOffset = offset;
  }

  /** Plain TCP: a subflow FIN ends the stream where it stands, unless an end is known. */
  peerFinAtRcvNxt(): void {
    if (this.peerFinOffset < 0) this.peerFinOffset = this.reasm.rcvNxt;
  }

  /** True once, when everything up to the peer's DATA_FIN has arrived. */
  reachEnd(fallback: boolean): boolean {
    if (this.peerFinOffset < 0 || this.ended || this.reasm.rcvNxt < this.peerFinOffset) return false;
    this.ended = true;
    if (!fallback) this.reasm.skip(1); // the DATA_FIN's octet, so our DATA_ACK covers it
    return true;
  }
}
