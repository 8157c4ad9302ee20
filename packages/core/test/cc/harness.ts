/**
 * Test doubles for congestion controllers: a CcPath and a CcGroup that are plain mutable
 * objects, and helpers that acknowledge whole windows in virtual time.
 */
import type {
  AckEvent,
  CcFactory,
  CcGroup,
  CcMember,
  CcPath,
  CongestionController,
} from '../../src/cc/controller.js';

export const MSS = 1000;

export class FakePath implements CcPath {
  srtt = 0;
  minRtt = 0;
  bytesInFlight = 0;
  constructor(public mss: number = MSS) {}

  /** Pretends a steady RTT has been measured. */
  setRtt(rtt: number): void {
    this.srtt = rtt;
    this.minRtt = this.minRtt === 0 ? rtt : Math.min(this.minRtt, rtt);
  }
}

export class FakeGroup implements CcGroup {
  readonly list: CcMember[] = [];
  members(): readonly CcMember[] {
    return this.list;
  }
}

export interface Sub {
  readonly path: FakePath;
  readonly cc: CongestionController;
}

/** A controller made by `factory`, added to `group` (a fresh one by default). */
export function subflow(factory: CcFactory, group: FakeGroup = new FakeGroup(), mss = MSS): Sub {
  const path = new FakePath(mss);
  const cc = factory(path, group);
  group.list.push({ path, controller: cc });
  return { path, cc };
}

export interface RoundOptions {
  /** RTT sample of the i-th ACK (default: the round's RTT). */
  sample?: (i: number) => number | undefined;
  appLimited?: boolean;
}

/**
 * Acknowledges one window of `subs` (each ACK one MSS) over one RTT from `start`: the i-th of
 * n ACKs of a subflow arrives at start + (i+1)·rtt/n, so the ACKs of a round acknowledge data
 * sent during the previous round. ACKs of different subflows interleave in time order.
 * Returns the time the round ends.
 */
export function ackRound(
  subs: Sub | Sub[],
  start: number,
  rtt: number,
  opts: RoundOptions = {},
): number {
  const list = Array.isArray(subs) ? subs : [subs];
  const events: { at: number; sub: Sub; i: number }[] = [];
  for (const sub of list) {
    sub.path.setRtt(rtt);
    const n = Math.max(1, Math.floor(sub.cc.window() / sub.path.mss));
    sub.path.bytesInFlight = n * sub.path.mss;
    for (let i = 0; i < n; i++) events.push({ at: start + ((i + 1) * rtt) / n, sub, i });
  }
  events.sort((a, b) => a.at - b.at);
  for (const { at, sub, i } of events) {
    const ev: AckEvent = {
      ackedBytes: sub.path.mss,
      rttSample: opts.sample ? opts.sample(i) : rtt,
      priorInFlight: sub.path.bytesInFlight,
      appLimited: opts.appLimited ?? false,
    };
    sub.path.bytesInFlight = Math.max(0, sub.path.bytesInFlight - sub.path.mss);
    sub.cc.onAck(at, ev);
  }
  return start + rtt;
}

/** A congestion event with the whole window in flight. */
export function loss(sub: Sub, now: number): void {
  sub.cc.onCongestionEvent(now, { lostBytes: sub.path.mss, priorInFlight: sub.cc.window() });
}

/** Window in segments. */
export function segments(sub: Sub): number {
  return sub.cc.window() / sub.path.mss;
}

/**
 * Runs `factory` alone in its group and a Reno controller through the same events (slow
 * start, then losses every 25 RTTs) and returns the windows of both after every round.
 */
export function lockstepWithReno(
  factory: CcFactory,
  reno: CcFactory,
  rounds = 100,
  rtt = 50,
): { coupled: number[]; reno: number[] } {
  const a = subflow(factory);
  const b = subflow(reno);
  const out = { coupled: [] as number[], reno: [] as number[] };
  let t = 0;
  for (let r = 1; r <= rounds; r++) {
    ackRound(a, t, rtt);
    t = ackRound(b, t, rtt);
    if (r % 25 === 4) {
      loss(a, t);
      loss(b, t);
    }
    out.coupled.push(a.cc.window());
    out.reno.push(b.cc.window());
  }
  return out;
}
