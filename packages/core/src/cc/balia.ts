/**
 * BALIA, the Balanced Linked Adaptation algorithm (Peng, Walid, Hwang, Low, "Multipath TCP:
 * Analysis, Design, and Implementation", IEEE/ACM Transactions on Networking, 2016, the
 * section that defines BALIA; facts checked against the Linux mptcp_balia.c). With
 * x_k = w_k / rtt_k and α_r = max_k x_k / x_r, on path r:
 *
 *   each ACK:   w_r += x_r / (rtt_r (Σ_k x_k)²) · (1 + α_r)/2 · (4 + α_r)/5
 *   each loss:  w_r −= w_r/2 · min(α_r, 1.5)
 *
 * (windows in segments). The increase is the same as the Linux module's
 * (x_r + x_max)(4 x_r + x_max) / (10 w_r (Σ x)²). Slow start and timeouts stay Reno's.
 */
import type { AckEvent, CcGroup, CcPath, LossEvent } from './controller.js';
import { MIN_WINDOW_SEGMENTS, RenoFrameController, coupledSubflows } from './common.js';

/** The cap on α_r in the decrease: at most a 3/4 cut. */
const MAX_DECREASE_ALPHA = 1.5;

interface BaliaRates {
  /** x_r, bytes per ms. */
  own: number;
  max: number;
  sum: number;
}

export class BaliaController extends RenoFrameController {
  readonly name = 'balia';

  constructor(
    path: CcPath,
    private readonly group: CcGroup,
  ) {
    super(path);
  }

  /** α_r = max_k x_k / x_r; 1 while this subflow has no rate. */
  alpha(): number {
    const rates = this.rates();
    return rates === undefined ? 1 : rates.max / rates.own;
  }

  protected congestionAvoidance(_now: number, ev: AckEvent): void {
    const mss = this.path.mss;
    const rates = this.rates();
    if (rates === undefined) {
      this.cwnd += (ev.ackedBytes * mss) / this.cwnd;
      return;
    }
    // The per-ACK increase in segments per acknowledged segment; the rates' unit cancels out.
    const { own, max, sum } = rates;
    const perSegment = ((own + max) * (4 * own + max)) / (10 * (this.cwnd / mss) * sum * sum);
    this.cwnd += ev.ackedBytes * perSegment;
  }

  protected override thresholdAfterLoss(ev: LossEvent): number {
    // The decrease w_r/2 · min(α_r, 1.5), applied (as RFC 5681 does for Reno) to FlightSize.
    const cut = (ev.priorInFlight / 2) * Math.min(this.alpha(), MAX_DECREASE_ALPHA);
    return Math.max(ev.priorInFlight - cut, MIN_WINDOW_SEGMENTS * this.path.mss);
  }

  private rates(): BaliaRates | undefined {
    let own: number | undefined;
    let max = 0;
    let sum = 0;
    for (const s of coupledSubflows(this.group, this, this.path, this.cwnd)) {
      const x = s.window / s.srtt;
      if (s.self) own = x;
      max = Math.max(max, x);
      sum += x;
    }
    return own !== undefined && own > 0 ? { own, max, sum } : undefined;
  }
}
