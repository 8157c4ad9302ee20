/**
 * Whether the peer still answers on each path while traffic flows, per path rather than per
 * subflow (a path carries the subflows of many connections). Two rules, both sans-IO:
 *
 * - Sender: a subflow's retransmission timer fired (RFC 6298 §5.5) and nothing at all came
 *   back on its path for that RTO: the subflow is potentially failed (RFC 8684 §3.3.6) and so
 *   is the path, not just one connection that lost a flight.
 * - Receiver: the last thing heard on the path carried data and then the path went silent
 *   for an RTO. A receiver sends nothing the peer must answer, so it asks: one keepalive
 *   probe (RFC 9293 §3.8.4, answered at once with an ACK). Unanswered for another RTO, the
 *   path is stalled. Silence after data is either a dead path or a sender done with the
 *   path; the probe tells them apart for one segment, once per silence.
 *
 * A stall is only reported (an edge for the driver's status), never acted on here: nothing
 * closes, the subflows' own RTO backoff and the carrier's idle timeout keep their roles. While
 * stalled and holding no unacknowledged data (whose retransmissions ask already, at least once
 * a second), the path is probed every STALLED_PROBE_MS so the peer is heard as soon as it is
 * back; anything heard ends the stall (the resumed edge). Idle paths are left to the
 * carrier's keepalives. Reliable carriers (WebSocket) are not watched: their TCP retransmits
 * and their ping/pong watches the peer.
 */
import { DeadlineHeap } from './deadline-heap.js';

/** What the endpoint reports of a path's liveness (Endpoint.pollPathEvent). */
export type PathLivenessEvent =
  /**
   * The peer stopped answering on the path under traffic. `cause`: 'rto' when our data went
   * unacknowledged, 'probe' when a liveness probe did. `silentMs`: since it was last heard.
   */
  | { type: 'path-stalled'; pathId: number; silentMs: number; cause: 'rto' | 'probe' }
  /** The peer was heard again on a stalled path; `stalledMs`: how long the stall lasted. */
  | { type: 'path-resumed'; pathId: number; stalledMs: number };

/** While stalled, a probe goes out this often, so a path that comes back is noticed soon. */
export const STALLED_PROBE_MS = 500;
/** Edges kept for a driver that never reads them (the simulator's); the oldest go first. */
const MAX_PENDING_EVENTS = 256;

/** What the watch needs of the path's subflows. */
export interface PathProber {
  /** The largest RTO among the path's established subflows, or null when it has none. */
  rto(pathId: number): number | null;
  /**
   * Send a keepalive probe on one established subflow of the path; false when it has none.
   * `unlessOutstanding`: send nothing (and say true) when a subflow there has data awaiting
   * acknowledgement, whose retransmissions ask the peer already.
   */
  probe(pathId: number, unlessOutstanding: boolean): boolean;
}

interface Watch {
  /** When a segment last arrived on the path; -Infinity before any. */
  lastHeard: number;
  /** That segment carried data (or FIN): the peer was sending when it went quiet. */
  heardData: boolean;
  /** When our unanswered probe went out, or -1. */
  probeAt: number;
  /** How long that probe may go unanswered (the RTO when it left). */
  probeWait: number;
  /** When the stall was declared, or -1 while the path answers. */
  stalledAt: number;
}

export class PathLiveness {
  private readonly watches = new Map<number, Watch>();
  /** When each watched path next needs a look (lazily: a new segment does not move it). */
  private readonly due = new DeadlineHeap<number>();
  private readonly events: PathLivenessEvent[] = [];
  private eventHead = 0;

  constructor(private readonly prober: PathProber) {}

  private watch(pathId: number): Watch {
    let w = this.watches.get(pathId);
    if (!w) {
      w = { lastHeard: -Infinity, heardData: false, probeAt: -1, probeWait: 0, stalledAt: -1 };
      this.watches.set(pathId, w);
    }
    return w;
  }

