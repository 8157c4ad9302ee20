/**
 * `node --conditions=source --import tsx tools/bench/profile/cpu-profile.ts [udp|ws] [download|upload] [seconds] [paths]`
 *
 * One bulk transfer through the real apps on loopback (section 5's setup), with the client
 * and server processes under `--cpu-prof`: each writes its V8 CPU profile to DIR
 * (MPTUN_PROFILE_DIR, default ./cpu-profiles) when it exits, named by its pid; this prints
 * which pid is which. `profile-summary.ts FILE` then lists where the time went.
 */
import { resolve } from 'node:path';
import { connectTcp, directPaths, startRig } from '../rig/index.js';
import { measureBulk, type Direction } from '../suite/cpu.js';

const transport = (process.argv[2] ?? 'udp') as 'udp' | 'ws';
const direction = (process.argv[3] ?? 'download') as Direction;
const seconds = Number(process.argv[4] ?? 5);
const paths = Number(process.argv[5] ?? 1);

const dir = resolve(process.env.MPTUN_PROFILE_DIR ?? 'cpu-profiles');
const execArgv = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
const rig = await startRig({
  transport,
  paths: directPaths(['127.0.0.2', '127.0.0.3'].slice(0, paths)),
  emulate: false,
  clientExecArgv: execArgv,
  serverExecArgv: execArgv,
});
try {
  console.log(`pids: client ${rig.pids.client}, server ${rig.pids.server}, this ${process.pid}`);
  const size = { variants: [], directions: [direction], seconds, warmupSeconds: 1, emulatorCheck: false };
  const r = await measureBulk(`${transport} ${direction}`, direction, await connectTcp(rig.forward), () => rig.sink.received, rig.clientSample, () => rig.serverSample(), size);
  const f = (x: number | null): string => (x === null ? '—' : x.toFixed(1));
  console.log(
    `${r.what}: ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s, client ${f(r.clientSecondsPerGB)} s/GB (${f(r.clientBusyPercent)}% busy), server ${f(r.serverSecondsPerGB)} s/GB (${f(r.serverBusyPercent)}% busy)`,
  );
} finally {
  await rig.close();
}
console.log(`profiles in ${dir}`);
