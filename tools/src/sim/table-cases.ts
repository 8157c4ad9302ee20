/**
 * The four scenarios of the scheduler × congestion-control table (issue 4):
 *   1. throughput over Wi-Fi-like + LTE-like paths with light loss;
 *   2. throughput over paths of very different RTT with a small receive buffer;
 *   3. handover: the primary path blackholes mid-transfer, a backup path takes over;
 *   4. interactive requests on one connection while another does bulk on the same paths.
 * Each runner builds its own testbed, runs it in virtual time and returns figures only.
 */
import { BulkTransfer } from './bulk-transfer.js';
import { pathLinks, payloadCeiling, reversed, type PathProfile } from './path-profile.js';
import { RequestResponse } from './request-response.js';
import { percentileOf } from './stats.js';
import { Testbed, type Route, type Workload } from './testbed.js';

/** Wi-Fi-like and LTE-like paths; queues of about one bandwidth-delay product. */
export const WIFI: PathProfile = { label: 'Wi-Fi', rateBps: 50e6, rttMs: 20, queueMs: 20 };
export const LTE: PathProfile = { label: 'LTE', rateBps: 20e6, rttMs: 60, queueMs: 60 };
/** Case 1's light loss, on both paths. */
export const LIGHT_LOSS = 0.0001;
/** Case 2: the same rate, RTTs ten times apart. */
export const NEAR: PathProfile = { label: 'near', rateBps: 20e6, rttMs: 20, queueMs: 20 };
export const FAR: PathProfile = { label: 'far', rateBps: 20e6, rttMs: 200, queueMs: 50 };
export const CASE2_RECEIVE_BUFFER = 2 * 1024 * 1024;

export interface StackChoice {
  scheduler: string;
  cc: string;
}

// ---------------------------------------------------------------------------------------
// Cases 1 and 2: bulk throughput.

export interface ThroughputSpec extends StackChoice {
  seed: number;
  paths: readonly PathProfile[];
  /** Not counted: slow start and the first loss episodes. */
  warmupMs: number;
  measureMs: number;
  receiveBuffer?: number;
  sendBuffer?: number;
  mss?: number;
}

export interface ThroughputResult {
  goodputBps: number;
  /** Sum of the paths' rates. */
  capacityBps: number;
  /** goodput / capacity. */
  shareOfSum: number;
  /** goodput / (capacity × payload share of a full segment): what the headers leave. */
  shareOfPayloadCapacity: number;
  /** Data delivery delay (first transmission → read) over the measured stretch, ms. */
  p50DelayMs: number;
  p99DelayMs: number;
  peakReceiveBuffer: number;
  /** Data payload bytes that crossed each path in the measured stretch (copies included). */
  bytesPerPath: number[];
  /** Every byte read matched what was written. */
  intact: boolean;
}

export function runThroughput(spec: ThroughputSpec): ThroughputResult {
  const mss = spec.mss ?? 1200;
  const tb = new Testbed({
    seed: spec.seed,
    cc: spec.cc,
    scheduler: spec.scheduler,
    config: {
      mss,
      ...(spec.receiveBuffer !== undefined ? { receiveBuffer: spec.receiveBuffer } : {}),
      ...(spec.sendBuffer !== undefined ? { sendBuffer: spec.sendBuffer } : {}),
    },
  });
  const client = tb.addHost('client');
  const server = tb.addHost('server');
  const routes = spec.paths.map((p) => {
    const l = pathLinks(p);
    return tb.addSimpleRoute(client, server, l.forward, l.backward, p.label);
  });
  const session = tb.connect(routes);
  const bulk = tb.add(new BulkTransfer(tb, session, { seed: spec.seed }));
  tb.run(spec.warmupMs);
  const read0 = bulk.read;
  const delays0 = bulk.delays.length;
  const perPath0 = [...(bulk.sendTrace?.deliveredPerPath ?? [])];
  tb.run(spec.warmupMs + spec.measureMs);
  const goodputBps = ((bulk.read - read0) * 8000) / spec.measureMs;
  const capacityBps = spec.paths.reduce((s, p) => s + p.rateBps, 0);
  const delays = bulk.delays.slice(delays0);
  const perPath = bulk.sendTrace?.deliveredPerPath ?? [];
  return {
    goodputBps,
    capacityBps,
    shareOfSum: goodputBps / capacityBps,
    shareOfPayloadCapacity: goodputBps / (capacityBps * payloadCeiling(mss)),
    p50DelayMs: percentileOf(delays, 50),
    p99DelayMs: percentileOf(delays, 99),
    peakReceiveBuffer: session.server?.peakReceiveBuffered ?? 0,
    bytesPerPath: routes.map((r) => (perPath[r.index] ?? 0) - (perPath0[r.index] ?? 0)),
    intact: bulk.firstMismatch < 0,
  };
}

