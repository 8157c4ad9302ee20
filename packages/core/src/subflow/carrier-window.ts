/**
 * The send window of a subflow in reliable-link mode (a WebSocket's TCP carries it). The
 * carrier retransmits and controls congestion itself, and its own window is out of sight, so
 * without a window of ours every byte the scheduler hands over is accepted at once: it waits
 * in the carrier's socket buffers, the path never looks full, and minRTT never moves on to
 * the next path (issue 16: the second WebSocket carried 0–14%).
 *
 * The window is sized from what the carrier delivers: its delivery rate (max-filtered over
 * ten rounds, as BBR's bottleneck estimate) times the lowest RTT seen, times two, so the
 * carrier's queue holds about one bandwidth-delay product more than the pipe. While the
 * window is what limits, each round delivers a whole window per RTT, so the next window is
 * about twice as large (the same growth as BBR's startup); once the carrier's rate is the
 * limit, the window settles. A path whose RTT is tiny (loopback) gets at least
 * MIN_QUEUE_MS of queue at its rate, since there the event loop's own turns, not the
 * network, set the round trip.
 */
import { DeliveryRateSampler, WindowedMaxFilter } from '../cc/bbr.js';
import { initialWindow } from '../cc/common.js';

/** The rate max filter spans this many rounds (BBR's BtlBwFilterLen). */
const RATE_FILTER_ROUNDS = 10;
/** Bytes in flight per bandwidth-delay product: one in the pipe, one queued. */
const WINDOW_GAIN = 2;
/** Queueing allowed at the carrier's rate even when the path's RTT is shorter, ms. */
const MIN_QUEUE_MS = 5;
/** Never below this many segments: enough for every ACK to be an immediate one. */
const MIN_WINDOW_SEGMENTS = 4;

export class CarrierWindow {
  private readonly sampler = new DeliveryRateSampler();
  private readonly maxRate = new WindowedMaxFilter(RATE_FILTER_ROUNDS);
  private round = 0;
  /** A round ends when a segment sent after this many bytes were delivered is acknowledged. */
  private nextRoundDelivered = 0;

  /** A segment leaves; `inFlightBefore` bytes were outstanding. */
  onSent(now: number, inFlightBefore: number): void {
    this.sampler.onSent(now, inFlightBefore === 0);
  }

  /** The application ran dry with `inFlight` bytes outstanding: samples until they are delivered say nothing of the carrier. */
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
    // An application-limited sample below the estimate says the application was slow, not the carrier.
    if (!rs.appLimited || rs.deliveryRate >= this.maxRate.value) this.maxRate.update(rs.deliveryRate, this.round);
    else this.maxRate.expire(this.round);
  }

  /** Bytes per ms the carrier has delivered at best lately; 0 before the first sample. */
  get deliveryRate(): number {
    return this.maxRate.value;
  }

  /** Bytes the subflow may have in flight, given the path's lowest RTT (ms) and MSS. */
  window(minRttMs: number, mss: number): number {
    const rate = this.maxRate.value;
    if (!(rate > 0) || !(minRttMs > 0)) return initialWindow(mss);
    const bdpWindow = rate * Math.max(WINDOW_GAIN * minRttMs, minRttMs + MIN_QUEUE_MS);
    return Math.max(Math.ceil(bdpWindow), MIN_WINDOW_SEGMENTS * mss);
  }
}
