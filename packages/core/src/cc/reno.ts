/**
 * NewReno-style AIMD in bytes (RFC 5681), with appropriate byte counting (RFC 3465).
 */
import type { AckEvent, CcPath } from './controller.js';
import { RenoFrameController } from './common.js';

export class RenoController extends RenoFrameController {
  readonly name = 'reno';
  /** RFC 3465 §2.1: bytes acknowledged in congestion avoidance since the last increase. */
  private bytesAcked = 0;

  constructor(path: CcPath) {
    super(path);
  }

  protected congestionAvoidance(_now: number, ev: AckEvent): void {
    // RFC 3465 §2.1 / RFC 5681 §3.1 eq. 3: one SMSS each time a full window has been acked.
    this.bytesAcked += ev.ackedBytes;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.path.mss;
    }
  }

  protected override afterReduction(): void {
    this.bytesAcked = 0;
  }

  protected override afterTimeout(): void {
    this.bytesAcked = 0;
  }
}
