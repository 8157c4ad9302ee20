import { seqLength, type SentSegment } from './sent-segment.js';

/**
 * RACK loss detection (RFC 8985 §6): the most recently sent segment known delivered, and
 * every transmission in time order, so a segment sent before it and still missing after a
 * reordering window is declared lost. Each pass costs what it resolves, not the whole
 * scoreboard: spent entries at the head are skipped once and dropped now and then.
 */
export class Rack {
  private xmitTime = -1;
  private endRel = -1;
  private rtt = 0;
  /** Every transmission in time order; spent entries are skipped lazily. */
  private order: Array<{ seg: SentSegment; time: number }> = [];
  private head = 0;
  /** What the last detect() found: any loss, and a retransmission of this recovery lost again. */
  lostAny = false;
  lostRetransmission = false;

  /** `seg` was (re)sent at `now`. */
  onTransmit(seg: SentSegment, now: number): void {
    this.order.push({ seg, time: now });
  }

  /** RFC 8985 §6.2: `newest`, the latest-sent segment an ACK covers, was delivered. */
  onDelivered(newest: SentSegment, now: number, minRtt: number): void {
    const rackRtt = now - newest.xmitTime;
    const ambiguous = newest.xmits > 1 && rackRtt < minRtt; // RFC 8985 §6.2 step 2
    if (!ambiguous && (newest.xmitTime > this.xmitTime || (newest.xmitTime === this.xmitTime && newest.rel > this.endRel))) {
      this.xmitTime = newest.xmitTime;
      this.endRel = newest.rel + seqLength(newest);
      this.rtt = Math.max(0.001, rackRtt);
    }
  }

  /**
   * RFC 8985 §6.2 step 5: every segment sent before the delivered one whose reordering
   * window `reoWnd` has passed goes to `markLost`. Returns when the next entry's window
   * ends (Infinity: none waits), or -1 before anything was delivered (nothing checked).
   */
  detect(now: number, reoWnd: number, recoveryStartedAt: number, markLost: (s: SentSegment) => void): number {
    this.lostAny = false;
    this.lostRetransmission = false;
    if (this.xmitTime < 0) return -1;
    let nextTimeout = Infinity;
    const order = this.order;
    for (let i = this.head; i < order.length; i++) {
      const e = order[i]!;
      const s = e.seg;
      if (!s.inFlight || s.xmitTime !== e.time) {
        // Delivered, declared lost, or sent again since: this entry is spent.
        if (i === this.head) this.head++;
        continue;
      }
      if (e.time > this.xmitTime || (e.time === this.xmitTime && s.rel + seqLength(s) >= this.endRel)) break;
      const remaining = e.time + this.rtt + reoWnd - now;
      if (remaining > 0) {
        nextTimeout = now + remaining; // later entries expire later still
        break;
      }
      // A retransmission sent during this recovery and lost again is a new congestion signal.
      if (s.xmits > 1 && e.time >= recoveryStartedAt) this.lostRetransmission = true;
      markLost(s);
      this.lostAny = true;
      if (i === this.head) this.head++;
    }
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
    return nextTimeout;
  }
}
