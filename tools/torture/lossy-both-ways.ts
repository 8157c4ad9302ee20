/**
 * Bidirectional bulk under loss through the real apps (issue 14 item 9): mptun-client and
 * mptun-server in their own processes, the link emulator between them dropping, reordering
 * and duplicating datagrams both ways; one SOCKS tunnel moves N MB each way at once to a
 * target that reads and writes at the same time. Fails when a byte differs (SHA-256 per
 * direction) or when either direction waits longer than MAX_GAP_MS for its next byte: the
 * issue's stall was one direction stopped for ≥ 40 s.
 */
import { BothWaysTarget, describeBothWays, type BothWaysResult } from '../../apps/server/test/both-ways.js';
import { connectSocks, startRig, type Rig } from '../bench/rig/index.js';
import type { PathPatch } from '@mptun/linkem';
import type { TortureCheck, TortureOptions, TortureResult } from './types.js';

/** The goal: no wait for the next delivered byte longer than this. */
export const MAX_GAP_MS = 2000;

export interface LossyCase {
  /** Bytes each way. */
  bytes: number;
  /** Loss each way, e.g. "5%". */
  loss: string;
  /** How long the transfer may take before the check gives up, s. */
  timeoutSeconds: number;
}

export const lossySizes: { ci: LossyCase[]; long: LossyCase[] } = {
  // ≤ 30 s in all on a loaded 2-core machine, rig start-up included.
  ci: [{ bytes: 3_000_000, loss: '5%', timeoutSeconds: 60 }],
  long: [
    { bytes: 50_000_000, loss: '5%', timeoutSeconds: 600 },
    { bytes: 50_000_000, loss: '10%', timeoutSeconds: 900 },
  ],
};

/** The emulated path, both directions; `loss` is added per case. */
export const LOSSY_LINK: PathPatch = { rate: '50mbit', delay: '5ms', queue: '50ms', reorder: '2%,10ms', duplicate: '1%' };

const MB = 1e6;

/** The client's subflows as it sees them, for a transfer that did not finish. */
async function clientSubflows(rig: Rig): Promise<string> {
  const s = await rig.clientSample().catch(() => null);
  if (s === null) return 'the client did not answer';
  const flows = s.connections.flatMap((c) => c.subflows.map((f) => `#${f.id} ${f.state} cwnd ${f.cwndBytes} in flight ${f.bytesInFlight} srtt ${f.srttMs.toFixed(0)} ms, ${f.retransmissions} retransmissions, ${f.rtoCount} RTOs`));
  return `client subflows: ${flows.join('; ') || 'none'}`;
}

/**
 * What is wrong with a finished transfer: a direction whose bytes differ, or (with
 * `gapLimit`) that waited too long for its next byte. The gap is a wall-clock figure: on a
 * loaded 2-core machine a direction waited 2.4 s once, so the CI mode prints it and judges
 * only what cannot flake (every byte, exact, within the timeout); --long judges the gap too.
 */
export function lossyFailures(result: BothWaysResult, gapLimit = true): string[] {
  const failures: string[] = [];
  for (const [name, d] of [['up', result.up], ['down', result.down]] as const) {
    if (!d.hashMatches) failures.push(`${name}: ${d.bytes} bytes arrived and their SHA-256 differs from what was sent`);
    if (gapLimit && d.longestGapMs > MAX_GAP_MS) failures.push(`${name}: waited ${d.longestGapMs.toFixed(0)} ms for the next byte (limit ${MAX_GAP_MS} ms)`);
  }
  return failures;
}

async function runCase(c: LossyCase, seed: number, log: (line: string) => void, gapLimit: boolean): Promise<{ line: string; result: BothWaysResult; failures: string[] }> {
  const link: PathPatch = { ...LOSSY_LINK, loss: c.loss };
  const settings = `loss ${c.loss}, reorder ${String(link.reorder)}, duplicate ${String(link.duplicate)} each way, ${String(link.rate)} ${String(link.delay)}`;
  log(`lossy both ways: ${c.bytes / MB} MB each way, ${settings}, seed ${seed}`);
  let rig: Rig | null = null;
  const target = await BothWaysTarget.start(c.bytes, seed);
  try {
    rig = await startRig({ paths: [{ name: 'lossy', local: '127.0.0.2', link }], seed });
    const tunnel = await connectSocks(rig.socks, { host: '127.0.0.1', port: target.port });
    const started = rig;
    const result = await target.run(tunnel, c.timeoutSeconds * 1000).catch(async (err: unknown) => {
      throw new Error(`${c.bytes / MB} MB each way at ${c.loss} loss (seed ${seed}): ${err instanceof Error ? err.message : String(err)}; ${await clientSubflows(started)}`);
    });
    const secs = Math.max(result.up.seconds, result.down.seconds);
    const line = `${c.bytes / MB} MB each way at once in ${secs.toFixed(1)} s (${settings}, seed ${seed}): ${describeBothWays(result)}`;
    return { line, result, failures: lossyFailures(result, gapLimit) };
  } finally {
    await rig?.close();
    await target.close();
  }
}

export async function runLossyBothWays(opts: TortureOptions, cases: readonly LossyCase[]): Promise<TortureResult> {
  const lines: string[] = [];
  const data: Array<{ case: LossyCase; link: PathPatch; result: BothWaysResult }> = [];
  const failures: string[] = [];
  for (const [i, c] of cases.entries()) {
    const seed = (opts.seed + i) >>> 0;
    const r = await runCase(c, seed, opts.log, opts.long);
    lines.push(r.line);
    data.push({ case: c, link: { ...LOSSY_LINK, loss: c.loss }, result: r.result });
    failures.push(...r.failures.map((f) => `${c.loss} loss, seed ${seed}: ${f}`));
  }
  if (failures.length > 0) throw new Error(`lossy both ways failed:\n  ${failures.join('\n  ')}\n  ${lines.join('\n  ')}`);
  return { lines, data };
}

export const lossyBothWaysCheck: TortureCheck = {
  id: 'lossy-both-ways',
  title: 'Bulk both ways at once through the apps over a lossy, reordering, duplicating link: hash-exact, no stall (no gap over 2 s in --long)',
  run: (opts) => runLossyBothWays(opts, opts.long ? lossySizes.long : lossySizes.ci),
};
