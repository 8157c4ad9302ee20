/**
 * `node --conditions=source --import tsx [--cpu-prof] tools/bench/profile/engine-profile.ts [mss] [virtual ms] [seed] [runs]`
 *
 * The engine alone, both endpoints in the simulator (section `engine`'s CPU-cost row: one
 * connection, two clean 5 Gbit/s subflows): CPU seconds per simulated GB, with no sockets,
 * crypto or event loop in the way. Deterministic for a seed, so before/after figures of an
 * engine change compare the same work. With several runs, the least CPU of them is the
 * figure to compare on a loaded machine (other work only ever adds).
 */
import { runThroughput } from '../../src/sim/table-cases.js';
import { costSpec } from '../suite/engine-sim.js';

const mss = Number(process.argv[2] ?? 1200);
const measureMs = Number(process.argv[3] ?? 250);
const seed = Number(process.argv[4] ?? 1);
console.log(`seed ${seed}`);
const runs = Number(process.argv[5] ?? 1);
const perGB: number[] = [];
for (let run = 0; run < runs; run++) {
  const t0 = process.cpuUsage();
  const r = runThroughput(costSpec(seed, mss, measureMs));
  const c = process.cpuUsage(t0);
  const cpu = (c.user + c.system) / 1e6;
  const gb = (r.goodputBps * measureMs) / 1000 / 8 / 1e9;
  perGB.push(cpu / gb);
  console.log(`mss ${mss}: ${(gb * 1000).toFixed(0)} MB in ${measureMs} virtual ms, ${cpu.toFixed(2)} CPU s, ${(cpu / gb).toFixed(1)} CPU s per GB (both endpoints and the simulator)`);
}
if (runs > 1) console.log(`least of ${runs} runs: ${Math.min(...perGB).toFixed(1)} CPU s per GB`);
