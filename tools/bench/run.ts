/**
 * Micro-bench runner: `pnpm bench:micro [filter]`. Runs every bench of every module listed below whose
 * "module/bench" name contains the filter (all when there is none) and prints rates.
 * Figures only: nothing here asserts on speed.
 */

/** One measured operation. */
export interface Bench {
  name: string;
  /**
   * Performs the operation `iterations` times and returns a number derived from the
   * results, so the optimizer cannot drop the work.
   */
  run(iterations: number): number;
  /** Operations per timed sample; the runner picks a default when omitted. */
  iterations?: number;
  /** What one operation is, for the printed table (e.g. "pair" for encode+decode). */
  unit?: string;
}

/** A module of benches. Loading it must be cheap; setup belongs in `benches()`. */
export interface BenchModule {
  benches(): Bench[];
}

// Adding a bench module is one line here.
const modules: Record<string, () => Promise<BenchModule>> = {
  wire: () => import('./wire.js'),
  'transport-udp': () => import('./transport-udp.js'),
  'transport-ws': () => import('./transport-ws.js'),
};

const DEFAULT_ITERATIONS = 1_000_000;
const SAMPLES = 5;

interface Figure {
  name: string;
  unit: string;
  median: number; // ops/s
  min: number;
  max: number;
}

/** Warms up, then times SAMPLES runs of `iterations` operations each. */
function measure(qualified: string, bench: Bench): Figure {
  const iterations = bench.iterations ?? DEFAULT_ITERATIONS;
  let sink = 0;
  // Warm-up: long enough for the optimizing compiler to settle on the hot path.
  sink += bench.run(Math.max(1, iterations >>> 1));
  sink += bench.run(Math.max(1, iterations >>> 1));
  const rates: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = process.hrtime.bigint();
    sink += bench.run(iterations);
    const elapsedNs = Number(process.hrtime.bigint() - start);
    rates.push((iterations * 1e9) / Math.max(1, elapsedNs));
  }
  if (Number.isNaN(sink)) console.log('(sink is NaN)'); // keeps `sink` observable
  rates.sort((a, b) => a - b);
  return {
    name: qualified,
    unit: bench.unit ?? 'op',
    median: rates[rates.length >>> 1]!,
    min: rates[0]!,
    max: rates[rates.length - 1]!,
  };
}

function formatRate(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${(opsPerSecond / 1e6).toFixed(2)} M`;
  if (opsPerSecond >= 1e3) return `${(opsPerSecond / 1e3).toFixed(1)} k`;
  return opsPerSecond.toFixed(0);
}

function printFigure(f: Figure): void {
  const ns = (1e9 / f.median).toFixed(0);
  console.log(
    `${f.name.padEnd(40)} ${formatRate(f.median).padStart(9)} ${f.unit}/s  ` +
      `${ns.padStart(6)} ns/${f.unit}  (range ${formatRate(f.min)}–${formatRate(f.max)})`,
  );
}

async function main(filter: string | undefined): Promise<void> {
  console.log(`node ${process.version}, ${SAMPLES} samples per bench, median shown${filter ? `, filter "${filter}"` : ''}`);
  let ran = 0;
  for (const [moduleName, load] of Object.entries(modules)) {
    const mod = await load();
    for (const bench of mod.benches()) {
      const qualified = `${moduleName}/${bench.name}`;
      if (filter !== undefined && !qualified.includes(filter)) continue;
      printFigure(measure(qualified, bench));
      ran++;
    }
  }
  if (ran === 0) {
    console.log(`no bench matches "${filter ?? ''}"; modules: ${Object.keys(modules).join(', ')}`);
    process.exitCode = 1;
  }
}

await main(process.argv[2]);
