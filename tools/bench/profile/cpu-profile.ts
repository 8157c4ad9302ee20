/**
 * `node --conditions=source --import tsx tools/bench/profile/cpu-profile.ts [udp|ws] [download|upload] [seconds] [paths]`
 *
 * One bulk transfer through the real apps on loopback (section 5's setup): goodput and CPU
 * per GB of each side. With MPTUN_PROFILE_DIR set, the client and server processes run under
 * `--cpu-prof` and each writes its V8 CPU profile there when it exits, named by its pid;
 * this prints which pid is which. `profile-summary.ts FILE` then lists where the time went.
 */
import { resolve } from 'node:path';
import { connectTcp, directPaths, startRig, type ClientSample, type ProcessSample } from '../rig/index.js';
import { measureBulk, type Direction } from '../suite/cpu.js';

const transport = (process.argv[2] ?? 'udp') as 'udp' | 'ws';
const direction = (process.argv[3] ?? 'download') as Direction;
const seconds = Number(process.argv[4] ?? 5);
const paths = Number(process.argv[5] ?? 1);

const dir = process.env.MPTUN_PROFILE_DIR ? resolve(process.env.MPTUN_PROFILE_DIR) : null;
const execArgv = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
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
  // The samplers keep what they took: the last two bracket the measured window.
  const taken = { client: [] as ClientSample[], server: [] as ProcessSample[] };
  const keep = <T extends ProcessSample>(list: T[], s: T): T => (list.push(s), s);
  const r = await measureBulk(
    `${transport} ${direction}`,
    direction,
    await connectTcp(rig.forward),
    () => rig.sink.received,
    async () => keep(taken.client, await rig.clientSample()),
    async () => keep(taken.server, await rig.serverSample()),
    size,
  );
  const split = (list: ProcessSample[]): string => {
    const [a, b] = list.slice(-2) as [ProcessSample, ProcessSample];
    const user = b.userUs - a.userUs;
    const system = b.systemUs - a.systemUs;
    return `user ${((100 * user) / (user + system)).toFixed(0)}% / system ${((100 * system) / (user + system)).toFixed(0)}%`;
  };
  const f = (x: number | null): string => (x === null ? '—' : x.toFixed(1));
  console.log(
    `${r.what}: ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s, client ${f(r.clientSecondsPerGB)} s/GB (${f(r.clientBusyPercent)}% busy), server ${f(r.serverSecondsPerGB)} s/GB (${f(r.serverBusyPercent)}% busy)`,
  );
  console.log(`CPU split: client ${split(taken.client)}, server ${split(taken.server)}`);
  // The client's subflows as it saw them at the window's end, while the transfer still ran
  // (its sending side: an upload's congestion window, RTT, and what it lost and resent).
  for (const c of taken.client.at(-1)?.connections ?? []) console.log(JSON.stringify(c));
} finally {
  await rig.close();
}
if (dir) console.log(`profiles in ${dir}`);
