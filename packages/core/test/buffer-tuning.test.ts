/**
 * The grow-only buffer sizes on their own (connection/buffer-tuning.ts), against fake subflows
 * and virtual time (no randomness): the floor, growth to twice the bytes per round trip of the
 * slowest carrying subflow, the ceiling, no shrinking when the paths go quiet or fail, backup
 * subflows left out of the round trip, and the fixed size when auto-tuning is off. The
 * simulator test (packages/sim/test/engine/buffer-tuning.test.ts) drives it through transfers.
 */
import { describe, expect, it } from 'vitest';
import { RECEIVE_BUFFER_FLOOR, receiveBufferTuning, SEND_BUFFER_FLOOR, sendBufferTuning, type TunedSubflow } from '../src/connection/buffer-tuning.js';

const MiB = 1024 * 1024;

type FakeSubflow = { -readonly [K in keyof TunedSubflow]: TunedSubflow[K] };

const subflow = (id: number, rtt: number, extra: Partial<FakeSubflow> = {}): FakeSubflow => ({
  id,
  isEstablished: true,
  backup: false,
  peerBackup: false,
  srtt: rtt,
  deliveredBytes: 0,
  receivedBytes: 0,
  ...extra,
});

/** Advance `ms` in steps of 1 ms, each subflow delivering its rate (bytes per ms), sampling each step. */
function run(t: ReturnType<typeof sendBufferTuning>, subflows: FakeSubflow[], ratesPerMs: number[], fromMs: number, ms: number): number {
  let now = fromMs;
  for (let i = 0; i < ms; i++) {
    now++;
    subflows.forEach((sf, j) => (sf.deliveredBytes += ratesPerMs[j]!));
    t.update(now, subflows);
  }
  return now;
}

describe('grow-only buffer sizes', () => {
  it('the send size starts at its floor and grows to twice Σ rate × the longest RTT of the carrying subflows', () => {
    const t = sendBufferTuning(4 * MiB, true);
    expect(t.value).toBe(SEND_BUFFER_FLOOR);
    // 50 Mbit/s over 20 ms and 20 Mbit/s over 60 ms: 8750 bytes per ms, BDP 525,000 bytes.
    const sfs = [subflow(1, 20), subflow(2, 60)];
    run(t, sfs, [6250, 2500], 0, 2000);
    expect(t.value).toBeGreaterThanOrEqual(2 * 525_000 * 0.99);
    expect(t.value).toBeLessThanOrEqual(2 * 525_000 * 1.01);
  });

  it('the round trip is the smoothed one: a queue another flow keeps standing counts', () => {
    // 50 Mbit/s over a 20 ms path that another flow keeps 100 ms of queue on: 6250 × 120 bytes
    // in flight, twice that held.
    const t = sendBufferTuning(4 * MiB, true);
    run(t, [subflow(1, 120)], [6250], 0, 3000);
    expect(t.value).toBeGreaterThanOrEqual(2 * 6250 * 120 * 0.99);
    expect(t.value).toBeLessThanOrEqual(2 * 6250 * 120 * 1.01);
  });

  it('an idle fast path still sets the round trip: a subflow with nothing to send counts while established and not backup', () => {
    const t = sendBufferTuning(4 * MiB, true);
    // Only the 20 ms path moves 6250 bytes per ms; the 60 ms one is idle but carries data when the fast one is full.
    run(t, [subflow(1, 20), subflow(2, 60)], [6250, 0], 0, 2000);
    expect(t.value).toBeGreaterThanOrEqual(2 * 6250 * 60 * 0.99);
    // As a backup (ours or the peer's), the 60 ms path is left out: 2 × 6250 × 20.
    for (const flag of ['backup', 'peerBackup'] as const) {
      const b = sendBufferTuning(4 * MiB, true);
      run(b, [subflow(1, 20), subflow(2, 60, { [flag]: true })], [6250, 0], 0, 2000);
      expect(b.value).toBeLessThanOrEqual(2 * 6250 * 20 * 1.01);
      expect(b.value).toBeGreaterThan(SEND_BUFFER_FLOOR);
    }
  });

  it('never shrinks: every path silent, failed or gone leaves the size where it was', () => {
    const t = sendBufferTuning(4 * MiB, true);
    const sfs = [subflow(1, 20), subflow(2, 60)];
    let now = run(t, sfs, [6250, 2500], 0, 1000);
    const grown = t.value;
    expect(grown).toBeGreaterThan(SEND_BUFFER_FLOOR);
    now = run(t, sfs, [0, 0], now, 1000); // a flap: nothing delivered
    expect(t.value).toBe(grown);
    sfs.forEach((sf) => (sf.isEstablished = false));
    run(t, sfs, [10, 10], now, 1000);
    expect(t.value).toBe(grown);
    expect(t.update(now + 5000, [])).toBe(false);
    expect(t.value).toBe(grown);
  });

  it('stops at the ceiling, and keeps the configured size when auto-tuning is off', () => {
    const t = sendBufferTuning(256 * 1024, true);
    run(t, [subflow(1, 50)], [100_000], 0, 500);
    expect(t.value).toBe(256 * 1024);
    const fixed = sendBufferTuning(4 * MiB, false);
    expect(fixed.value).toBe(4 * MiB);
    run(fixed, [subflow(1, 50)], [100_000], 0, 500);
    expect(fixed.value).toBe(4 * MiB);
    // A ceiling below the floor wins.
    expect(sendBufferTuning(64 * 1024, true).value).toBe(64 * 1024);
  });

  it('the receive size counts arrivals, and grows only while samples are taken (the application reads)', () => {
    const t = receiveBufferTuning(4 * MiB, true);
    expect(t.value).toBe(RECEIVE_BUFFER_FLOOR);
    const sf = subflow(1, 100);
    // Arrivals without a read take no sample.
    sf.receivedBytes += 10 * MiB;
    expect(t.value).toBe(RECEIVE_BUFFER_FLOOR);
    let now = 0;
    t.update(now, [sf]);
    // Steady 5000 bytes per ms over a 100 ms path, read every ms: at least 2 × 500,000 bytes.
    for (let i = 0; i < 2000; i++) {
      now++;
      sf.receivedBytes += 5000;
      t.update(now, [sf]);
    }
    expect(t.value).toBeGreaterThanOrEqual(2 * 500_000 * 0.99);
    // While the rate climbed it grew ahead of it (by that rate, up to twice), never past 4×.
    expect(t.value).toBeLessThanOrEqual(4 * 500_000 * 1.01);
  });
});
