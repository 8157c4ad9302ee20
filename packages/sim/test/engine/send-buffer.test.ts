/**
 * The send buffer is auto-tuned from the paths' measured rates and RTTs: a bulk upload holds
 * what the congestion windows have in flight and one bandwidth-delay product more (at least
 * two products), not the configured 4 MB, and still fills the paths. The figures are printed
 * against the product at the links' RTT and at the largest smoothed RTT (standing queue
 * included). A failing seed reproduces with MPTUN_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import type { LinkOptions } from '../../src/index.js';
import { describeResult, runTransfer } from '../support/transfer.js';

const seed = Number(process.env.MPTUN_SEED ?? 2718);

interface Case {
  name: string;
  links: LinkOptions[];
  reliableLink?: boolean;
}

const cases: Case[] = [
  { name: 'one 20 Mbit/s path, 50 ms RTT', links: [{ rateBps: 20e6, delayMs: 25, queue: { ms: 50 } }] },
  { name: 'two paths, 40 + 20 Mbit/s, 20 and 60 ms RTT', links: [{ rateBps: 40e6, delayMs: 10, queue: { ms: 50 } }, { rateBps: 20e6, delayMs: 30, queue: { ms: 80 } }] },
];

describe('send buffer sized from the measured BDP', () => {
  for (const c of cases) {
    it(`${c.name}: an upload holds the congestion windows and one BDP, not 4 MB`, () => {
      const bytes = 12_000_000;
      let peak = 0;
      let srttMax = 0;
      let peakWindows = 0;
      const r = runTransfer({
        seed,
        paths: c.links.map((forward) => ({ forward })),
        upload: bytes,
        download: 0,
        limitMs: 120_000,
        onTick: ({ clientConn }) => {
          peak = Math.max(peak, clientConn.bufferedBytes);
          let windows = 0;
          for (const sf of clientConn.subflows()) {
            srttMax = Math.max(srttMax, sf.srtt);
            if (sf.isEstablished) windows += sf.cwnd;
          }
          peakWindows = Math.max(peakWindows, windows);
        },
      });
      // Every path's data in flight while the slowest one's is unacknowledged.
      const sumBytesPerMs = c.links.reduce((s, l) => s + l.rateBps! / 8000, 0);
      const bdp = sumBytesPerMs * srttMax;
      const baseBdp = sumBytesPerMs * Math.max(...c.links.map((l) => 2 * l.delayMs!));
      const goodputBps = (bytes * 8) / (r.uploadDoneMs / 1000);
      const sumBps = c.links.reduce((s, l) => s + l.rateBps!, 0);
      console.log(`seed=${seed}`, c.name, describeResult(r), `peak unacknowledged ${peak} bytes = ${(peak / bdp).toFixed(2)} BDP at the largest smoothed RTT ${srttMax.toFixed(1)} ms (${bdp.toFixed(0)} bytes) = ${(peak / baseBdp).toFixed(2)} BDP at the links' RTT`, `goodput ${(goodputBps / 1e6).toFixed(1)} of ${sumBps / 1e6} Mbit/s`, `peak congestion windows ${peakWindows} bytes`);
      expect(r.ok).toBe(true);
      // The windows plus one product at the links' rates: a little more for the RTT the
      // connection measures (a segment's serialization, delayed ACKs).
      expect(peak).toBeLessThanOrEqual(peakWindows + 1.25 * baseBdp);
      expect(peak).toBeLessThan(4_194_304 / 2); // the fixed buffer it replaces took 4 MB
      expect(goodputBps).toBeGreaterThan(0.8 * sumBps);
    });
  }
});
