/**
 * `pnpm torture [--long] [--only id,id] [--seed n] [--out dir]`: runs every TortureCheck
 * (checks.ts), prints each one's lines and wall time as it finishes, and exits 1 when any
 * threw (after running the rest), 2 on a usage error. The seed is printed first: MPTUN_SEED
 * or --seed replays a run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { TortureCheck, TortureResult } from './types.js';

export interface TortureArgs {
  long: boolean;
  /** Check ids to run, in the order given; null for all. */
  only: string[] | null;
  seed: number;
  /** Directory for torture.md and torture.json; null for none. */
  out: string | null;
  help: boolean;
}

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `usage: pnpm torture [--long] [--only id,id] [--seed n] [--out dir] [--help]
  --long       the long mode: a million inputs per fuzz target, minutes of soak
  --only ids   run only these checks (comma-separated ids)
  --seed n     seed of every random choice (default: MPTUN_SEED, else random); printed first
  --out dir    also write dir/torture.md and dir/torture.json
  --help       this text`;

/**
 * Parses the flags (argv without node and the script). `env` supplies MPTUN_SEED; `random`
 * the seed when neither it nor --seed is given. Throws UsageError for an unknown flag, a
 * missing or bad value, or an unknown check id (when `knownIds` is given).
 */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  knownIds?: readonly string[],
  random: () => number = () => Math.floor(Math.random() * 0x1_0000_0000),
): TortureArgs {
  const args: TortureArgs = { long: false, only: null, seed: NaN, out: null, help: false };
  let seedText: string | undefined = env.MPTUN_SEED;
  let seedFrom = 'MPTUN_SEED';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--long':
        args.long = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--seed':
        seedText = value();
        seedFrom = '--seed';
        break;
      case '--out':
        args.out = value();
        break;
      case '--only': {
        const ids = value()
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
        if (ids.length === 0) throw new UsageError('--only needs at least one check id');
        args.only = [...(args.only ?? []), ...ids];
        break;
      }
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (seedText !== undefined && seedText.trim() !== '') {
    const t = seedText.trim();
    if (!/^\d+$/.test(t) || Number(t) > 0xffff_ffff) throw new UsageError(`${seedFrom} must be an integer from 0 to 4294967295, got ${JSON.stringify(seedText)}`);
    args.seed = Number(t);
  } else {
    args.seed = random() >>> 0;
  }
  if (args.only !== null && knownIds !== undefined) {
    const unknown = args.only.filter((id) => !knownIds.includes(id));
    if (unknown.length > 0) throw new UsageError(`unknown check id ${unknown.join(', ')}; known: ${knownIds.join(', ')}`);
  }
  return args;
}

export interface CheckReport {
  id: string;
  title: string;
  ok: boolean;
  wallMs: number;
  lines: string[];
  data: unknown;
  error?: string;
}

/** Runs the selected checks; a check that throws is reported and the rest still run. */
export async function runChecks(all: readonly TortureCheck[], args: TortureArgs, print: (line: string) => void): Promise<CheckReport[]> {
  const selected = args.only === null ? all : args.only.map((id) => all.find((c) => c.id === id)!);
  const reports: CheckReport[] = [];
  for (const check of selected) {
    print(`== ${check.id}: ${check.title}`);
    const began = performance.now();
    let result: TortureResult | null = null;
    let error: unknown;
    try {
      result = await check.run({ long: args.long, seed: args.seed, log: print });
    } catch (err) {
      error = err;
    }
    const wallMs = performance.now() - began;
    if (result !== null) {
      for (const line of result.lines) print(`   ${line}`);
      print(`== ${check.id}: ok in ${seconds(wallMs)}`);
      reports.push({ id: check.id, title: check.title, ok: true, wallMs, lines: result.lines, data: result.data });
    } else {
      const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
      print(`== ${check.id}: FAILED after ${seconds(wallMs)} (seed ${args.seed}; replay: pnpm torture${args.long ? ' --long' : ''} --seed ${args.seed} --only ${check.id})`);
      print(text);
      reports.push({ id: check.id, title: check.title, ok: false, wallMs, lines: [], data: null, error: text });
    }
  }
  return reports;
}

/** torture.md: one section per check with its lines, or its error. */
export function renderMarkdown(args: TortureArgs, reports: readonly CheckReport[]): string {
  const out = [
    '# Torture run',
    '',
    `Mode ${args.long ? 'long' : 'CI'}, seed ${args.seed} (replay: \`pnpm torture${args.long ? ' --long' : ''} --seed ${args.seed}\`).`,
    '',
    '| check | result | wall time |',
    '| --- | --- | --- |',
    ...reports.map((r) => `| ${r.id} | ${r.ok ? 'ok' : '**FAILED**'} | ${seconds(r.wallMs)} |`),
    '',
  ];
  for (const r of reports) {
    out.push(`## ${r.id}: ${r.title}`, '');
    if (r.ok) out.push(...r.lines.map((l) => `- ${l}`));
    else out.push('```', r.error ?? '', '```');
    out.push('');
  }
  return out.join('\n');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main(): Promise<number> {
  const { checks } = await import('./checks.js');
  let args: TortureArgs;
  try {
    args = parseArgs(process.argv.slice(2), process.env, checks.map((c) => c.id));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`torture: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\nchecks: ${checks.map((c) => c.id).join(', ')}\n`);
    return 0;
  }
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  const gc = typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'gc exposed' : 'no --expose-gc (heap figures after a run-time GC flag)';
  print(`torture: mode ${args.long ? 'long' : 'CI'}, seed ${args.seed}, ${gc}`);
  const began = performance.now();
  const reports = await runChecks(checks, args, print);
  const failed = reports.filter((r) => !r.ok);
  print(`torture: ${reports.length - failed.length}/${reports.length} checks ok in ${seconds(performance.now() - began)}, seed ${args.seed}` + (failed.length > 0 ? `; FAILED: ${failed.map((r) => r.id).join(', ')}` : ''));
  if (args.out !== null) {
    const dir = resolve(args.out);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'torture.md'), renderMarkdown(args, reports));
    writeFileSync(join(dir, 'torture.json'), `${JSON.stringify({ mode: args.long ? 'long' : 'ci', seed: args.seed, checks: reports }, null, 2)}\n`);
    print(`torture: wrote ${join(dir, 'torture.md')} and torture.json`);
  }
  return failed.length > 0 ? 1 : 0;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`torture: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
