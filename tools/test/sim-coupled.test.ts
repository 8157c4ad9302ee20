/**
 * Coupled congestion control in the simulator (RFC 6356 §2's goals): on disjoint paths a
 * coupled connection still uses them all; through one shared bottleneck it takes about one
 * flow's share where uncoupled subflows take more; LEDBAT yields to a loss-based flow.
 * Deterministic: each scenario prints its seed and figures.
 */
import { describe, it, expect } from 'vitest';
import { runSharedBottleneck, type SharedBottleneckResult } from '../src/sim/shared-bottleneck.js';
import { LTE, WIFI, runThroughput } from '../src/sim/table-cases.js';

const SEED = 1;
const WARMUP_MS = 5000;
const MEASURE_MS = 15_000;

/** Two subflows (access delays 5 and 10 ms) and one competitor through a 50 Mbit/s link. */
function shared(mptcpCc: string, competitorCc: string, subflows = 2, queueMs = 20): SharedBottleneckResult {
  const r = runSharedBottleneck({
    seed: SEED,
    mptcpCc,
    mptcpSubflows: subflows,
    competitorCc,
    bottleneck: { rateBps: 50e6, delayMs: 5, queue: { ms: queueMs } },
    accessDelaysMs: subflows === 2 ? [5, 10, 5] : [5, 5],
    warmupMs: WARMUP_MS,
    measureMs: MEASURE_MS,
  });
  console.log(
    `seed ${SEED}, ${queueMs} ms queue: ${mptcpCc} ×${subflows} ${(r.mptcpBps / 1e6).toFixed(1)} Mbit/s vs ${competitorCc} ${(r.competitorBps / 1e6).toFixed(1)} Mbit/s: ` +
      `${r.shareOverFair.toFixed(2)}× fair, link ${(r.utilization * 100).toFixed(1)}% used`,
  );
  expect(r.intact).toBe(true);
  return r;
}

describe('coupled congestion control on two disjoint paths', () => {
  for (const cc of ['lia', 'olia', 'balia']) {
    it(`${cc} takes at least 90% of the sum of 50 and 20 Mbit/s`, () => {
      const r = runThroughput({ scheduler: 'minrtt', cc, seed: SEED, paths: [WIFI, LTE], warmupMs: WARMUP_MS, measureMs: MEASURE_MS });
      console.log(`seed ${SEED}: ${cc} on disjoint paths ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s = ${(r.shareOfSum * 100).toFixed(1)}% of the sum`);
      expect(r.intact).toBe(true);
      expect(r.shareOfSum).toBeGreaterThanOrEqual(0.9);
      // Both paths carry a share close to their rate, not just the better one.
      const [wifi, lte] = r.bytesPerPath as [number, number];
      expect(lte / (wifi + lte)).toBeGreaterThan(0.2);
    });
  }
});

describe('one shared bottleneck against a single-path flow', () => {
  it('coupled controllers take about one fair share; uncoupled CUBIC subflows take more', () => {
    const coupled = ['lia', 'olia', 'balia'].map((cc) => shared(cc, 'cubic'));
    const uncoupled = shared('cubic', 'cubic');
    for (const r of coupled) {
      expect(r.shareOverFair).toBeLessThanOrEqual(1.3);
      expect(r.shareOverFair).toBeGreaterThan(0.5); // not starved either
      expect(r.utilization).toBeGreaterThan(0.9);
    }
    expect(uncoupled.shareOverFair).toBeGreaterThan(1.3);
    expect(uncoupled.shareOverFair).toBeGreaterThan(Math.max(...coupled.map((r) => r.shareOverFair)));
  });

  it('LIA against Reno is fair where two uncoupled Reno subflows are not', () => {
    const lia = shared('lia', 'reno');
    const reno = shared('reno', 'reno');
    expect(lia.shareOverFair).toBeLessThanOrEqual(1.15);
    expect(reno.shareOverFair).toBeGreaterThan(lia.shareOverFair + 0.1);
  });

  it('LEDBAT yields to a CUBIC flow behind a queue longer than its delay target', () => {
    // LEDBAT++ aims at 60 ms of queueing delay; a shorter queue never shows it that much, and
    // then only losses slow it down.
    const r = shared('ledbat', 'cubic', 1, 100);
    expect(r.mptcpBps / (r.mptcpBps + r.competitorBps)).toBeLessThan(0.05);
    expect(r.utilization).toBeGreaterThan(0.9);
  });
});
