/**
 * Send and receive buffers sized from what the paths carry, grow-only, in the manner of the
 * Linux stack's send-buffer expansion and receive-buffer dynamic right-sizing: each starts at a
 * floor that covers the initial windows and grows, round trip by round trip, to twice what
 * one round trip of the slowest busy path moved over all subflows together. That product is
 * the multipath bandwidth-delay product (Σ rate × the longest RTT: the fast paths keep sending
 * while the slow one's data is unacknowledged), and the factor two is the slack Raiciu et al.
 * give the multipath send buffer ("How hard can it be?", NSDI 2012 §4).
 *
 * The round trip is the smoothed one, queue included. Sized from the lowest RTT, a buffer could
 * never fill a queue that another flow keeps standing on the same bottleneck: behind a 100 ms
 * queue a CUBIC upload gave way to a LEDBAT one (tools/test/sim-coupled.test.ts). The price is
 * that a queue the connection keeps itself counts too (see the upload tests' figures).
 *
 * Nothing ever shrinks it: an earlier version sized the send buffer from the live estimate, and
 * when every subflow was briefly potentially failed (a 100 ms address flap, a switch to a
 * backup path) the estimate collapsed to the floor and the upload stalled behind it.
 */

/** Where a buffer starts: several initial windows on every path, and a tunnel's request and reply. */
export const SEND_BUFFER_FLOOR = 128 * 1024;
export const RECEIVE_BUFFER_FLOOR = 128 * 1024;

/** What the tuning reads of a subflow. */
export interface TunedSubflow {
  readonly id: number;
  readonly isEstablished: boolean;
  readonly backup: boolean;
  readonly peerBackup: boolean;
  /** Smoothed RTT, ms (0 before the first sample). */
  readonly srtt: number;
  /** Bytes the peer acknowledged on it, cumulative or selective, since it opened. */
  readonly deliveredBytes: number;
  /** Payload bytes that arrived on it, in order or not, since it opened. */
  readonly receivedBytes: number;
}

type Counter = (sf: TunedSubflow) => number;

/** A round's length while no subflow that moved bytes has an RTT sample yet. */
const UNMEASURED_ROUND_MS = 100;

/**
 * Bytes all subflows moved per round trip of the slowest one meant to carry data: established
 * and neither side's backup (RFC 8684 §3.3.8), whether it moved bytes lately or not. A path
 * the scheduler leaves idle while a faster one has window room must still count: the buffer
 * has to hold enough to fill the fast path's window too, or the scheduler never spills onto
 * the slow one. The bytes are counted over samples of at least that RTT and scaled to it.
 */
class RoundSampler {
  private startedAt = -1;
  /** Each subflow's counter when the round began (a subflow missing here opened since). */
  private readonly marks = new Map<number, number>();

  constructor(private readonly counter: Counter) {}

  /** The bytes of the sample that just ended per longest RTT, or -1 while it runs. */
  sample(now: number, subflows: readonly TunedSubflow[]): number {
    if (this.startedAt < 0) {
      this.restart(now, subflows);
      return -1;
    }
    let rtt = 0;
    let movedRtt = 0;
    let moved = 0;
    for (const sf of subflows) {
      if (sf.isEstablished && !sf.backup && !sf.peerBackup && sf.srtt > rtt) rtt = sf.srtt;
      const delta = this.counter(sf) - (this.marks.get(sf.id) ?? 0);
      if (delta <= 0) continue;
      moved += delta;
      if (sf.srtt > movedRtt) movedRtt = sf.srtt;
    }
    // Only backup subflows carry data (or none has an RTT yet): theirs, or a guess.
    if (rtt === 0) rtt = movedRtt;
    if (moved > 0 && rtt === 0) rtt = UNMEASURED_ROUND_MS;
    // A whole round of the slowest: samples over half the fastest path's round kept up better
    // with slow start, but through real event loops, whose acknowledgments come in batches,
    // the largest of many short samples read up to 5 BDP (pnpm bench, section 1).
    const elapsed = now - this.startedAt;
    if (rtt === 0 || elapsed < rtt) return -1;
    this.restart(now, subflows);
    return (moved * rtt) / elapsed;
  }

  private restart(now: number, subflows: readonly TunedSubflow[]): void {
    this.startedAt = now;
    this.marks.clear();
    for (const sf of subflows) this.marks.set(sf.id, this.counter(sf));
  }
}

/**
 * A grow-only buffer size: a floor, twice the bytes per round trip seen at most, a ceiling.
 * `rampUp`: while the bytes per round grow, the size also grows by that rate (up to double
 * again), so a peer in slow start, which doubles its window each round, is not held to the
 * round before (the Linux receiver's right-sizing does the same). The send side goes without:
 * its size is what it holds, and the ramp would leave it above two BDP after slow start.
 */
export class BufferTuning {
  private size: number;
  private readonly sampler: RoundSampler | null;
  private lastPerRound = 0;

  /** `auto` false: the size stays at `ceiling` (the configured buffer) and never changes. */
  constructor(
    floor: number,
    private readonly ceiling: number,
    auto: boolean,
    counter: Counter,
    private readonly rampUp: boolean,
  ) {
    this.size = auto ? Math.min(floor, ceiling) : ceiling;
    this.sampler = auto ? new RoundSampler(counter) : null;
  }

  get value(): number {
    return this.size;
  }

  /** Take a sample (the peer acknowledged data, or the application read); true when the size grew. */
  update(now: number, subflows: readonly TunedSubflow[]): boolean {
    const perRound = this.sampler ? this.sampler.sample(now, subflows) : -1;
    if (perRound < 0) return false;
    const growth = this.rampUp && this.lastPerRound > 0 ? Math.min(2, Math.max(1, perRound / this.lastPerRound)) : 1;
    this.lastPerRound = perRound;
    const target = Math.min(this.ceiling, Math.ceil(2 * perRound * growth));
    if (target <= this.size) return false;
    this.size = target;
    return true;
  }
}

/** The send buffer's size: grows with what the subflows deliver (sampled on each DATA_ACK). */
export function sendBufferTuning(sendBuffer: number, auto: boolean): BufferTuning {
  return new BufferTuning(SEND_BUFFER_FLOOR, sendBuffer, auto, (sf) => sf.deliveredBytes, false);
}

/**
 * The receive buffer's size: grows with what arrives while the application reads (dynamic
 * right-sizing; sampled on each read). Arrivals rather than reads are counted: reads come in
 * bursts when a hole fills, arrivals at the paths' rate. An application that stops reading
 * closes the window and takes no samples, so the buffer does not grow for it.
 */
export function receiveBufferTuning(receiveBuffer: number, auto: boolean): BufferTuning {
  return new BufferTuning(RECEIVE_BUFFER_FLOOR, receiveBuffer, auto, (sf) => sf.receivedBytes, true);
}
