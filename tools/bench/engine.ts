/**
 * Engine figures in the simulator (issue "Sans-IO protocol engine"): goodput of one
 * connection over two emulated paths as a share of their sum, and the CPU the engine costs
 * per simulated bit. Run: `pnpm bench:engine`. Figures only.
 */
import { runBulk } from '../src/sim/bulk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const seed = Number(process.env.BENCH_SEED ?? 1);

// 50 Mbit/s, 20 ms RTT and 20 Mbit/s, 60 ms RTT; a queue of about one BDP each.
const wifi = { rateBps: 50e6, delayMs: 10, queue: { ms: 40 } };
const lte = { rateBps: 20e6, delayMs: 30, queue: { ms: 60 } };

function row(label: string, paths: Parameters<typeof runBulk>[0]['paths'], capacityBps: number, cc = 'cubic'): void {
  const t0 = process.cpuUsage();
  const r = runBulk({ seed, paths, seconds: SECONDS, cc });
  const cpu = process.cpuUsage(t0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `| ${label} | ${cc} | ${(r.goodputBps / 1e6).toFixed(1)} | ${((100 * r.goodputBps) / capacityBps).toFixed(1)}% | ` +
      `${r.bytesPerPath.map((b) => (b / 1e6).toFixed(0)).join(' / ')} | ${cpuS.toFixed(1)} |`,
  );
}

console.log(`\nGoodput, ${SECONDS} s bulk in virtual time, minRTT scheduler, seed ${seed}`);
console.log('| paths | cc | goodput Mbit/s | share of capacity | MB per path | CPU s |');
console.log('|---|---|---|---|---|---|');
row('50M/20ms + 20M/60ms, no loss', [{ forward: wifi }, { forward: lte }], 70e6);
row('50M/20ms 0.1% + 20M/60ms 0.5%', [{ forward: { ...wifi, loss: 0.001 } }, { forward: { ...lte, loss: 0.005 } }], 70e6);
row('50M/20ms 0.1% + 20M/60ms 0.5%', [{ forward: { ...wifi, loss: 0.001 } }, { forward: { ...lte, loss: 0.005 } }], 70e6, 'reno');
row('50M/20ms 0.1% alone', [{ forward: { ...wifi, loss: 0.001 } }], 50e6);
row('20M/60ms 0.5% alone', [{ forward: { ...lte, loss: 0.005 } }], 20e6);
row('40M + 20M, no delay, no loss', [{ forward: { rateBps: 40e6, delayMs: 0.5, queue: { ms: 20 } } }, { forward: { rateBps: 20e6, delayMs: 0.5, queue: { ms: 20 } } }], 60e6);

// CPU cost of the engine: fast, clean links, so the engine (both endpoints) and the
// simulator are all that run. Simulated bits moved per CPU-second.
console.log('\nEngine CPU cost: one connection, two subflows, both endpoints plus the simulator on one core');
console.log('| segment payload | simulated Gbit moved | CPU s | simulated Gbit/s per CPU-second |');
console.log('|---|---|---|---|');
for (const mss of [1200, 16000]) {
  const seconds = mss > 2000 ? 10 : 4;
  const t0 = process.cpuUsage();
  const r = runBulk({
    seed,
    seconds,
    paths: [{ forward: { rateBps: 5e9, delayMs: 1, queue: { ms: 5 } } }, { forward: { rateBps: 5e9, delayMs: 2, queue: { ms: 5 } } }],
    config: { mss, receiveBuffer: 16 * 1024 * 1024, sendBuffer: 16 * 1024 * 1024 },
  });
  const cpu = process.cpuUsage(t0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const gbit = (r.bytesRead * 8) / 1e9;
  console.log(`| ${mss} | ${gbit.toFixed(2)} | ${cpuS.toFixed(2)} | ${(gbit / cpuS).toFixed(2)} |`);
}
