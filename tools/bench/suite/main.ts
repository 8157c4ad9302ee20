/**
 * `pnpm bench [--quick] [--only id,id] [--out dir] [--seed n]`: runs the suite's sections in
 * order, prints each one's tables as it finishes and writes report.md, results.json and SVG
 * plots to the results folder. A section that throws is reported and the rest still run.
 * Exit codes: 0 all ran, 1 a section (or writing the report) failed, 2 bad arguments,
 * 130 interrupted.
 */
import { randomInt } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCcName } from '@mptun/core';
import { sections as registry } from './sections.js';
import { parseStack } from './stack.js';
import { assignPlotFiles, machineInfo, renderSection, sectionStatus, writeReport, type RunMeta, type SectionRecord } from './report.js';
import type { Section, SectionResult } from './types.js';

/** Bad command line: the runner prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  help: boolean;
  quick: boolean;
  /** Section ids from `--only`, in the order given, without repeats; null runs every section. */
  only: string[] | null;
  out: string;
  seed: number;
  /** Stack labels from `--stacks` ("minrtt+bbr"), replacing the sections' own lists; null keeps them. */
  stacks: string[] | null;
}

const MAX_SEED = 0xffff_ffff;

/** The help text: every flag, and every section id with its title. */
export function usage(known: readonly Section[]): string {
  const ids = known.length === 0 ? ['  (no sections registered)'] : known.map((s) => `  ${s.id.padEnd(14)} ${s.title}`);
  return [
    'Usage: pnpm bench [--quick] [--only id,id] [--stacks s,s] [--out dir] [--seed n]',
    '',
    'Runs the mptun benchmark sections through the real apps and writes report.md,',
    'results.json and one SVG per plot to the results folder.',
    '',
    'Flags:',
    '  --quick          short runs and fewer variants (the whole suite in a few minutes)',
    '  --only a,b       run only these sections (ids below), in report order',
    '  --stacks a,b     the stacks aggregation, handover and latency compare, e.g.',
    '                   minrtt+cubic,minrtt+bbr (scheduler, +cc, @ws; default: their own lists)',
    '  --out DIR        results folder (default results/bench-YYYYMMDD-HHMMSS)',
    `  --seed N         seed of the emulated links' randomness, 0..${MAX_SEED}`,
    '                   (default: MPTUN_SEED when set, otherwise random; always printed)',
    '  --help           this text',
    '',
    'Sections:',
    ...ids,
    '',
  ].join('\n');
}

/** A `--stacks` label must parse and name a known controller. */
function checkStack(label: string): void {
  let cc: string | undefined;
  try {
    cc = parseStack(label).cc;
  } catch (err) {
    throw new UsageError(`--stacks: ${(err as Error).message}`);
  }
  if (cc !== undefined && !isCcName(cc)) throw new UsageError(`--stacks: unknown congestion controller "${cc}" in "${label}"`);
}

function parseSeed(text: string, from: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_SEED) {
    throw new UsageError(`${from} must be an integer from 0 to ${MAX_SEED}, got "${text}"`);
  }
  return Number(text);
}

