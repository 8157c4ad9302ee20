import { describe, expect, it } from 'vitest';
import { CubicController } from '../../src/cc/cubic.js';
import {
  CubicLdController,
  QUEUE_TARGET_MAX_MS,
  QUEUE_TARGET_MIN_MS,
  queueTargetMs,
} from '../../src/cc/cubic-ld.js';
import type { CcFactory, CcPath } from '../../src/cc/controller.js';
import { MSS, ackRound, segments, subflow } from './harness.js';
import { Simulator, type LinkSpec } from './netsim.js';

const cubicLd: CcFactory = (path: CcPath) => new CubicLdController(path);
const cubic: CcFactory = (path: CcPath) => new CubicController(path);
const asLd = (cc: unknown) => cc as CubicLdController;

/** 50 Mbit/s (6250 bytes per ms), 20 ms RTT, a 50 ms drop-tail buffer: the emulator's Wi-Fi. */
const WIFI_LIKE: LinkSpec = { rateBytesPerMs: 6250, baseRttMs: 20, bufferBytes: 6250 * 50, lossRate: 0 };

interface SoloResult {
  /** Share of the link rate acknowledged over the measured stretch. */
  utilisation: number;
  meanQueueMs: number;
  cc: CubicLdController | CubicController;
}

function solo(factory: CcFactory, spec: LinkSpec, seed: number, durationMs = 40_000, warmupMs = 10_000): SoloResult {
  const sim = new Simulator(seed);
  const link = sim.link(spec);
  const flow = sim.flow('solo', link, factory);
  sim.run(durationMs, warmupMs);
  return {
    utilisation: flow.ackedBytes / (spec.rateBytesPerMs * (durationMs - warmupMs)),
    meanQueueMs: sim.meanQueuingDelay(link),
    cc: flow.cc as CubicLdController,
  };
}

