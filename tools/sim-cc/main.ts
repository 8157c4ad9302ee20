/**
 * `pnpm sim:cc [--seed n] [cc ...]`: the default-controller figures of issue 16 in the
 * simulator, one row per congestion controller (default: cubic, cubic-ld, bbr), printed as
 * the markdown table docs/benchmarks.md quotes. Deterministic for a seed; exit code 2 on a
 * usage error.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isCcName } from '@mptun/core';
import { OUTAGE_MS, PROFILE_SUM_BPS, profileRun, roundTrips } from '../src/sim/cc-profile-runs.js';
import { fixed, markdownTable, mbit, percent } from '../src/sim/markdown.js';

const DEFAULT_CCS = ['cubic', 'cubic-ld', 'bbr'];
const CUT_AT_MS = 8000;

/** One controller's row: goodput, queues, stall, round trips idle and beside the download. */
export function ccRow(cc: string, seed: number): string[] {
  const bulk = profileRun(cc, seed);
  const cut = profileRun(cc, seed, CUT_AT_MS);
  const idle = roundTrips(cc, seed, false);
  const loaded = roundTrips(cc, seed, true);
  return [
    cc,
    `${mbit(bulk.goodputBps)} (${percent(bulk.goodputBps / PROFILE_SUM_BPS)})`,
    `${fixed(bulk.wifiQueueMs, 1)} / ${fixed(bulk.lteQueueMs, 1)}`,
    fixed(cut.longestStallMs, 0),
    `${fixed(idle.p99Ms, 1)} → ${fixed(loaded.p99Ms, 1)} (${fixed(loaded.p99Ms / idle.p99Ms, 2)}×)`,
    mbit(loaded.bulkBps),
  ];
}

export function renderCcTable(ccs: readonly string[], seed: number): string {
  return markdownTable(
    [
      'cc',
      'upload over wifi + lte, Mbit/s (% of 70)',
      'mean queue wifi / lte, ms',
      `longest stall, Wi-Fi down ${OUTAGE_MS / 1000} s, ms`,
      'p99 of 1 KB round trips idle → beside a download, ms',
      'that download, Mbit/s',
    ],
    ccs.map((cc) => ccRow(cc, seed)),
  );
}

function main(argv: readonly string[]): number {
  let seed = Number(process.env['MPTUN_SEED'] ?? 16);
  const ccs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--seed') {
      seed = Number(argv[++i]);
    } else if (isCcName(arg)) {
      ccs.push(arg);
    } else {
      process.stderr.write(`sim:cc: unknown argument "${arg}" (usage: pnpm sim:cc [--seed n] [cc ...])\n`);
      return 2;
    }
  }
  if (!Number.isInteger(seed) || seed < 0) {
    process.stderr.write('sim:cc: --seed needs a non-negative integer\n');
    return 2;
  }
  process.stdout.write(`seed ${seed}\n\n${renderCcTable(ccs.length > 0 ? ccs : DEFAULT_CCS, seed)}\n`);
  return 0;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) process.exitCode = main(process.argv.slice(2));