/** `results/bench-YYYYMMDD-HHMMSS` for `now`, in local time. */
export function defaultOutDir(now: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}`;
  const time = `${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}`;
  return join('results', `bench-${day}-${time}`);
}

/**
 * Reads the command line (without `node` and the script). Throws UsageError for an unknown
 * flag, a missing or bad value, or an unknown section id.
 */
export function parseArgs(
  argv: readonly string[],
  known: readonly Section[],
  env: Record<string, string | undefined> = process.env,
  now: Date = new Date(),
): CliOptions {
  let help = false;
  let quick = false;
  let only: string[] | null = null;
  let out: string | null = null;
  let seed: number | null = null;
  let stacks: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const noValue = (): void => {
      if (eq > 0) throw new UsageError(`${flag} takes no value`);
    };
    switch (flag) {
      case '--help':
      case '-h':
        noValue();
        help = true;
        break;
      case '--quick':
        noValue();
        quick = true;
        break;
      case '--only': {
        const ids = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
        if (ids.length === 0) throw new UsageError('--only needs at least one section id');
        only = [...new Set([...(only ?? []), ...ids])];
        break;
      }
      case '--stacks': {
        const labels = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
        if (labels.length === 0) throw new UsageError('--stacks needs at least one stack label');
        for (const label of labels) checkStack(label);
        stacks = [...new Set([...(stacks ?? []), ...labels])];
        break;
      }
      case '--out':
        out = value();
        break;
      case '--seed':
        seed = parseSeed(value(), '--seed');
        break;
      default:
        throw new UsageError(`unknown argument "${arg}" (see --help)`);
    }
  }
  if (only && !help) {
    const knownIds = new Set(known.map((s) => s.id));
    const unknown = only.filter((id) => !knownIds.has(id));
    if (unknown.length > 0) {
      const list = known.length > 0 ? known.map((s) => s.id).join(', ') : '(none registered)';
      throw new UsageError(`unknown section id${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${list}`);
    }
  }
  const envSeed = env['MPTUN_SEED'];
  if (seed === null && envSeed !== undefined && envSeed !== '') seed = parseSeed(envSeed, 'MPTUN_SEED');
  return { help, quick, only, out: out ?? defaultOutDir(now), seed: seed ?? randomInt(0, MAX_SEED + 1), stacks };
}

/** The command that repeats a run: same mode, sections and seed (the folder is new each time). */
export function reproduceCommand(opts: Pick<CliOptions, 'quick' | 'only' | 'seed'> & { stacks?: string[] | null }): string {
  const parts = ['pnpm bench'];
  if (opts.quick) parts.push('--quick');
  if (opts.only) parts.push(`--only ${opts.only.join(',')}`);
  if (opts.stacks) parts.push(`--stacks ${opts.stacks.join(',')}`);
  parts.push(`--seed ${opts.seed}`);
  return parts.join(' ');
}

export interface RunSuiteOptions {
  /** The sections to run, in order. */
  sections: readonly Section[];
  quick: boolean;
  seed: number;
  /** `--stacks`: replaces the stack lists of the sections that compare stacks. */
  stacks?: string[] | null;
  /** The results folder. */
  out: string;
  /** Reproduces the run; goes in the report. */
  command: string;
  /** Terminal output (the default writes to stdout). */
  print?: (text: string) => void;
  /** Polled between sections: once true, no further section starts. */
  interrupted?: () => boolean;
}

export interface SuiteOutcome {
  records: SectionRecord[];
  /** 0 every section ran (skips included), 1 one failed or the report could not be written, 130 interrupted. */
  exitCode: number;
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}

function isSectionResult(value: unknown): value is SectionResult {
  const v = value as Partial<SectionResult> | null;
  return typeof v === 'object' && v !== null && Array.isArray(v.tables) && Array.isArray(v.plots);
}

/** Runs the sections one after another, writing the report after each so a crash keeps what ran. */
export async function runSuite(opts: RunSuiteOptions): Promise<SuiteOutcome> {
  const print = opts.print ?? ((text: string) => void process.stdout.write(text + '\n'));
  const interrupted = opts.interrupted ?? (() => false);
  const machine = machineInfo();
  const meta: RunMeta = { date: new Date().toISOString(), seed: opts.seed, mode: opts.quick ? 'quick' : 'full', machine, command: opts.command };
  print(`mptun bench: ${meta.mode} mode, seed ${opts.seed}`);
  print(`node ${machine.node}, ${machine.cpuCount} × ${machine.cpuModel}, ${machine.platform} ${machine.kernel} (${machine.arch})`);
  print(`results: ${opts.out}`);
  print(`reproduce: ${opts.command}`);

  const records: SectionRecord[] = [];
  let failed = false;
  const save = async (): Promise<void> => {
    try {
      await writeReport(opts.out, meta, records);
    } catch (err) {
      failed = true;
      print(`!! could not write the report to ${opts.out}: ${errorText(err)}`);
    }
  };
  await save(); // the folder and an empty report exist before the first section starts
  for (const section of opts.sections) {
    if (interrupted()) break;
    print(`\n>> ${section.title} [${section.id}]`);
    const log = (line: string): void => print(`   [${section.id}] ${line}`);
    const started = performance.now();
    let record: SectionRecord;
    try {
      const stacks = opts.stacks ?? undefined;
      const result: unknown = await section.run({ quick: opts.quick, seed: opts.seed, log, ...(stacks ? { stacks } : {}) });
      if (!isSectionResult(result)) throw new Error(`section "${section.id}" returned no {tables, plots, data} result`);
      record = { id: section.id, title: section.title, seconds: (performance.now() - started) / 1000, result };
    } catch (err) {
      failed = true;
      record = { id: section.id, title: section.title, seconds: (performance.now() - started) / 1000, result: null, error: errorText(err) };
    }
    records.push(record);
    if (record.error !== undefined) print(`!! ${section.id} failed (seed ${opts.seed})`);
    print('\n' + renderSection(record, opts.seed, assignPlotFiles(records)));
    await save();
  }

  const count = (status: (s: string) => boolean): number => records.filter((r) => status(sectionStatus(r))).length;
  const total = records.reduce((sum, r) => sum + r.seconds, 0);
  print(
    `\n${records.length} of ${opts.sections.length} sections ran in ${total.toFixed(1)} s: ` +
      `${count((s) => s === 'ok')} ok, ${count((s) => s.startsWith('skipped'))} skipped, ${count((s) => s === 'failed')} failed`,
  );
  print(`report: ${join(opts.out, 'report.md')}`);
  if (interrupted()) {
    meta.interrupted = true;
    await save();
    print('interrupted');
    return { records, exitCode: 130 };
  }
  return { records, exitCode: failed ? 1 : 0 };
}

/** Grace period after the first Ctrl-C for the running section's cleanup. */
const INTERRUPT_GRACE_MS = 30_000;

/** The CLI: parse, run, return the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv, registry);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`pnpm bench: ${err.message}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(usage(registry));
    return 0;
  }
  const chosen = opts.only ? registry.filter((s) => opts.only!.includes(s.id)) : registry;

  // First Ctrl-C: let the running section finish its try/finally cleanup, start no other.
  // Second Ctrl-C, or cleanup longer than the grace period: leave now.
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\ninterrupted: waiting for the running section to clean up (Ctrl-C again to quit now)\n');
    setTimeout(() => {
      process.stderr.write('cleanup did not finish in time; exiting\n');
      process.exit(130);
    }, INTERRUPT_GRACE_MS).unref();
  };
  process.on('SIGINT', onSigint);
  try {
    const { exitCode } = await runSuite({
      sections: chosen,
      quick: opts.quick,
      seed: opts.seed,
      stacks: opts.stacks,
      out: opts.out,
      command: reproduceCommand(opts),
      interrupted: () => interrupted,
    });
    return exitCode;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // Exit explicitly: a section that leaked a handle must not keep the runner alive.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`pnpm bench: ${errorText(err)}\n`);
      process.exit(1);
    },
  );
}
