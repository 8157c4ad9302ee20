/**
 * OLIA, the Opportunistic Linked Increases Algorithm (Khalili, Gast, Popovic, Le Boudec,
 * "MPTCP is not Pareto-optimal: performance issues and a possible solution", CoNEXT 2012, the
 * section that defines OLIA; draft-khalili-mptcp-congestion-control-05, its algorithm section;
 * "the paper" and "the draft" below).
 * Each ACK on path r grows w_r (in segments) by
 *
 *     (w_r / rtt_r²) / (Σ_p w_p / rtt_p)²  +  α_r / w_r
 *
 * where α_r moves window from the paths with the largest windows (M) toward the presumed best
 * paths (B, by inter-loss distance over rtt²) that do not yet have the largest window.
 * Slow start, loss and timeout stay Reno's.
 */
import type { AckEvent, CcGroup, CcPath, CongestionController } from './controller.js';
import { MIN_WINDOW_SEGMENTS, RenoFrameController, coupledSubflows } from './common.js';

/** Relative tolerance when comparing the best-path metric, which is a float. */
const SAME_METRIC = 1e-9;

export class OliaController extends RenoFrameController {
  readonly name = 'olia';
  /** l1r: bytes acknowledged between the last two losses. */
  private bytesBetweenLosses = 0;
  /** l2r: bytes acknowledged since the last loss. */
  private bytesSinceLoss = 0;

  constructor(
    path: CcPath,
    private readonly group: CcGroup,
  ) {
    super(path);
  }

  /** ℓ_r = max(l1r, l2r): the estimate of bytes delivered per loss (the draft's l_r). */
  interLossBytes(): number {
    return Math.max(this.bytesBetweenLosses, this.bytesSinceLoss);
  }

  /**
   * α_r of this subflow, as the draft defines it. R is the set of OLIA subflows with an RTT: a
   * sibling running another algorithm still counts in the rate sum of the first term (it loads
   * the connection's paths), but it has no ℓ to compare, so it is in neither B nor M.
   */
  alpha(): number {
    const subflows = coupledSubflows(this.group, this, this.path, this.cwnd).filter(
      (s) => s.controller instanceof OliaController,
    );
    const self = subflows.find((s) => s.self);
    if (self === undefined) return 0;
    // B: the largest ℓ_r / rtt_r² (a TCP's rate² at that loss rate, up to a constant).
    const metric = (s: { controller: CongestionController; srtt: number }): number =>
      (s.controller as OliaController).interLossBytes() / (s.srtt * s.srtt);
    // M: the largest window, in whole segments as the paper's packet counts are.
    const segments = (s: { window: number; mss: number }): number => Math.floor(s.window / s.mss);
    let bestMetric = 0;
    let maxSegments = 0;
    for (const s of subflows) {
      bestMetric = Math.max(bestMetric, metric(s));
      maxSegments = Math.max(maxSegments, segments(s));
    }
    const inB = (s: (typeof subflows)[number]): boolean =>
      metric(s) >= bestMetric * (1 - SAME_METRIC);
    const inM = (s: (typeof subflows)[number]): boolean => segments(s) === maxSegments;
    const bNotM = subflows.filter((s) => inB(s) && !inM(s)).length;
    if (bNotM === 0) return 0;
    const paths = subflows.length;
    if (inB(self) && !inM(self)) return 1 / (paths * bNotM);
    if (inM(self)) return -1 / (paths * subflows.filter(inM).length);
    return 0;
  }

  protected override observeAck(_now: number, ev: AckEvent): void {
    this.bytesSinceLoss += ev.ackedBytes;
  }

  protected congestionAvoidance(_now: number, ev: AckEvent): void {
    const mss = this.path.mss;
    const ownSegments = this.cwnd / mss;
    let rateSum = 0;
    let selfRtt = this.path.srtt;
    for (const s of coupledSubflows(this.group, this, this.path, this.cwnd)) {
      rateSum += s.window / s.mss / s.srtt;
      if (s.self) selfRtt = s.srtt;
    }
    if (!(selfRtt > 0) || !(rateSum > 0)) {
      // No RTT yet: Reno's increase.
      this.cwnd += (ev.ackedBytes * mss) / this.cwnd;
      return;
    }
    // The draft's per-ACK increase on path r, in segments per acknowledged segment.
    const perSegment =
      ownSegments / (selfRtt * selfRtt) / (rateSum * rateSum) + this.alpha() / ownSegments;
    // Per byte acknowledged: Δcwnd_bytes = acked_bytes * Δw_segments.
    const next = this.cwnd + ev.ackedBytes * perSegment;
    if (next >= this.cwnd) {
      this.cwnd = next;
    } else {
      // A negative α hands window to the better paths; not below the floor.
      this.lowerWindow(Math.max(next, Math.min(this.cwnd, MIN_WINDOW_SEGMENTS * mss)));
    }
  }

  protected override afterReduction(): void {
    this.rollLossInterval();
  }

  protected override afterTimeout(): void {
    this.rollLossInterval();
  }

  /** A loss closes the current interval: l1r = l2r, l2r = 0 (if anything was delivered). */
  private rollLossInterval(): void {
    if (this.bytesSinceLoss === 0) return;
    this.bytesBetweenLosses = this.bytesSinceLoss;
    this.bytesSinceLoss = 0;
  }
}
