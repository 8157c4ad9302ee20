/**
 * Writes a suite run to its results folder: `report.md` (for people), `results.json` (the same
 * facts for programs) and one SVG per plot. Also renders tables as markdown for the terminal.
 */
import { cpus, release, totalmem } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderSvg } from './svg.js';
import type { Plot, SectionResult, Table } from './types.js';

/** The machine a run measured, printed at the start and kept in the report. */
export interface MachineInfo {
  node: string;
  cpuModel: string;
  cpuCount: number;
  /** `os.release()`, e.g. "6.8.0-45-generic". */
  kernel: string;
  platform: string;
  arch: string;
  memoryBytes: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    node: process.version,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpuCount: list.length,
    kernel: release(),
    platform: process.platform,
    arch: process.arch,
    memoryBytes: totalmem(),
  };
}

export interface RunMeta {
  /** ISO 8601 time the run started. */
  date: string;
  seed: number;
  mode: 'quick' | 'full';
  machine: MachineInfo;
  /** The command that reproduces the run, e.g. "pnpm bench --quick --seed 7". */
  command: string;
  /** Set when Ctrl-C stopped the run before every chosen section ran. */
  interrupted?: boolean;
}

/** One section's outcome: its result, or the error it threw (then `result` is null). */
export interface SectionRecord {
  id: string;
  title: string;
  /** Wall time of `run`, in seconds. */
  seconds: number;
  result: SectionResult | null;
  error?: string;
}

export interface ReportFiles {
  report: string;
  json: string;
  svgs: string[];
}

/** A number for a table cell: integers as they are, others to about three significant digits. */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'n/a';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Object.is(n, -0)) return '0';
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 100) return String(Math.round(n));
  return String(Number(n.toPrecision(3)));
}

function cell(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return formatNumber(value);
  // A pipe would end the cell and a newline the row.
  return value.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The table as GitHub markdown: bold title, header, rows (numeric columns right-aligned), notes. */
export function renderTable(table: Table): string {
  const width = Math.max(table.columns.length, ...table.rows.map((r) => r.length));
  const numeric = Array.from({ length: width }, (_, c) =>
    table.rows.length > 0 && table.rows.every((r) => r[c] === undefined || typeof r[c] === 'number'),
  );
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const out = [`**${cell(table.title)}**`, ''];
  out.push(line(Array.from({ length: width }, (_, c) => cell(table.columns[c]))));
  out.push(`|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`);
  for (const row of table.rows) out.push(line(Array.from({ length: width }, (_, c) => cell(row[c]))));
  if (table.notes && table.notes.length > 0) {
    out.push('');
    for (const note of table.notes) out.push(`- ${note.replace(/\r?\n/g, ' ')}`);
  }
  return out.join('\n');
}

/** A plot file name that stays inside the results folder and is unique among `taken`. */
function plotFileName(plot: Plot, taken: Set<string>): string {
  const base = plot.file.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '') || 'plot';
  let name = `${base}.svg`;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}.svg`;
  taken.add(name);
  return name;
}

/** Assigns every plot of the run its SVG file name, in report order. */
export function assignPlotFiles(records: SectionRecord[]): Map<Plot, string> {
  const taken = new Set<string>();
  const files = new Map<Plot, string>();
  for (const r of records) for (const p of r.result?.plots ?? []) files.set(p, plotFileName(p, taken));
  return files;
}

/** One line saying how a section ended: ok, skipped (why) or failed (error). */
export function sectionStatus(record: SectionRecord): string {
  if (record.error !== undefined) return 'failed';
  if (record.result?.skipped !== undefined) return `skipped: ${record.result.skipped}`;
  return 'ok';
}

/**
 * The section as markdown: heading, status when not ok, tables, plots (when file names are
 * given), wall time. Used for report.md and for the terminal as each section ends.
 */
export function renderSection(record: SectionRecord, seed: number, plotFiles?: Map<Plot, string>): string {
  const out = [`## ${cell(record.title)}`, ''];
  if (record.error !== undefined) {
    out.push(`**Failed** (seed ${seed}):`, '', '```', record.error, '```', '');
  } else if (record.result?.skipped !== undefined) {
    out.push(`_Skipped: ${cell(record.result.skipped)}_`, '');
  }
  for (const table of record.result?.tables ?? []) out.push(renderTable(table), '');
  for (const plot of record.result?.plots ?? []) {
    const file = plotFiles?.get(plot);
    if (file) out.push(`![${cell(plot.title).replace(/[[\]]/g, '')}](${file})`, '');
  }
  out.push(`Wall time: ${record.seconds.toFixed(1)} s`);
  return out.join('\n');
}

function describeMachine(m: MachineInfo): string {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  return `Node ${m.node}, ${m.cpuCount} × ${m.cpuModel}, ${m.platform} ${m.kernel} (${m.arch}), ${gib} GiB RAM`;
}

export function renderReport(meta: RunMeta, records: SectionRecord[], plotFiles = assignPlotFiles(records)): string {
  const out = [
    '# mptun benchmark report',
    '',
    `- Date: ${meta.date}`,
    `- Seed: ${meta.seed}`,
    `- Mode: ${meta.mode}`,
    `- Machine: ${describeMachine(meta.machine)}`,
    `- Reproduce: \`${meta.command}\``,
    ...(meta.interrupted ? ['- Interrupted: the run stopped early; sections not listed here did not run'] : []),
    '',
    renderTable({
      title: 'Sections',
      columns: ['Section', 'Status', 'Wall time (s)'],
      rows: records.map((r) => [r.title, sectionStatus(r), Number(r.seconds.toFixed(1))]),
    }),
  ];
  for (const r of records) out.push('', renderSection(r, meta.seed, plotFiles));
  out.push('');
  return out.join('\n');
}

/** The JSON document: {meta, sections: [{id, title, seconds, skipped?, error?, data, tables, plots}]}. */
export function renderJson(meta: RunMeta, records: SectionRecord[], plotFiles = assignPlotFiles(records)): string {
  const sections = records.map((r) => ({
    id: r.id,
    title: r.title,
    seconds: r.seconds,
    ...(r.result?.skipped !== undefined ? { skipped: r.result.skipped } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    data: r.result?.data ?? null,
    tables: r.result?.tables ?? [],
    plots: (r.result?.plots ?? []).map((p) => ({ file: plotFiles.get(p), title: p.title, kind: p.kind })),
  }));
  // bigint has no JSON form; a string keeps its digits.
  return JSON.stringify({ meta, sections }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

/** Writes report.md, results.json and the SVGs into `dir` (created when missing). */
export async function writeReport(dir: string, meta: RunMeta, records: SectionRecord[]): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const plotFiles = assignPlotFiles(records);
  const svgs: string[] = [];
  for (const [plot, file] of plotFiles) {
    const path = join(dir, file);
    await writeFile(path, renderSvg(plot));
    svgs.push(path);
  }
  const report = join(dir, 'report.md');
  const json = join(dir, 'results.json');
  await writeFile(report, renderReport(meta, records, plotFiles));
  await writeFile(json, renderJson(meta, records, plotFiles));
  return { report, json, svgs };
}
