/**
 * cubic-ld (the default congestion controller) through the whole engine in the simulator, on
 * the link emulator's own `wifi` and `lte` profiles (jitter, random loss both ways, their
 * queues): it keeps 90% of the sum where CUBIC is held down by the random loss, it keeps the
 * queues short, a Wi-Fi cut stalls the stream no longer than 250 ms, and at a shared
 * bottleneck it neither starves nor is starved by a second flow (cubic-ld or plain CUBIC)
 * that starts later; and 1 KB round trips beside its bulk download stay within 1.5× their idle
 * p99. Deterministic: each scenario prints its seed and figures.
 */
import { describe, expect, it } from 'vitest';
import { PROFILE_SUM_BPS as SUM_BPS, profileRun as profileRunSeeded, roundTrips as roundTripsSeeded, type ProfileRun } from '../src/sim/cc-profile-runs.js';
import { runSharedBottleneck } from '../src/sim/shared-bottleneck.js';

const SEED = 16;
const profileRun = (cc: string, cutAtMs?: number): ProfileRun => profileRunSeeded(cc, SEED, cutAtMs);

function show(label: string, r: ProfileRun): void {
  console.log(
    `seed ${SEED}, ${label}: ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s = ${((r.goodputBps / SUM_BPS) * 100).toFixed(1)}% of the sum, ` +
      `mean queue wifi ${r.wifiQueueMs.toFixed(1)} ms, lte ${r.lteQueueMs.toFixed(1)} ms, longest stall ${r.longestStallMs.toFixed(0)} ms`,
  );
}

describe('cubic-ld on the emulator profiles (wifi 50 Mbit/s 0.1% loss + lte 20 Mbit/s 0.05% loss)', () => {
  it('takes at least 90% of the sum with short queues, where CUBIC is held down by the random loss', () => {
    const ld = profileRun('cubic-ld');
    const cubic = profileRun('cubic');
    show('cubic-ld', ld);
    show('cubic', cubic);
    expect(ld.intact && cubic.intact).toBe(true);
    expect(ld.goodputBps / SUM_BPS).toBeGreaterThanOrEqual(0.9);
    expect(cubic.goodputBps / SUM_BPS).toBeLessThan(0.6);
    // The queues the profiles allow are 50 ms (wifi) and 200 ms (lte); the delay bound keeps
    // them near their targets (5 ms for wifi's 20 ms RTT, 15 ms for lte's 60 ms).
    expect(ld.wifiQueueMs).toBeLessThan(10);
    expect(ld.lteQueueMs).toBeLessThan(30);
  });

  it('stalls no longer than 250 ms when Wi-Fi goes down for 7 s', () => {
    const ld = profileRun('cubic-ld', 8000);
    show('cubic-ld, Wi-Fi cut at 8 s', ld);
    expect(ld.intact).toBe(true);
    expect(ld.longestStallMs).toBeGreaterThan(0);
    expect(ld.longestStallMs).toBeLessThanOrEqual(250);
  });
});

function roundTrips(cc: string, withBulk: boolean): { p99Ms: number; bulkBps: number } {
  const r = roundTripsSeeded(cc, SEED, withBulk);
  expect(r.complete).toBe(true);
  return r;
}

describe('cubic-ld: round trips beside a bulk download on the same wifi + lte paths', () => {
  it('keeps their p99 within 1.5x of the idle p99 while the download beside them takes at least 80% of the sum', () => {
    const idle = roundTrips('cubic-ld', false);
    const loaded = roundTrips('cubic-ld', true);
    console.log(
      `seed ${SEED}: 1 KB round trips p99 idle ${idle.p99Ms.toFixed(1)} ms, beside the download ${loaded.p99Ms.toFixed(1)} ms ` +
        `(${(loaded.p99Ms / idle.p99Ms).toFixed(2)}x); download ${(loaded.bulkBps / 1e6).toFixed(1)} Mbit/s`,
    );
    expect(loaded.bulkBps / SUM_BPS).toBeGreaterThanOrEqual(0.8);
    expect(loaded.p99Ms / idle.p99Ms).toBeLessThanOrEqual(1.5);
  });
});

describe('cubic-ld at a shared 50 Mbit/s bottleneck (50 ms queue), the second flow 3 s later', () => {
  for (const [first, second] of [
    ['cubic-ld', 'cubic-ld'],
    ['cubic-ld', 'cubic'],
    ['cubic', 'cubic-ld'],
  ] as const) {
    it(`${first} then ${second}: neither is starved and the link stays full`, () => {
      const r = runSharedBottleneck({
        seed: SEED,
        mptcpCc: first,
        mptcpSubflows: 1,
        competitorCc: second,
        bottleneck: { rateBps: 50e6, delayMs: 10, queue: { ms: 50 } },
        accessDelaysMs: [0, 0],
        competitorStartMs: 3000,
        warmupMs: 10_000,
        measureMs: 30_000,
      });
      console.log(
        `seed ${SEED}: ${first} ${(r.mptcpBps / 1e6).toFixed(1)} Mbit/s, then ${second} ${(r.competitorBps / 1e6).toFixed(1)} Mbit/s; ` +
          `link ${(r.utilization * 100).toFixed(1)}% used`,
      );
      expect(r.intact).toBe(true);
      expect(r.utilization).toBeGreaterThan(0.9);
      // shareOverFair is the first flow's goodput over half the total: 1 is an even split.
      expect(r.shareOverFair).toBeGreaterThan(0.5);
      expect(r.shareOverFair).toBeLessThan(1.5);
    });
  }
});
