/** RTT estimation and the retransmission timeout, RFC 6298. All times in ms. */
export class RttEstimator {
  srtt = 0;
  rttVar = 0;
  minRtt = 0;
  private rtoMs: number;

  constructor(
    private readonly initialRto: number,
    private readonly minRto: number,
    private readonly maxRto: number,
  ) {
    this.rtoMs = initialRto;
  }

  get hasSample(): boolean {
    return this.srtt > 0;
  }

  /** RFC 6298 §2.2–2.3: fold one measurement in (Karn: never from a retransmission). */
  sample(rtt: number): void {
    const r = Math.max(rtt, 0.001);
    if (this.minRtt === 0 || r < this.minRtt) this.minRtt = r;
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttVar = r / 2;
    } else {
      this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rtoMs = clamp(this.srtt + Math.max(1, 4 * this.rttVar), this.minRto, this.maxRto);
  }

  /** The current timeout before backoff. */
  get rto(): number {
    return this.rtoMs;
  }

  /** RFC 6298 §5.7: after the handshake's SYN was retransmitted, fall back to 3 s. */
  resetAfterSynLoss(): void {
    if (this.srtt === 0) this.rtoMs = Math.max(this.initialRto, 3000);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
