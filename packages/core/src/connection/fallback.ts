import type { SentSegment } from '../subflow/sent-segment.js';
import type { Subflow } from '../subflow/subflow.js';

/**
 * Fallback to plain TCP and what leads there (RFC 8684 §3.7): DSS checksums (§3.3.1), the
 * MP_FAIL a failed checksum asks for, and the infinite mapping our data rides afterwards.
 */
export class Fallback {
  private fellBack = false;
  private checksumsOn: boolean;
  /** DSN to report in MP_FAIL after a checksum failure, until the peer falls back. */
  private failDsn: bigint | null = null;
  /** After MP_FAIL: our data from this offset rides an infinite mapping; -1 once acknowledged. */
  private infiniteFrom = -1;
  private readonly infiniteCarriers = new WeakSet<SentSegment>();

  constructor(checksums: boolean) {
    this.checksumsOn = checksums;
  }

  /** Plain TCP: the peer never echoed MP_CAPABLE, or a checksum failure ended MPTCP. */
  get active(): boolean {
    return this.fellBack;
  }

  /** DSS checksums in use (RFC 8684 §3.3.1). */
  get checksums(): boolean {
    return this.checksumsOn;
  }

  /** The DSN an MP_FAIL should carry, or null when none is due. */
  get mpFailDsn(): bigint | null {
    return this.failDsn;
  }

  /** The peer's MP_CAPABLE asked for checksums (RFC 8684 §3.1, flag A). */
  enableChecksums(): void {
    this.checksumsOn = true;
  }

  /** The handshake went without MPTCP: subflow bytes are connection bytes from offset 0. */
  enterAtHandshake(sf: Subflow): void {
    this.fellBack = true;
    sf.addMapping({ rel: 0, dataOffset: 0, len: Infinity });
  }

  /**
   * Continue as plain TCP, our data from offset `from` on under an infinite mapping. `tellPeer`:
   * we fell back on our own (data came unmapped), so our pure ACKs carry MP_FAIL with this DSN
   * from now on: a peer whose options are stripped on their way to us cannot show it heard.
   */
  enterAfterFail(from: number, tellPeer: bigint | null = null): void {
    this.fellBack = true;
    this.checksumsOn = false;
    this.infiniteFrom = from;
    this.failDsn = tellPeer;
  }

  /** The peer's infinite mapping came: it has fallen back too, so no need to ask again. */
  peerFollowed(): void {
    this.failDsn = null;
  }

  /** A checksum failed on the only subflow: ask for fallback once. True when newly asked. */
  requestFail(dsn: bigint): boolean {
    if (this.failDsn !== null) return false;
    this.failDsn = dsn;
    return true;
  }

  /** Whether data segment `seg` must announce the infinite mapping; remembers it if so. */
  announcesInfiniteMapping(seg: SentSegment): boolean {
    if (this.infiniteFrom < 0 || seg.dataOffset < 0) return false;
    this.infiniteCarriers.add(seg);
    return true;
  }

  /**
   * Subflow-level ACKs: once a segment that announced the infinite mapping is in, the peer
   * has it, and a receiver of an infinite mapping falls back too, so MP_FAIL has done its work.
   */
  onAcked(segments: readonly SentSegment[]): void {
    if (this.infiniteFrom >= 0 && segments.some((s) => this.infiniteCarriers.has(s))) {
      this.infiniteFrom = -1;
      if (this.fellBack) this.failDsn = null;
    }
  }
}
