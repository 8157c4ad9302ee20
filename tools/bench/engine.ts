/**
 * Engine figures in the simulator (issue "Sans-IO protocol engine"): goodput of one
 * connection over two emulated paths as a share of their sum, and the CPU the engine costs
 * per simulated bit. Run: `pnpm bench:engine`. Figures only.
 */
import type { PathProfile } from '../src/sim/path-profile.js';
import { runThroughput } from '../src/sim/table-cases.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const seed = Number(process.env.BENCH_SEED ?? 1);

// 50 Mbit/s with a 20 ms RTT and 20 Mbit/s with a 60 ms RTT, a queue of about one BDP each.
const wifi: PathProfile = { label: 'wifi', rateBps: 50e6, rttMs: 20, queueMs: 40 };
const lte: PathProfile = { label: 'lte', rateBps: 20e6, rttMs: 60, queueMs: 60 };

function row(label: string, paths: PathProfile[], cc = 'cubic'): void {
  const t0 = process.cpuUsage();
  const r = runThroughput({ seed, paths, warmupMs: 0, measureMs: SECONDS * 1000, scheduler: 'minrtt', cc });
  const cpu = process.cpuUsage(t0);
  console.log(
    `| ${label} | ${cc} | ${(r.goodputBps / 1e6).toFixed(1)} | ${(100 * r.shareOfSum).toFixed(1)}% | ` +
      `${r.bytesPerPath.map((b) => (b / 1e6).toFixed(0)).join(' / ')} | ${((cpu.user + cpu.system) / 1e6).toFixed(1)} |`,
  );
}

console.log(`\nGoodput, ${SECONDS} s bulk in virtual time, minRTT scheduler, loss on the data direction, seed ${seed}`);
console.log('| paths | cc | goodput Mbit/s | share of capacity | MB per path | CPU s |');
console.log('|---|---|---|---|---|---|');
row('50M/20ms + 20M/60ms, no loss', [wifi, lte]);
row('50M/20ms 0.1% + 20M/60ms 0.5%', [{ ...wifi, loss: 0.001 }, { ...lte, loss: 0.005 }]);
row('50M/20ms 0.1% + 20M/60ms 0.5%', [{ ...wifi, loss: 0.001 }, { ...lte, loss: 0.005 }], 'reno');
row('50M/20ms 0.1% + 20M/60ms 0.5%', [{ ...wifi, loss: 0.001 }, { ...lte, loss: 0.005 }], 'bbr');
row('50M/20ms + 20M/60ms, no loss', [wifi, lte], 'bbr');
row('50M/20ms 0.1% alone', [{ ...wifi, loss: 0.001 }]);
row('20M/60ms 0.5% alone', [{ ...lte, loss: 0.005 }]);
row('40M + 20M, no delay, no loss', [{ label: 'a', rateBps: 40e6, rttMs: 1, queueMs: 20 }, { label: 'b', rateBps: 20e6, rttMs: 1, queueMs: 20 }]);

// CPU cost of the engine: fast, clean links, so the engine (both endpoints) and the
// simulator are all that run. Simulated bits moved per CPU-second.
console.log('\nEngine CPU cost: one connection, two subflows, both endpoints plus the simulator on one core');
console.log('| segment payload | simulated Gbit moved | CPU s | simulated Gbit/s per CPU-second |');
console.log('|---|---|---|---|');
for (const mss of [1200, 16000]) {
  const seconds = mss > 2000 ? 10 : 4;
  const t0 = process.cpuUsage();
  const r = runThroughput({
    seed,
    scheduler: 'minrtt',
    cc: 'cubic',
    warmupMs: 0,
    measureMs: seconds * 1000,
    mss,
    receiveBuffer: 16 * 1024 * 1024,
    sendBuffer: 16 * 1024 * 1024,
    paths: [
      { label: 'a', rateBps: 5e9, rttMs: 2, queueMs: 5 },
      { label: 'b', rateBps: 5e9, rttMs: 4, queueMs: 5 },
    ],
  });
  const cpu = process.cpuUsage(t0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const gbit = (r.goodputBps * seconds) / 1e9;
  console.log(`| ${mss} | ${gbit.toFixed(2)} | ${cpuS.toFixed(2)} | ${(gbit / cpuS).toFixed(2)} |`);
}