export function case1Spec(choice: StackChoice, seed: number, warmupMs = 5000, measureMs = 30_000, loss = LIGHT_LOSS): ThroughputSpec {
  return { ...choice, seed, paths: [{ ...WIFI, loss }, { ...LTE, loss }], warmupMs, measureMs };
}

export function case2Spec(choice: StackChoice, seed: number, warmupMs = 5000, measureMs = 30_000): ThroughputSpec {
  return { ...choice, seed, paths: [NEAR, FAR], warmupMs, measureMs, receiveBuffer: CASE2_RECEIVE_BUFFER };
}

// ---------------------------------------------------------------------------------------
// Case 3: handover to a backup path.

export interface HandoverSpec extends StackChoice {
  seed: number;
  primary: PathProfile;
  backup: PathProfile;
  /** Virtual time the primary path blackholes (both directions), ms. */
  failAtMs: number;
  /** How long the writer goes on after the failure before it half-closes, ms. */
  writeAfterMs: number;
  /** Give up waiting for the rest of the data this long after the half-close, ms. */
  drainLimitMs: number;
  /** False: join the second path as a regular subflow (both active), not as backup. */
  markBackup?: boolean;
}

export interface HandoverResult {
  /** Share of data payload the backup path carried before the failure. */
  backupShareBefore: number;
  /**
   * From the failure to the end of the interruption it caused: the first silence of 50 ms
   * or more that began within 50 ms before and 500 ms after the failure. 0 when there was
   * none; NaN when nothing was read again.
   */
  resumeAfterMs: number;
  /** The longest silence at the reader in the writing time after the failure, ms (includes the first). */
  longestStallMs: number;
  /** Goodput over the writing time left after the failure, bit/s. */
  goodputAfterBps: number;
  /** Everything written was read, byte-exact, and the DATA_FIN arrived. */
  complete: boolean;
  intact: boolean;
  bytesWritten: number;
  bytesRead: number;
}

/** A silence shorter than this is not an interruption (at 20 Mbit/s a segment takes 0.5 ms). */
const INTERRUPTION_MIN_MS = 50;
const INTERRUPTION_SLACK_MS = 50;

export function runHandover(spec: HandoverSpec): HandoverResult {
  const tb = new Testbed({ seed: spec.seed, cc: spec.cc, scheduler: spec.scheduler });
  const client = tb.addHost('client');
  const server = tb.addHost('server');
  const p = pathLinks(spec.primary);
  const b = pathLinks(spec.backup);
  const primary = tb.addSimpleRoute(client, server, p.forward, p.backward, spec.primary.label);
  const backup = tb.addSimpleRoute(client, server, b.forward, b.backward, spec.backup.label);
  const markBackup = spec.markBackup ?? true;
  const session = markBackup ? tb.connect([primary], { backup: [backup] }) : tb.connect([primary, backup]);
  const stopAt = spec.failAtMs + spec.writeAfterMs;
  const bulk = tb.add(new BulkTransfer(tb, session, { seed: spec.seed, stopAt, minGapMs: 1 }));
  // A blackhole: everything queued or in flight on the primary path is lost with it.
  for (const link of [...primary.forward, ...primary.backward]) link.schedule([{ at: spec.failAtMs, down: true }]);

  tb.run(spec.failAtMs);
  const before = [...(bulk.sendTrace?.deliveredPerPath ?? [])];
  const readAtFailure = bulk.read;
  tb.run(stopAt);
  const readAtStop = bulk.read;
  tb.run(stopAt + spec.drainLimitMs, () => bulk.complete);

  const onBackup = before[backup.index] ?? 0;
  const total = (before[primary.index] ?? 0) + onBackup;
  // Reads may go on briefly after the failure (data already on the surviving path) before
  // the hole left by the failed path stops them.
  const stall = bulk.gaps.firstStartingIn(spec.failAtMs - INTERRUPTION_SLACK_MS, spec.failAtMs + 500, INTERRUPTION_MIN_MS, tb.now);
  const resumeAt = stall === null ? spec.failAtMs : stall.end === tb.now ? NaN : stall.end;
  const longest = bulk.gaps.longestIn(spec.failAtMs, stopAt, tb.now);
  return {
    backupShareBefore: total > 0 ? onBackup / total : 0,
    resumeAfterMs: resumeAt - spec.failAtMs,
    longestStallMs: longest === null ? 0 : longest.end - longest.start,
    goodputAfterBps: ((readAtStop - readAtFailure) * 8000) / spec.writeAfterMs,
    complete: bulk.complete,
    intact: bulk.firstMismatch < 0,
    bytesWritten: bulk.written,
    bytesRead: bulk.read,
  };
}

export function case3Spec(choice: StackChoice, seed: number, markBackup = true): HandoverSpec {
  return {
    ...choice,
    seed,
    primary: { ...WIFI, loss: LIGHT_LOSS },
    backup: { ...LTE, loss: LIGHT_LOSS },
    failAtMs: 10_000,
    writeAfterMs: 5000,
    drainLimitMs: 60_000,
    markBackup,
  };
}

