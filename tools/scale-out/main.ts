/**
 * `pnpm sim:scale-out [--seed n]`: runs the scale-out simulation (model.ts) and prints its
 * seed and its table as markdown, the table docs/scale-out.md quotes. MPTUN_SEED also sets
 * the seed; exit code 2 on a usage error.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { markdownTable, percent } from '../src/sim/markdown.js';
import { DEFAULT_OPTIONS, runScaleOut, type PhaseResult, type ScaleOutOptions } from './model.js';

/** A share as "landed of total (percent)", or "–" when there was nothing to count. */
function share(landed: number, total: number): string {
  return total === 0 ? '–' : `${landed} of ${total} (${percent(landed / total)})`;
}

export function renderTable(rows: readonly PhaseResult[]): string {
  return markdownTable(
    [
      'routing',
      'phase',
      'backends',
      'joins on the holding server',
      'existing paths still reaching it',
      'connections lost with a removed server',
      'connections cut by rerouting',
      'new connections per server',
    ],
    rows.map((r) => [
      r.routing,
      r.phase,
      String(r.backends),
      share(r.joinsOnHolder, r.joins),
      share(r.existingOnHolder, r.existingPaths),
      String(r.lostWithBackend),
      String(r.brokenByReroute),
      `${r.newPerBackend.min}–${r.newPerBackend.max}`,
    ]),
  );
}

export function parseSeed(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const at = argv.indexOf('--seed');
  const text = at >= 0 ? argv[at + 1] : env['MPTUN_SEED'];
  if (text === undefined) return DEFAULT_OPTIONS.seed;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`--seed wants an integer in 0..2^32-1, not ${text}`);
  return seed;
}

function main(): number {
  let seed: number;
  try {
    seed = parseSeed(process.argv.slice(2), process.env);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const opts: ScaleOutOptions = { ...DEFAULT_OPTIONS, seed };
  console.log(
    `scale-out simulation, seed ${seed}: ${opts.clients} clients × ${opts.addressesPerClient} addresses, ` +
      `${opts.connectionsPerPhase} new connections each per phase, ${opts.initialBackends} servers, ` +
      `+${opts.added}, then −${opts.removed}\n`,
  );
  console.log(renderTable(runScaleOut(opts)));
  return 0;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) process.exitCode = main();
