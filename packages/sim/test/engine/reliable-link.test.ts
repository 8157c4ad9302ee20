/**
 * Reliable-link mode (subflows over WebSockets) with two paths: each subflow's window comes
 * from its carrier's delivery rate, so minRTT finds the first path full and the second one
 * carries its share (issue 16: with an unbounded window the second path carried 0–14%).
 * The carrier is modelled as a lossless link whose queue is as deep as a socket's buffers.
 * A failing seed reproduces with MPTUN_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import type { LinkOptions } from '../../src/index.js';
import { describeResult, runTransfer } from '../support/transfer.js';

const seed = Number(process.env.MPTUN_SEED ?? 1616);
/** A WebSocket's TCP: it never loses a segment; what it cannot send yet waits in its buffers. */
const carrier = (rateBps: number, delayMs: number): LinkOptions => ({ rateBps, delayMs, queue: { bytes: 64 * 1024 * 1024 } });
const A = carrier(40e6, 10);
const B = carrier(20e6, 10);
/** Each path's bandwidth-delay product (20 ms round trip), bytes. */
const BDP = [40e6, 20e6].map((bps) => (bps / 8) * 0.02);

describe('reliable-link subflows over two paths', () => {
  it('upload over 40 + 20 Mbit/s WebSocket-like carriers uses both paths', () => {
    const bytes = 24_000_000;
    const peakInFlight = [0, 0];
    const r = runTransfer({
      seed,
      paths: [{ forward: A }, { forward: B }],
      upload: bytes,
      download: 0,
      config: { reliableLink: true },
      limitMs: 120_000,
      onTick: ({ clientConn, clientPaths }) => {
        for (const sf of clientConn.subflows()) {
          const i = clientPaths.indexOf(sf.pathId);
          peakInFlight[i] = Math.max(peakInFlight[i]!, sf.bytesInFlight);
        }
      },
    });
    const total = r.bytesPerPath.reduce((s, b) => s + b, 0);
    const shares = r.bytesPerPath.map((b) => b / total);
    const goodputBps = (bytes * 8) / (r.uploadDoneMs / 1000);
    console.log(
      `seed=${seed}`,
      describeResult(r),
      `shares ${shares.map((s) => (s * 100).toFixed(1) + '%').join(' / ')}`,
      `goodput ${(goodputBps / 1e6).toFixed(1)} Mbit/s of 60`,
      `peak in flight ${peakInFlight.join(' / ')} bytes (BDP ${BDP.join(' / ')})`,
    );
    expect(r.ok).toBe(true);
    // 40 : 20 is 2/3 : 1/3; the slower path must carry a real part of it.
    expect(shares[1]!).toBeGreaterThan(0.25);
    expect(goodputBps).toBeGreaterThan(0.85 * 60e6);
    // The carriers' buffers hold about one BDP beyond the pipe, not the whole receive window.
    peakInFlight.forEach((peak, i) => expect(peak).toBeLessThan(4 * BDP[i]!));
  });
});
