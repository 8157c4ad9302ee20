/**
 * Issue 14 item 9: bulk data both ways at once over links that lose 5–10% of packets in each
 * direction. Every byte must arrive (SHA-256 compared) and neither reader may wait longer than
 * 2 s for new bytes once its transfer has started.
 *
 * The seeds below stalled one direction for good before the fix: a segment written off (by
 * RACK or the RTO) and then SACKed while it waited in the retransmit queue was sent once more
 * and counted in flight again; later SACKs and the RTO pass over SACKed segments, so those
 * bytes never left the flight. With the window at one segment after an RTO, the subflow could
 * send nothing more: bytes in flight above cwnd, the RTO firing with nothing to retransmit.
 * A failing seed reproduces alone with MPTUN_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, lteLink as lte, runTransfer, wifiLink as wifi, type PathSpec } from '../support/transfer.js';

const only = process.env.MPTUN_SEED ? [Number(process.env.MPTUN_SEED)] : null;

const MAX_GAP_MS = 2000;

/** Each case: its links, the bytes each way, and the seeds that stalled before the fix. */
const cases: Array<{ name: string; paths: PathSpec[]; bytes: number; seeds: number[] }> = [
  // Stalled before the fix: seed 3 (upload stopped at 4.44 of 5 MB), seed 5 (download at 3.27 MB).
  { name: 'two paths, 10% loss each way', paths: [{ forward: { ...wifi, loss: 0.1 } }, { forward: { ...lte, loss: 0.1 } }], bytes: 5_000_000, seeds: [3, 5] },
  // Stalled before the fix: seeds 3 and 9 (the download stopped).
  { name: 'one path, 10% loss each way', paths: [{ forward: { ...wifi, loss: 0.1 } }], bytes: 2_000_000, seeds: [3, 9] },
  // Stalled before the fix: seed 1 (the download stopped at 1.98 of 10 MB).
  { name: 'one path, 5% loss each way', paths: [{ forward: { ...wifi, loss: 0.05 } }], bytes: 10_000_000, seeds: [1] },
  // Stalled before the fix: seed 1 (the download stopped).
  {
    name: 'one path, 5% loss each way with reordering and duplication',
    paths: [{ forward: { ...wifi, loss: 0.05, reorder: { probability: 0.05, extraDelayMs: 8 }, duplicate: 0.02 } }],
    bytes: 5_000_000,
    seeds: [1, 2, 3],
  },
  // Stalled 3 s before timestamps gave RTT samples for retransmitted data (seeds 134 and 393,
  // the download): the server's SYN/ACK was lost, so its RTO fell back to 3 s (RFC 6298 §5.7);
  // its first flight was written off and resent, Karn's rule took no sample from it, and
  // without an SRTT there was no tail loss probe, so a lost retransmission waited the 3 s.
  {
    name: 'one path, 5% loss each way with reordering and duplication, 50 Mbit/s 5 ms (the torture check\'s link)',
    paths: [{ forward: { rateBps: 50e6, delayMs: 5, queue: { ms: 50 }, loss: 0.05, reorder: { probability: 0.02, extraDelayMs: 10 }, duplicate: 0.01 } }],
    bytes: 1_000_000,
    seeds: [134, 393],
  },
];

describe('bulk both ways under heavy loss (issue 14 item 9)', () => {
  for (const c of cases) {
    const seeds = only ?? c.seeds;
    it(`${c.name}: ${c.bytes} bytes each way, seeds ${seeds.join(',')}`, () => {
      const failures: string[] = [];
      for (const seed of seeds) {
        // 'each': under this loss the client may race its handshake on a second path; the
        // test's server connection is the one that wins.
        const r = runTransfer({ seed, paths: c.paths, upload: c.bytes, download: c.bytes, limitMs: 300_000, serverApps: 'each' });
        const gaps = `longest gap up ${r.uploadLongestGapMs.toFixed(0)} ms, down ${r.downloadLongestGapMs.toFixed(0)} ms`;
        console.log(`${c.name}: ${describeResult(r)}, ${gaps}`);
        if (!r.ok) failures.push(describeResult(r));
        else if (Math.max(r.uploadLongestGapMs, r.downloadLongestGapMs) > MAX_GAP_MS) failures.push(`seed=${seed} ${gaps}`);
      }
      expect(failures).toEqual([]);
    });
  }
});
