/**
 * The send buffer is auto-tuned from the paths' measured rates and RTTs: a bulk upload holds
 * about two bandwidth-delay products of unacknowledged data, not the configured maximum, and
 * still fills the path. A failing seed reproduces with MPTUN_SEED=<seed>.
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
    it(`${c.name}: an upload holds at most 2 BDP unacknowledged`, () => {
      const bytes = 12_000_000;
      let peak = 0;
      const r = runTransfer({
        seed,
        paths: c.links.map((forward) => ({ forward })),
        upload: bytes,
        download: 0,
        limitMs: 120_000,
        onTick: ({ clientConn }) => void (peak = Math.max(peak, clientConn.bufferedBytes)),
      });
      // RFC 8684 §3.3.4's concern: every path's data in flight while the slowest one's is unacknowledged.
      const sumBytesPerMs = c.links.reduce((s, l) => s + l.rateBps! / 8000, 0);
      const rttMax = Math.max(...c.links.map((l) => 2 * l.delayMs!));
      const bdp = sumBytesPerMs * rttMax;
      const goodputBps = (bytes * 8) / (r.uploadDoneMs / 1000);
      const sumBps = c.links.reduce((s, l) => s + l.rateBps!, 0);
      console.log(`seed=${seed}`, c.name, describeResult(r), `peak unacknowledged ${peak} bytes = ${(peak / bdp).toFixed(2)} BDP (${bdp} bytes)`, `goodput ${(goodputBps / 1e6).toFixed(1)} of ${sumBps / 1e6} Mbit/s`);
      expect(r.ok).toBe(true);
      expect(peak).toBeLessThanOrEqual(2 * bdp);
      expect(goodputBps).toBeGreaterThan(0.8 * sumBps);
    });
  }
});
