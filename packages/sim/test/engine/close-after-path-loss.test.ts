/**
 * Closing a connection after its fastest path died while idle (RFC 8684 §3.3.3): the bare
 * DATA_FIN (all data already acknowledged) went to the best subflow by RTT, which was the
 * dead one, and every retry went there too, since nothing in flight timed out to mark it
 * potentially failed: the connection never closed (600 s limit of this test). Retries now
 * take the subflows in turn. Through the apps the same close waited about 50 s
 * (apps/client/test/plain-paths.test.ts). Seeded; each seed is printed.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, lteLink, runTransfer, wifiLink } from '../support/transfer.js';

const seedList = process.env.MPTUN_SEED ? [Number(process.env.MPTUN_SEED)] : [1, 2, 3, 4, 5];

describe('close after losing the fastest path', () => {
  it('both DATA_FINs are exchanged over the surviving path within seconds of the close', () => {
    for (const seed of seedList) {
      const r = runTransfer({
        seed,
        paths: [{ forward: wifiLink }, { forward: lteLink }],
        upload: 1_000_000,
        download: 1_000_000,
        // Both close once everything is acknowledged, so each DATA_FIN goes alone (bare).
        closeAtMs: 2000,
        setup: (ctx) => {
          ctx.pair.forward(0).schedule([{ at: 1000, down: true }]);
          ctx.pair.backward(0).schedule([{ at: 1000, down: true }]);
        },
      });
      const lastByte = Math.max(r.uploadDoneMs, r.downloadDoneMs);
      console.log(`seed ${seed}: last byte at ${lastByte.toFixed(0)} ms, path 0 dead from 1000 ms, close at 2000 ms, both closed at ${r.timeMs.toFixed(0)} ms; ${describeResult(r)}`);
      expect(r.ok, describeResult(r)).toBe(true);
      expect(r.timeMs, 'both sides closed, ms').toBeLessThan(2000 + 5000);
    }
  });
});
