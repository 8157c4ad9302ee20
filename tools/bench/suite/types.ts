/**
 * The benchmark suite's contract (`pnpm bench`): each section measures one thing (through
 * the real apps, or for engine, schedulers and micro, the engine or a codec alone) and returns
 * tables, plots and raw data; the runner writes them out as
 * markdown, JSON and SVG. Sections never assert on speed: they report.
 */

export interface SuiteOptions {
  /** `--quick`: short runs and fewer variants, so the whole suite takes a few minutes. */
  quick: boolean;
  /** Seed of every emulated link's random choices in this run (printed by the runner). */
  seed: number;
  /** `--stacks`: the stack labels to compare, replacing a section's own list (where it has one). */
  stacks?: string[];
  /** Progress lines for the terminal (not part of the report). */
  log(line: string): void;
}

/** A markdown table. Cells are already formatted, except numbers, printed as given. */
export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Lines printed under the table: what the reference is, caveats. */
  notes?: string[];
}

/** y over x, one line per series (e.g. per-path throughput over time). */
export interface LinePlot {
  kind: 'line';
  series: Array<{ name: string; points: Array<[number, number]> }>;
  /** Vertical marker lines, e.g. "wifi cut" at x = 10. */
  markers?: Array<{ x: number; label: string }>;
}

/** Grouped bars: one group per category, one bar per series (e.g. per scheduler, download/upload). */
export interface BarPlot {
  kind: 'bar';
  categories: string[];
  series: Array<{ name: string; values: number[] }>;
  /** Horizontal reference lines, e.g. "sum of capacities". */
  references?: Array<{ y: number; label: string }>;
}

/** Empirical CDFs of samples, one curve per series (e.g. latency per scheduler). */
export interface CdfPlot {
  kind: 'cdf';
  series: Array<{ name: string; samples: number[] }>;
}

export type Plot = (LinePlot | BarPlot | CdfPlot) & {
  /** File name without extension, unique in the run, e.g. "handover-paths". */
  file: string;
  title: string;
  xLabel: string;
  yLabel: string;
};

export interface SectionResult {
  tables: Table[];
  plots: Plot[];
  /** Everything measured, for the JSON file (numbers in base units: bit/s, ms, bytes). */
  data: unknown;
  /** Set when the section could not run here (e.g. not root); the reason is reported. */
  skipped?: string;
}

export interface Section {
  /** Short id used by `--only`, e.g. "aggregation". */
  id: string;
  /** Heading in the report, e.g. "1. Aggregation". */
  title: string;
  run(opts: SuiteOptions): Promise<SectionResult>;
}
