/**
 * A small packet-level network for congestion-control tests, in virtual time with 1 ms steps.
 * Each link is a drop-tail FIFO bottleneck (rate, buffer) plus random loss, followed by a fixed
 * propagation RTT. Each flow keeps its window full with MSS-sized packets, detects a loss when
 * a later packet of its own is acknowledged (FIFO links never reorder), reports one congestion
 * event per episode as the subflow would, and falls back to a retransmission timeout.
 * Lost data is not resent: the tests measure windows and rates, not delivery.
 */
import type { CcFactory, CongestionController } from '../../src/cc/controller.js';
import { SeededRandom } from '../../src/random.js';
import { FakeGroup, FakePath } from './harness.js';

export interface LinkSpec {
  /** Bottleneck rate in bytes per ms; Infinity for none. */
  rateBytesPerMs: number;
  /** RTT with an empty queue, ms. */
  baseRttMs: number;
  /** Drop-tail buffer, bytes (Infinity for unbounded). */
  bufferBytes: number;
  /** Probability that a packet is dropped at random. */
  lossRate: number;
}

interface Packet {
  readonly flow: SimFlow;
  readonly seq: number;
  readonly bytes: number;
  readonly sentAt: number;
  dropped: boolean;
  /** Written off by a timeout: a late ACK for it is ignored. */
  abandoned: boolean;
}

export class SimLink {
  private readonly queue: Packet[] = [];
  private head = 0;
  private queuedBytes = 0;
  private credit = 0;

  constructor(
    readonly spec: LinkSpec,
    private readonly rng: SeededRandom,
  ) {}

  /** Delay a packet joining the queue now would wait, ms. */
  queuingDelay(): number {
    const rate = this.spec.rateBytesPerMs;
    return Number.isFinite(rate) ? this.queuedBytes / rate : 0;
  }

  enqueue(pkt: Packet): void {
    const overflow = this.queuedBytes + pkt.bytes > this.spec.bufferBytes;
    if (this.rng.next() < this.spec.lossRate || overflow) {
      pkt.dropped = true;
      return;
    }
    this.queue.push(pkt);
    this.queuedBytes += pkt.bytes;
  }

