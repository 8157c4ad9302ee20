/**
 * A subflow's delivery rate: bytes acknowledged per ms, per-packet samples (the sampler BBR
 * uses, draft-cheng-iccrg-delivery-rate-estimation) max-filtered over ten rounds, as BBR
 * estimates the bottleneck. Unlike the congestion window over the RTT, it never reads above
 * what the path delivered, even while slow start overshoots.
 */
import { DeliveryRateSampler, WindowedMaxFilter } from '../cc/bbr.js';

/** The max filter spans this many rounds (BBR's BtlBwFilterLen). */
const RATE_FILTER_ROUNDS = 10;

export class DeliveryRate {
  private readonly sampler = new DeliveryRateSampler();
  private readonly maxRate = new WindowedMaxFilter(RATE_FILTER_ROUNDS);
  private round = 0;
  /** A round ends when a segment sent after this many bytes were delivered is acknowledged. */
  private nextRoundDelivered = 0;

  /** A segment leaves; `inFlightBefore` bytes were outstanding. */
  onSent(now: number, inFlightBefore: number): void {
    this.sampler.onSent(now, inFlightBefore === 0);
  }

  /** The application ran dry with `inFlight` bytes outstanding: samples until they are delivered say little of the path. */
  markAppLimited(inFlight: number): void {
    this.sampler.markAppLimited(inFlight);
  }

  /** Bytes newly delivered, and the RTT sample of the newest segment they include. */
  onAck(now: number, ackedBytes: number, rttSample: number | undefined): void {
    const rs = this.sampler.onAck(now, ackedBytes, rttSample);
    if (rs === undefined) {
      this.maxRate.expire(this.round);
      return;
    }
    if (rs.priorDelivered >= this.nextRoundDelivered) {
      this.round++;
      this.nextRoundDelivered = this.sampler.delivered;
    }
    // An application-limited sample below the estimate says the application was slow, not the path.
    if (!rs.appLimited || rs.deliveryRate >= this.maxRate.value) this.maxRate.update(rs.deliveryRate, this.round);
    else this.maxRate.expire(this.round);
  }

  /** Bytes per ms delivered at best lately; 0 before the first sample. */
  get bytesPerMs(): number {
    return this.maxRate.value;
  }
}
