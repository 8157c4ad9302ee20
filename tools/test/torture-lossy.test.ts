/**
 * The torture suite's bidirectional lossy transfer (issue 14 item 9), run small through the
 * real apps and the link emulator; and its verdict on transfers that went wrong.
 */
import { describe, expect, it } from 'vitest';
import { lossyFailures, runLossyBothWays, MAX_GAP_MS } from '../torture/lossy-both-ways.js';
import type { BothWaysResult } from '../../apps/server/test/both-ways.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 14;

describe('torture: lossy both ways', () => {
  it('1 MB each way at 5% loss with reordering and duplication: hash-exact, the longest gap printed', async () => {
    console.log('seed', seed);
    const r = await runLossyBothWays({ long: false, seed, log: (l) => console.log(l) }, [{ bytes: 1_000_000, loss: '5%', timeoutSeconds: 60 }]);
    // The CI mode judges every byte, exactly; the gap is printed (asserted in --long).
    console.log(r.lines.join('\n'));
    const [one] = r.data as Array<{ result: BothWaysResult }>;
    expect(one!.result.up).toMatchObject({ bytes: 1_000_000, hashMatches: true });
    expect(one!.result.down).toMatchObject({ bytes: 1_000_000, hashMatches: true });
    expect(r.lines[0]).toMatch(/^1 MB each way at once in [\d.]+ s \(loss 5%, reorder 2%,10ms, duplicate 1% each way.*seed \d+\): up [\d.]+ s, longest gap \d+ ms; down [\d.]+ s, longest gap \d+ ms$/);
  }, 90_000);

  it('a direction that stalled past 2 s or whose bytes differ is a failure; a clean one is not', () => {
    const ok = { bytes: 10, seconds: 1, longestGapMs: MAX_GAP_MS, hashMatches: true };
    expect(lossyFailures({ bytesEachWay: 10, up: ok, down: ok })).toEqual([]);
    expect(lossyFailures({ bytesEachWay: 10, up: { ...ok, longestGapMs: MAX_GAP_MS + 1 }, down: ok })).toEqual([`up: waited ${MAX_GAP_MS + 1} ms for the next byte (limit ${MAX_GAP_MS} ms)`]);
    expect(lossyFailures({ bytesEachWay: 10, up: ok, down: { ...ok, hashMatches: false } })).toEqual(['down: 10 bytes arrived and their SHA-256 differs from what was sent']);
    expect(lossyFailures({ bytesEachWay: 10, up: { ...ok, longestGapMs: MAX_GAP_MS + 1 }, down: ok }, false), 'the CI mode: the gap is a printed figure').toEqual([]);
  });
});
