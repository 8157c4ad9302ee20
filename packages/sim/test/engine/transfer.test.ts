/**
 * Bulk transfers both ways over 1–4 emulated paths under loss, burst loss, reordering,
 * duplication and jitter, each over many seeds: every byte arrives (SHA-256 compared) and
 * both sides close gracefully. A failing seed reproduces with MPTUN_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, lteLink as lte, runTransfer, wifiLink as wifi, type PathSpec } from '../support/transfer.js';

const only = process.env.MPTUN_SEED ? [Number(process.env.MPTUN_SEED)] : null;
function seeds(n: number, base: number): number[] {
  return only ?? Array.from({ length: n }, (_, i) => base + i);
}

interface Case {
  name: string;
  paths: PathSpec[];
  bytes: number;
  seeds: number;
}

const cases: Case[] = [
  { name: 'one clean path', paths: [{ forward: wifi }], bytes: 1_000_000, seeds: 20 },
  { name: 'two clean paths', paths: [{ forward: wifi }, { forward: lte }], bytes: 1_000_000, seeds: 20 },
  { name: 'two paths, 1% loss', paths: [{ forward: { ...wifi, loss: 0.01 } }, { forward: { ...lte, loss: 0.01 } }], bytes: 1_000_000, seeds: 30 },
  {
    name: 'three paths, 10% loss',
    paths: [{ forward: { ...wifi, loss: 0.1 } }, { forward: { ...lte, loss: 0.1 } }, { forward: { rateBps: 5e6, delayMs: 60, loss: 0.1 } }],
    bytes: 400_000,
    seeds: 30,
  },
  {
    name: 'four paths, burst loss',
    paths: [0, 1, 2, 3].map((i) => ({ forward: { rateBps: 10e6 * (i + 1), delayMs: 5 + 10 * i, gilbertElliott: { pGoodToBad: 0.01, pBadToGood: 0.25 } } })),
    bytes: 1_000_000,
    seeds: 30,
  },
  {
    name: 'reordering and duplication',
    paths: [{ forward: { ...wifi, reorder: { probability: 0.1, extraDelayMs: 8 }, duplicate: 0.05 } }, { forward: { ...lte, jitterMs: 10, duplicate: 0.02 } }],
    bytes: 1_000_000,
    seeds: 30,
  },
  {
    name: 'asymmetric: lossy uplink, clean downlink',
    paths: [{ forward: { ...wifi, loss: 0.05 }, backward: wifi }, { forward: { ...lte, loss: 0.05 }, backward: lte }],
    bytes: 1_000_000,
    seeds: 20,
  },
];

describe('bulk transfer both ways', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.bytes} bytes each way, ${only ? 1 : c.seeds} seeds`, () => {
      const failures: string[] = [];
      for (const seed of seeds(c.seeds, 1000)) {
        const r = runTransfer({ seed, paths: c.paths, upload: c.bytes, download: c.bytes, limitMs: 600_000 });
        if (!r.ok) failures.push(describeResult(r));
      }
      console.log(`${c.name}: ${failures.length} failures`, failures.slice(0, 5));
      expect(failures).toEqual([]);
    });
  }

  it('half-close in one direction only: upload 2 MB, download nothing', () => {
    const seed = only?.[0] ?? 7;
    const r = runTransfer({ seed, paths: [{ forward: wifi }, { forward: lte }], upload: 2_000_000, download: 0 });
    console.log(describeResult(r));
    expect(r.ok).toBe(true);
  });

  it('50 MB each way over two paths with 0.1% loss', () => {
    const seed = only?.[0] ?? 42;
    const r = runTransfer({
      seed,
      paths: [{ forward: { ...wifi, loss: 0.001 } }, { forward: { ...lte, loss: 0.001 } }],
      upload: 50_000_000,
      download: 50_000_000,
    });
    console.log(describeResult(r), 'bytes per path', r.bytesPerPath);
    expect(r.ok).toBe(true);
    // Both paths carried a real share: the connection bonded them.
    expect(Math.min(...r.bytesPerPath)).toBeGreaterThan(5_000_000);
  });
});
