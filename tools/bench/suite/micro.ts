/**
 * Section "micro": micro-benchmarks of the wire codec and the transports, each operation
 * timed in a loop on this machine (`pnpm bench --only micro`). Figures only: nothing here
 * asserts on speed. `--quick` takes 3 samples per bench instead of 5.
 */
import type { Bench, BenchModule } from './micro/bench.js';
import type { Section, SuiteOptions, Table } from './types.js';

// Adding a bench module is one line here. Loaded only when the section runs.
const modules: Record<string, () => Promise<BenchModule>> = {
  wire: () => import('./micro/wire.js'),
  'transport-udp': () => import('./micro/transport-udp.js'),
  'transport-ws': () => import('./micro/transport-ws.js'),
};

const DEFAULT_ITERATIONS = 1_000_000;

export interface MicroFigure {
  module: string;
  name: string;
  unit: string;
  /** Operations per second: median, lowest and highest sample. */
  median: number;
  min: number;
  max: number;
}

/** Warms up, then times `samples` runs of `iterations` operations each. */
export function measure(module: string, bench: Bench, samples: number): MicroFigure {
  const iterations = bench.iterations ?? DEFAULT_ITERATIONS;
  let sink = 0;
  // Warm-up: long enough for the optimizing compiler to settle on the hot path.
  sink += bench.run(Math.max(1, iterations >>> 1));
  sink += bench.run(Math.max(1, iterations >>> 1));
  const rates: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint();
    sink += bench.run(iterations);
    const elapsedNs = Number(process.hrtime.bigint() - start);
    rates.push((iterations * 1e9) / Math.max(1, elapsedNs));
  }
  if (Number.isNaN(sink)) throw new Error(`${module}/${bench.name}: the bench returned NaN`); // keeps `sink` observable
  rates.sort((a, b) => a - b);
  return { module, name: bench.name, unit: bench.unit ?? 'op', median: rates[rates.length >>> 1]!, min: rates[0]!, max: rates[rates.length - 1]! };
}

export function formatRate(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${(opsPerSecond / 1e6).toFixed(2)} M`;
  if (opsPerSecond >= 1e3) return `${(opsPerSecond / 1e3).toFixed(1)} k`;
  return opsPerSecond.toFixed(0);
}

async function run(opts: SuiteOptions): Promise<{ tables: Table[]; plots: []; data: MicroFigure[] }> {
  const samples = opts.quick ? 3 : 5;
  const figures: MicroFigure[] = [];
  const tables: Table[] = [];
  for (const [module, load] of Object.entries(modules)) {
    const mod = await load();
    const rows: Array<Array<string | number>> = [];
    for (const bench of mod.benches()) {
      const f = measure(module, bench, samples);
      figures.push(f);
      opts.log(`micro: ${module}/${f.name} ${formatRate(f.median)} ${f.unit}/s`);
      rows.push([f.name, `${formatRate(f.median)} ${f.unit}/s`, `${(1e9 / f.median).toFixed(0)} ns/${f.unit}`, `${formatRate(f.min)}–${formatRate(f.max)}`]);
    }
    tables.push({ title: `Micro-benchmarks: ${module}`, columns: ['bench', 'median rate', 'time per op', 'range'], rows, notes: [`Node ${process.version}, ${samples} samples per bench after a warm-up, one core.`] });
  }
  return { tables, plots: [], data: figures };
}

export const section: Section = {
  id: 'micro',
  title: '10. Micro-benchmarks: wire codec and transports',
  run,
};
