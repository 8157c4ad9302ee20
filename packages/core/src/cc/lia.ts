/**
 * LIA, the Linked Increases Algorithm of RFC 6356: the subflows of one connection share one
 * increase, so together they take no more than a single TCP flow would on the best path.
 * Slow start, loss and timeout stay Reno's (RFC 6356 §3: only the increase is coupled).
 */
import type { AckEvent, CcGroup, CcPath } from './controller.js';
import { RenoFrameController, coupledSubflows } from './common.js';

export class LiaController extends RenoFrameController {
  readonly name = 'lia';

  constructor(
    path: CcPath,
    private readonly group: CcGroup,
  ) {
    super(path);
  }

  /**
   * RFC 6356 §3/§4: alpha = cwnd_total * max_i(cwnd_i / rtt_i^2) / (sum_i(cwnd_i / rtt_i))^2,
   * with cwnd_total; undefined while this subflow has no RTT sample.
   */
  alpha(): { alpha: number; cwndTotal: number } | undefined {
    const subflows = coupledSubflows(this.group, this, this.path, this.cwnd);
    if (!subflows.some((s) => s.self)) return undefined;
    let cwndTotal = 0;
    let best = 0;
    let sum = 0;
    for (const s of subflows) {
      cwndTotal += s.window;
      best = Math.max(best, s.window / (s.srtt * s.srtt));
      sum += s.window / s.srtt;
    }
    return { alpha: (cwndTotal * best) / (sum * sum), cwndTotal };
  }

  protected congestionAvoidance(_now: number, ev: AckEvent): void {
    const mss = this.path.mss;
    // RFC 6356 §3: never more than a single-path flow would grow on this subflow.
    const uncoupled = (ev.ackedBytes * mss) / this.cwnd;
    const coupling = this.alpha();
    if (coupling === undefined) {
      this.cwnd += uncoupled;
      return;
    }
    // RFC 6356 §3: min(alpha * bytes_acked * MSS_i / cwnd_total, bytes_acked * MSS_i / cwnd_i).
    const coupled = (coupling.alpha * ev.ackedBytes * mss) / coupling.cwndTotal;
    this.cwnd += Math.min(coupled, uncoupled);
  }
}