// ---------------------------------------------------------------------------------------
// Case 4: interactive requests beside a bulk download.

export interface InteractiveSpec extends StackChoice {
  seed: number;
  paths: readonly PathProfile[];
  /** Requests from startMs to endMs, every intervalMs. */
  startMs: number;
  endMs: number;
  intervalMs: number;
  requestBytes: number;
  responseBytes: number;
  /** The other connection's bulk direction. Default 'down'. */
  bulkDirection?: 'up' | 'down';
}

export interface InteractiveResult {
  requests: number;
  answered: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  /** Round-trip propagation delay of the fastest path, ms. */
  bestBaseRttMs: number;
  /** Median, over request times, of the fastest path's RTT with the queues it had then, ms. */
  bestLoadedRttMs: number;
  /**
   * 99th percentile over requests of latency ÷ the fastest path's loaded RTT when the
   * request was written: what the engine added beyond the queues the network already had.
   */
  p99OverLoadedRtt: number;
  /** Per request, in order: latency ÷ the fastest path's loaded RTT when it was written. */
  overLoadedRtt: number[];
  /** Goodput of the bulk connection over the same stretch, bit/s. */
  bulkGoodputBps: number;
  intact: boolean;
}

/**
 * The round-trip time a packet would see on a route right now: propagation plus the
 * time to drain what is queued on each link ahead of it.
 */
export function loadedRttMs(route: Route): number {
  let t = 0;
  for (const link of [...route.forward, ...route.backward]) {
    const o = link.options;
    t += o.delayMs + (o.rateBps === Infinity ? 0 : (link.queueBytes * 8000) / o.rateBps);
  }
  return t;
}

/** Samples the fastest route's loaded RTT whenever the interactive workload sends a request. */
class RttSampler implements Workload {
  readonly samples: number[] = [];
  private seen = 0;
  constructor(
    private readonly routes: readonly Route[],
    private readonly rr: RequestResponse,
  ) {}
  pump(): void {
    while (this.seen < this.rr.sent) {
      this.seen++;
      this.samples.push(Math.min(...this.routes.map(loadedRttMs)));
    }
  }
  nextWakeup(): number {
    return Infinity;
  }
}

export function runInteractive(spec: InteractiveSpec): InteractiveResult {
  const tb = new Testbed({ seed: spec.seed, cc: spec.cc, scheduler: spec.scheduler });
  const client = tb.addHost('client');
  const server = tb.addHost('server');
  const direction = spec.bulkDirection ?? 'down';
  const routes = spec.paths.map((p) => {
    // The loss goes where the bulk data goes.
    const l = direction === 'down' ? reversed(p) : pathLinks(p);
    return tb.addSimpleRoute(client, server, l.forward, l.backward, p.label);
  });
  // Two connections between the same two endpoints: they share every link.
  const bulkSession = tb.connect(routes);
  const rrSession = tb.connect(routes);
  const bulk = tb.add(new BulkTransfer(tb, bulkSession, { seed: spec.seed, direction }));
  const rr = tb.add(
    new RequestResponse(tb, rrSession, {
      intervalMs: spec.intervalMs,
      requestBytes: spec.requestBytes,
      responseBytes: spec.responseBytes,
      startAt: spec.startMs,
      stopAt: spec.endMs,
      seed: spec.seed + 1,
    }),
  );
  const sampler = tb.add(new RttSampler(routes, rr));
  tb.run(spec.startMs);
  const read0 = bulk.read;
  tb.run(spec.endMs);
  const bulkRead = bulk.read - read0;
  // Let the last responses arrive.
  tb.run(spec.endMs + 2000, () => rr.latencies.length >= rr.sent);
  // Responses come back in request order on one connection, so latency k is request k's.
  const overLoadedRtt = rr.latencies.map((l, k) => l / sampler.samples[k]!);
  return {
    requests: rr.sent,
    answered: rr.latencies.length,
    p50LatencyMs: percentileOf(rr.latencies, 50),
    p99LatencyMs: percentileOf(rr.latencies, 99),
    bestBaseRttMs: Math.min(...spec.paths.map((p) => p.rttMs)),
    bestLoadedRttMs: percentileOf(sampler.samples, 50),
    p99OverLoadedRtt: percentileOf(overLoadedRtt, 99),
    overLoadedRtt,
    bulkGoodputBps: (bulkRead * 8000) / (spec.endMs - spec.startMs),
    intact: rr.mismatches === 0 && bulk.firstMismatch < 0,
  };
}

export function case4Spec(choice: StackChoice, seed: number, durationMs = 20_000): InteractiveSpec {
  return {
    ...choice,
    seed,
    paths: [{ ...WIFI, loss: LIGHT_LOSS }, { ...LTE, loss: LIGHT_LOSS }],
    startMs: 3000,
    endMs: 3000 + durationMs,
    intervalMs: 50,
    requestBytes: 1024,
    responseBytes: 1024,
  };
}
