/**
 * Reliable-link mode (subflows over WebSockets) with two paths: each subflow's window comes
 * from its carrier's delivery rate, so minRTT finds the first path full and the second one
 * carries its share (issue 16: with an unbounded window the second path carried 0–14%).
 * The carrier is modelled as a lossless link whose queue is as deep as a socket's buffers.
 * A failing seed reproduces with MPTUN_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import type { LinkOptions } from '../../src/index.js';
import { describeResult, runTransfer, type TransferContext } from '../support/transfer.js';

const seed = Number(process.env.MPTUN_SEED ?? 1616);
/** A WebSocket's TCP: it never loses a segment; what it cannot send yet waits in its buffers. */
const carrier = (rateBps: number, delayMs: number): LinkOptions => ({ rateBps, delayMs, queue: { bytes: 64 * 1024 * 1024 } });
const A = carrier(40e6, 10);
const B = carrier(20e6, 10);
/** Each path's bandwidth-delay product (20 ms round trip), bytes. */
const BDP = [40e6, 20e6].map((bps) => (bps / 8) * 0.02);
/** An upload over the two carriers, subflows in reliable-link mode. */
const overTwoCarriers = { seed, paths: [{ forward: A }, { forward: B }], download: 0, config: { reliableLink: true } };

describe('reliable-link subflows over two paths', () => {
  it('upload over 40 + 20 Mbit/s WebSocket-like carriers uses both paths', () => {
    const bytes = 24_000_000;
    const peakInFlight = [0, 0];
    const r = runTransfer({
      ...overTwoCarriers,
      upload: bytes,
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

  /**
   * A WebSocket whose peer goes silent (an outage the TCP below rides out, a stalled process)
   * runs no RTO of its own: the subflow keeps what it was given. When the path reports the
   * peer quiet (the heartbeat, 1-2 ping intervals in), the engine sets the subflow aside and
   * sends what it held on the other path; when it is heard again it may be scheduled again.
   * (The simulated carrier drops what an outage catches, where TCP would deliver it late, so
   * the test does not ask the frozen path to carry data afterwards.)
   */
  it('a path reported quiet hands its data to the other path and the upload goes on; heard again, it is usable', () => {
    const bytes = 24_000_000;
    const FREEZE_MS = 400;
    const QUIET_MS = FREEZE_MS + 1000; // the heartbeat's report, about a second in
    const BACK_MS = 5_000;
    const quietReports = process.env.MPTUN_NO_QUIET !== '1'; // =1 shows the stall without them
    let ackedAtBack = -1;
    const failedOnA: boolean[] = [];
    const subflowA = (ctx: TransferContext) => ctx.clientConn.subflows().find((sf) => sf.pathId === ctx.clientPaths[0]);
    const setQuiet = (ctx: TransferContext, quiet: boolean): void => {
      if (!quietReports) return;
      ctx.client.setPathQuiet(ctx.clientPaths[0]!, quiet);
      ctx.server.setPathQuiet(ctx.serverPaths[0]!, quiet);
    };
    let phase = 0;
    const r = runTransfer({
      ...overTwoCarriers,
      upload: bytes,
      limitMs: 60_000,
      setup: (ctx) => {
        for (const l of [ctx.pair.forward(0), ctx.pair.backward(0)]) l.schedule([{ at: FREEZE_MS, down: true }, { at: BACK_MS, up: true }]);
      },
      onTick: (ctx) => {
        const now = ctx.pair.now;
        if (phase === 0 && now >= QUIET_MS) {
          phase = 1;
          setQuiet(ctx, true);
          failedOnA.push(subflowA(ctx)?.potentiallyFailed ?? false);
        } else if (phase === 1 && now >= BACK_MS) {
          phase = 2;
          ackedAtBack = ctx.clientConn.sndUna;
          setQuiet(ctx, false);
          failedOnA.push(subflowA(ctx)?.potentiallyFailed ?? true);
        }
      },
    });
    console.log(`seed=${seed}`, describeResult(r), `quiet reports ${quietReports ? 'on' : 'off'}; path A frozen ${FREEZE_MS}-${BACK_MS} ms, reported quiet at ${QUIET_MS} ms; acknowledged when it came back ${ackedAtBack} bytes`);
    expect(r.ok).toBe(true);
    // B alone (20 Mbit/s) carries about 2.5 MB a second: the upload went on without A.
    expect(ackedAtBack).toBeGreaterThan(6_000_000);
    expect(failedOnA, 'set aside while quiet, usable once heard').toEqual([true, false]);
  });
});