  /** Serves one step's worth of bytes; each departure's ACK reaches its sender one RTT on. */
  serve(now: number, stepMs: number): void {
    this.credit += this.spec.rateBytesPerMs * stepMs;
    while (this.head < this.queue.length) {
      const pkt = this.queue[this.head]!;
      if (this.credit < pkt.bytes) break;
      this.credit -= pkt.bytes;
      this.queuedBytes -= pkt.bytes;
      this.head++;
      pkt.flow.deliver(pkt, now + this.spec.baseRttMs);
    }
    // An idle link banks no credit for later bursts.
    if (this.head === this.queue.length) this.credit = 0;
    if (this.head > 4096) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

export class SimFlow {
  readonly path: FakePath;
  readonly cc: CongestionController;
  private outstanding: Packet[] = [];
  private readonly acks: { pkt: Packet; at: number }[] = [];
  private nextSeq = 0;
  /** Losses of packets sent before this sequence number belong to the current episode. */
  private episodeSeq = 0;
  private rttVar = 0;
  private lastProgress = 0;
  private backoff = 1;
  /** Bytes acknowledged during the measured interval. */
  ackedBytes = 0;
  private windowSum = 0;
  private windowSamples = 0;

  constructor(
    readonly name: string,
    readonly link: SimLink,
    factory: CcFactory,
    group: FakeGroup,
    readonly startAt = 0,
    mss = 1000,
  ) {
    this.path = new FakePath(mss);
    this.cc = factory(this.path, group);
    group.list.push({ path: this.path, controller: this.cc });
  }

  deliver(pkt: Packet, at: number): void {
    this.acks.push({ pkt, at });
  }

  meanWindow(): number {
    return this.windowSamples === 0 ? 0 : this.windowSum / this.windowSamples;
  }

  step(now: number, measuring: boolean): void {
    if (now < this.startAt) return;
    this.processAcks(now, measuring);
    this.checkTimeout(now);
    this.send(now);
    if (measuring) {
      this.windowSum += this.cc.window();
      this.windowSamples++;
    }
  }

  private processAcks(now: number, measuring: boolean): void {
    let i = 0;
    for (; i < this.acks.length && this.acks[i]!.at <= now; i++) {
      const pkt = this.acks[i]!.pkt;
      if (pkt.abandoned) continue;
      // Everything still outstanding before this packet was dropped on the way.
      let lost = 0;
      let newEpisode = false;
      let k = 0;
      while (k < this.outstanding.length && this.outstanding[k]!.seq < pkt.seq) {
        const gone = this.outstanding[k]!;
        lost += gone.bytes;
        if (gone.seq >= this.episodeSeq) newEpisode = true;
        k++;
      }
      this.outstanding.splice(0, k + 1);
      if (lost > 0) {
        const prior = this.path.bytesInFlight;
        this.path.bytesInFlight -= lost;
        if (newEpisode) {
          this.cc.onCongestionEvent(now, { lostBytes: lost, priorInFlight: prior });
          this.episodeSeq = this.nextSeq;
        }
      }
      const rtt = now - pkt.sentAt;
      this.updateRtt(rtt);
      const prior = this.path.bytesInFlight;
      this.path.bytesInFlight -= pkt.bytes;
      if (measuring) this.ackedBytes += pkt.bytes;
      const ack = { ackedBytes: pkt.bytes, rttSample: rtt, priorInFlight: prior, appLimited: false };
      this.cc.onAck(now, ack);
      this.lastProgress = now;
      this.backoff = 1;
    }
    this.acks.splice(0, i);
  }

  /** RFC 6298 smoothing, as the subflow does it. */
  private updateRtt(rtt: number): void {
    const p = this.path;
    if (p.srtt === 0) {
      p.srtt = rtt;
      this.rttVar = rtt / 2;
    } else {
      this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(p.srtt - rtt);
      p.srtt = 0.875 * p.srtt + 0.125 * rtt;
    }
    p.minRtt = p.minRtt === 0 ? rtt : Math.min(p.minRtt, rtt);
  }

  private checkTimeout(now: number): void {
    if (this.outstanding.length === 0) return;
    const base = this.path.srtt === 0 ? 1000 : Math.max(200, this.path.srtt + 4 * this.rttVar);
    const rto = base * this.backoff;
    if (now - Math.max(this.lastProgress, this.startAt) < rto) return;
    // The controller hears of the timeout while the data still counts as in flight.
    this.cc.onRtoExpired(now);
    for (const pkt of this.outstanding) pkt.abandoned = true;
    this.outstanding = [];
    this.path.bytesInFlight = 0;
    this.episodeSeq = this.nextSeq;
    this.backoff = Math.min(this.backoff * 2, 64);
    this.lastProgress = now;
  }

  private send(now: number): void {
    const mss = this.path.mss;
    while (this.path.bytesInFlight + mss <= this.cc.window()) {
      const seq = this.nextSeq++;
      const pkt: Packet = {
        flow: this,
        seq,
        bytes: mss,
        sentAt: now,
        dropped: false,
        abandoned: false,
      };
      this.cc.onSent(now, mss);
      this.path.bytesInFlight += mss;
      this.outstanding.push(pkt);
      this.link.enqueue(pkt);
    }
  }
}

export class Simulator {
  readonly links: SimLink[] = [];
  readonly flows: SimFlow[] = [];
  private readonly rng: SeededRandom;
  now = 0;
  /** Mean queuing delay per link over the measured interval, ms. */
  private readonly queueSum = new Map<SimLink, number>();
  private measuredSteps = 0;

  constructor(readonly seed: number) {
    this.rng = new SeededRandom(seed);
  }

  link(spec: LinkSpec): SimLink {
    const link = new SimLink(spec, this.rng.fork());
    this.links.push(link);
    return link;
  }

  flow(
    name: string,
    link: SimLink,
    factory: CcFactory,
    group = new FakeGroup(),
    startAt = 0,
  ): SimFlow {
    const flow = new SimFlow(name, link, factory, group, startAt);
    this.flows.push(flow);
    return flow;
  }

  /** Runs until `until` ms; statistics cover [measureFrom, until). */
  run(until: number, measureFrom = 0, onStep?: (now: number) => void): void {
    for (; this.now < until; this.now++) {
      const measuring = this.now >= measureFrom;
      for (const link of this.links) link.serve(this.now, 1);
      for (const flow of this.flows) flow.step(this.now, measuring);
      if (measuring) {
        this.measuredSteps++;
        for (const link of this.links) {
          this.queueSum.set(link, (this.queueSum.get(link) ?? 0) + link.queuingDelay());
        }
      }
      onStep?.(this.now);
    }
  }

  meanQueuingDelay(link: SimLink): number {
    return this.measuredSteps === 0 ? 0 : (this.queueSum.get(link) ?? 0) / this.measuredSteps;
  }
}

export interface TwoPathResult {
  /** Mean window on the better path and on the worse one, bytes. */
  windowGood: number;
  windowBad: number;
  /** Share of the summed mean windows on the better path. */
  shareGood: number;
  /** Bytes per ms delivered over both paths together. */
  throughput: number;
}

const unbounded = { rateBytesPerMs: Infinity, bufferBytes: Infinity };
const GOOD_PATH: LinkSpec = { ...unbounded, baseRttMs: 20, lossRate: 0.002 };
const BAD_PATH: LinkSpec = { ...unbounded, baseRttMs: 60, lossRate: 0.01 };

/**
 * Two paths of one connection, each with random loss and no bottleneck: the "good" one with
 * a 20 ms RTT and 0.2% loss, the "bad" one with 60 ms and 1%. Measured after a 20 s warm-up.
 */
export function twoPathRun(factory: CcFactory, seed: number, durationMs = 150_000): TwoPathResult {
  const sim = new Simulator(seed);
  const good = sim.link(GOOD_PATH);
  const bad = sim.link(BAD_PATH);
  const group = new FakeGroup();
  const g = sim.flow('good', good, factory, group);
  const b = sim.flow('bad', bad, factory, group);
  const warmUp = 20_000;
  sim.run(durationMs, warmUp);
  const windowGood = g.meanWindow();
  const windowBad = b.meanWindow();
  return {
    windowGood,
    windowBad,
    shareGood: windowGood / (windowGood + windowBad),
    throughput: (g.ackedBytes + b.ackedBytes) / (durationMs - warmUp),
  };
}

/** One flow alone on the good path of twoPathRun: what a single-path TCP would get. */
export function singlePathThroughput(
  factory: CcFactory,
  seed: number,
  durationMs = 150_000,
): number {
  const sim = new Simulator(seed);
  const good = sim.link(GOOD_PATH);
  const f = sim.flow('alone', good, factory);
  const warmUp = 20_000;
  sim.run(durationMs, warmUp);
  return f.ackedBytes / (durationMs - warmUp);
}