describe('cubic-ld: CUBIC with loss differentiation and a delay bound', () => {
  it('sets its queue target from the minimum RTT, within bounds', () => {
    expect(queueTargetMs(8)).toBe(QUEUE_TARGET_MIN_MS);
    expect(queueTargetMs(40)).toBe(10);
    expect(queueTargetMs(400)).toBe(QUEUE_TARGET_MAX_MS);
  });

  it('keeps its window on a loss with no standing queue, and cuts it like CUBIC with one', () => {
    const flat = subflow(cubicLd);
    let t = 0;
    for (let i = 0; i < 4; i++) t = ackRound(flat, t, 100);
    const before = segments(flat);
    flat.cc.onCongestionEvent(t, { lostBytes: MSS, priorInFlight: before * MSS });
    expect(segments(flat)).toBe(before);
    expect(asLd(flat.cc).randomLosses).toBe(1);

    // Rounds whose every RTT sample sits 40 ms above the 100 ms minimum: a standing queue
    // of 40 ms, above the 20 ms target, so the loss is congestion (the delay bound may have
    // cut the window already; the loss cuts it by β = 0.7 from what is in flight).
    const queued = subflow(cubicLd);
    t = ackRound(queued, 0, 100);
    for (let i = 0; i < 3; i++) t = ackRound(queued, t, 140);
    const flight = segments(queued) * MSS;
    queued.cc.onCongestionEvent(t, { lostBytes: MSS, priorInFlight: flight });
    expect(asLd(queued.cc).randomLosses).toBe(0);
    expect(queued.cc.window()).toBeLessThanOrEqual(Math.floor(0.7 * flight));
  });

  it('treats every loss as congestion once the recent loss rate reaches 2%', () => {
    const sub = subflow(cubicLd);
    let t = 0;
    for (let i = 0; i < 3; i++) t = ackRound(sub, t, 100);
    // 80 segments a round acknowledged; two congestion events of 1 segment each in one round
    // is 2/82 ≈ 2.4% of the bytes: the second one is not random any more.
    sub.cc.onCongestionEvent(t, { lostBytes: MSS, priorInFlight: 80 * MSS });
    sub.cc.onCongestionEvent(t + 1, { lostBytes: 2 * MSS, priorInFlight: 80 * MSS });
    expect(asLd(sub.cc).randomLosses).toBe(1);
    expect(sub.cc.window()).toBeLessThan(80 * MSS);
  });

  it('keeps 90% of a 50 Mbit/s link with 0.1% random loss, with a short queue; CUBIC does not', () => {
    const seed = 0x16a;
    console.log(`cubic-ld random loss seed ${seed}`);
    const spec = { ...WIFI_LIKE, lossRate: 0.001 };
    const ld = solo(cubicLd, spec, seed);
    const plain = solo(cubic, spec, seed);
    console.log(
      `0.1% loss: cubic-ld ${(ld.utilisation * 100).toFixed(1)}% queue ${ld.meanQueueMs.toFixed(1)} ms; ` +
        `cubic ${(plain.utilisation * 100).toFixed(1)}% queue ${plain.meanQueueMs.toFixed(1)} ms`,
    );
    expect(ld.utilisation).toBeGreaterThan(0.9);
    expect(plain.utilisation).toBeLessThan(0.75);
    expect(asLd(ld.cc).randomLosses).toBeGreaterThan(50);
    // The delay bound: the queue stays near the 5 ms target, not the 50 ms buffer.
    expect(ld.meanQueueMs).toBeLessThan(2 * queueTargetMs(20));
  });

  it('backs off at a real bottleneck and shares it fairly with a second flow that starts later', () => {
    const seed = 0x16b;
    console.log(`cubic-ld shared bottleneck seed ${seed}`);
    const sim = new Simulator(seed);
    const link = sim.link(WIFI_LIKE);
    const a = sim.flow('a', link, cubicLd);
    const b = sim.flow('b', link, cubicLd, undefined, 2000);
    const durationMs = 60_000;
    const warmupMs = 20_000;
    sim.run(durationMs, warmupMs);
    const rate = WIFI_LIKE.rateBytesPerMs * (durationMs - warmupMs);
    const shares = [a.ackedBytes / rate, b.ackedBytes / rate];
    const jain = (shares[0]! + shares[1]!) ** 2 / (2 * (shares[0]! ** 2 + shares[1]! ** 2));
    const queue = sim.meanQueuingDelay(link);
    console.log(`shares ${shares.map((s) => (s * 100).toFixed(1)).join(' / ')}%, Jain ${jain.toFixed(3)}, queue ${queue.toFixed(1)} ms`);
    expect(shares[0]! + shares[1]!).toBeGreaterThan(0.9);
    expect(jain).toBeGreaterThan(0.9);
    // Both answered the queue: by the delay bound or, once each saw the other's queue outlive
    // its own drain, by CUBIC's loss response. Either way the 50 ms buffer never stays full.
    for (const f of [a, b]) expect(asLd(f.cc).delayReductions + asLd(f.cc).congestionLosses).toBeGreaterThan(5);
    expect(queue).toBeLessThan(40);
  });

  it('still backs off on losses from a buffer too shallow to show a queue', () => {
    const seed = 0x16c;
    console.log(`cubic-ld shallow buffer seed ${seed}`);
    // A 2 ms buffer overflows before the RTT rises past the 5 ms target.
    const r = solo(cubicLd, { ...WIFI_LIKE, bufferBytes: 6250 * 2 }, seed);
    const cc = asLd(r.cc);
    console.log(
      `shallow: utilisation ${(r.utilisation * 100).toFixed(1)}%, losses random ${cc.randomLosses} / congestion ${cc.congestionLosses}, ` +
        `recent loss rate ${(cc.recentLossRate() * 100).toFixed(2)}%`,
    );
    expect(cc.congestionLosses).toBeGreaterThan(5);
    expect(cc.recentLossRate()).toBeLessThan(0.05);
    expect(r.utilisation).toBeGreaterThan(0.7);
  });
});
