/**
 * Keepalive of one subflow (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): after `everyMs` without a
 * word from the peer, probe; probe again every max(RTO, everyMs / 4) until the peer answers
 * or `maxProbes` went unanswered.
 */
export class Keepalive {
  private lastActivity: number;
  private probes = 0;
  private due = false;
  private lastProbeAt = -Infinity;

  constructor(
    /** 0: never probe. */
    private readonly everyMs: number,
    private readonly maxProbes: number,
    now: number,
  ) {
    this.lastActivity = now;
  }

  /** The peer was heard from: the silence starts again. */
  heard(now: number): void {
    this.lastActivity = now;
    this.probes = 0;
  }

  /** When the next probe is due: Infinity when keepalive is off or the subflow is not established. */
  deadline(established: boolean, rto: number): number {
    const k = this.everyMs;
    if (k <= 0 || !established) return Infinity;
    return Math.max(this.lastActivity, this.lastProbeAt) + (this.probes === 0 ? k : Math.max(rto, k / 4));
  }

  /** The deadline passed: false when the probes are used up (the path is dead), else a probe is due. */
  fire(now: number): boolean {
    if (this.probes >= this.maxProbes) return false;
    this.probes++;
    this.lastProbeAt = now;
    this.due = true;
    return true;
  }

  /** Send a probe at the next chance (also used as the persist timer's window probe). */
  request(): void {
    this.due = true;
  }

  get pending(): boolean {
    return this.due;
  }

  /** Whether a probe is due; taken (cleared) when it is. */
  take(): boolean {
    const due = this.due;
    this.due = false;
    return due;
  }
}