  /** A segment arrived on the path (`data`: it carried payload or FIN). */
  heard(pathId: number, now: number, data: boolean): void {
    const w = this.watch(pathId);
    w.lastHeard = now;
    w.heardData = data;
    w.probeAt = -1;
    if (w.stalledAt >= 0) {
      this.push({ type: 'path-resumed', pathId, stalledMs: now - w.stalledAt });
      w.stalledAt = -1;
      this.due.delete(pathId);
    }
    // Data arriving on a path nobody looks at: look once its silence could matter.
    if (data && this.due.get(pathId) === undefined) this.due.set(pathId, now + (this.prober.rto(pathId) ?? 0));
  }

  /**
   * A subflow on the path had a retransmission timeout with RTO `rto` (before backoff) and is
   * potentially failed. The path is stalled if nothing came back on it for that long.
   */
  timedOut(pathId: number, now: number, rto: number): void {
    const w = this.watch(pathId);
    if (w.stalledAt >= 0 || now - w.lastHeard < rto) return;
    this.stall(pathId, w, now, 'rto');
  }

  /** The path is gone: forget it, without an edge (the driver knows why it went). */
  forget(pathId: number): void {
    this.watches.delete(pathId);
    this.due.delete(pathId);
  }

  stalled(pathId: number): boolean {
    return (this.watches.get(pathId)?.stalledAt ?? -1) >= 0;
  }

  nextDeadline(): number {
    return this.due.peek();
  }

  handleTimeout(now: number): void {
    for (const pathId of this.due.takeDue(now)) {
      const w = this.watches.get(pathId);
      if (w) this.check(pathId, w, now);
    }
  }

  /** The next edge, or null. */
  poll(): PathLivenessEvent | null {
    if (this.eventHead >= this.events.length) {
      this.events.length = 0;
      this.eventHead = 0;
      return null;
    }
    return this.events[this.eventHead++]!;
  }

  private check(pathId: number, w: Watch, now: number): void {
    if (w.stalledAt >= 0) {
      // Ask again now and then: the answer is how the stall ends.
      if (this.prober.probe(pathId, true)) this.due.set(pathId, now + Math.max(STALLED_PROBE_MS, this.prober.rto(pathId) ?? 0));
      return;
    }
    // Deadlines are compared as computed (a + b > now, not now - a < b): in floating point
    // the two may disagree, and a deadline set at or before `now` would be due for ever.
    if (w.probeAt >= 0) {
      const answerBy = w.probeAt + w.probeWait;
      if (answerBy > now) this.due.set(pathId, answerBy);
      else this.stall(pathId, w, now, 'probe');
      return;
    }
    // The last word heard was no data (an ACK, a probe's answer): an idle path, the carrier's keepalives watch it.
    if (!w.heardData) return;
    const rto = this.prober.rto(pathId);
    if (rto === null) return;
    const probeAt = w.lastHeard + rto;
    if (probeAt > now) {
      this.due.set(pathId, probeAt);
      return;
    }
    if (!this.prober.probe(pathId, false)) return;
    w.probeAt = now;
    w.probeWait = rto;
    this.due.set(pathId, now + rto);
  }

  private stall(pathId: number, w: Watch, now: number, cause: 'rto' | 'probe'): void {
    w.stalledAt = now;
    w.probeAt = -1;
    this.push({ type: 'path-stalled', pathId, silentMs: now - w.lastHeard, cause });
    this.due.set(pathId, now + STALLED_PROBE_MS);
  }

  private push(ev: PathLivenessEvent): void {
    if (this.events.length - this.eventHead >= MAX_PENDING_EVENTS) {
      this.eventHead++;
      // Dropped ones leave the array now and then, so it does not grow for a reader that never comes.
      if (this.eventHead >= MAX_PENDING_EVENTS) {
        this.events.splice(0, this.eventHead);
        this.eventHead = 0;
      }
    }
    this.events.push(ev);
  }
}
