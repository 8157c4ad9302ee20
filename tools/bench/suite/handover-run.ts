/**
 * One handover run on a running rig: a bulk download through the tunnel while one path is
 * cut and later restored, with the delivered bytes read every 50 ms and every path's
 * delivered bytes (server → client) every 100 ms.
 */
import type { PathPatch } from '@mptun/linkem';
import { connectTcp, SinkCommand, type Rig } from '../rig/index.js';
import type { HandoverTimes } from './handover-metrics.js';

/** How the path is cut: taken down, or left up but losing every packet both ways. */
export type CutMode = 'down' | 'loss';

export interface HandoverSchedule {
  cutMs: number;
  restoreMs: number;
  endMs: number;
}

export interface HandoverRecording {
  /** Bytes the application received, read every 50 ms. */
  delivered: Array<[number, number]>;
  /** Per emulated path, bytes delivered toward the client (from the first reading on), every 100 ms. */
  paths: Record<string, Array<[number, number]>>;
  /** When the cut and the restore took effect and when the run ended (ms since it began). */
  times: HandoverTimes;
  /** When the tunnel connection closed before the end, if it did (ms). */
  closedAtMs: number | null;
  /** The client's subflows of the connection just before the end: [local address, state]. */
  subflowsAtEnd: Array<[string, string]>;
}

export const DELIVERED_INTERVAL_MS = 50;
export const PATH_INTERVAL_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Cuts `path` at `cutMs`, restores it at `restoreMs`, stops at `endMs`. `restoreLoss` is the
 * path's own loss setting, put back after a 'loss' cut.
 */
export async function recordHandover(rig: Rig, path: string, mode: CutMode, schedule: HandoverSchedule, restoreLoss: PathPatch['loss']): Promise<HandoverRecording> {
  const socket = await connectTcp(rig.forward);
  let got = 0;
  let closedAtMs: number | null = null;
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  socket.on('data', (d: Buffer) => (got += d.length));
  socket.on('error', () => {});
  socket.once('close', () => (closedAtMs ??= now()));
  socket.write(Buffer.from([SinkCommand.stream]));

  const delivered: Array<[number, number]> = [[0, 0]];
  const paths: Record<string, Array<[number, number]>> = {};
  const base = new Map<string, number>();
  let polling: Promise<void> | null = null;
  let pollError: unknown = null;
  // The emulator answers over IPC: its counters were read between asking and answering.
  const pollPaths = (): void => {
    if (polling !== null) return;
    const asked = now();
    polling = rig.emulator
      .stats()
      .then((stats) => {
        const at = (asked + now()) / 2;
        for (const p of stats) {
          const b0 = base.get(p.name) ?? p.down.bytesDelivered;
          base.set(p.name, b0);
          (paths[p.name] ??= []).push([at, p.down.bytesDelivered - b0]);
        }
      })
      .catch((e: unknown) => void (pollError ??= e))
      .finally(() => (polling = null));
  };
  const readDelivered = (): void => void delivered.push([now(), got]);
  const deliveredTimer = setInterval(readDelivered, DELIVERED_INTERVAL_MS);
  const pathTimer = setInterval(pollPaths, PATH_INTERVAL_MS);
  pollPaths();

  const cut = (): Promise<void> => (mode === 'down' ? rig.emulator.down(path) : rig.emulator.setOptions(path, { loss: 1 }));
  const restore = (): Promise<void> => (mode === 'down' ? rig.emulator.up(path) : rig.emulator.setOptions(path, { loss: restoreLoss ?? 0 }));
  /** Runs a control step; it took effect between asking and the answer. */
  const timed = async (step: () => Promise<void>): Promise<number> => {
    const asked = now();
    await step();
    return (asked + now()) / 2;
  };

  let restored = false;
  try {
    await sleep(schedule.cutMs - now());
    const cutMs = await timed(cut);
    await sleep(schedule.restoreMs - now());
    const restoreMs = await timed(restore);
    restored = true;
    await sleep(schedule.endMs - now() - PATH_INTERVAL_MS);
    const subflowsAtEnd = await subflowsOf(rig);
    await sleep(schedule.endMs - now());
    readDelivered();
    const endMs = now();
    clearInterval(deliveredTimer);
    clearInterval(pathTimer);
    if (polling !== null) await polling;
    pollPaths();
    if (polling !== null) await polling;
    if (pollError !== null) throw pollError;
    return { delivered, paths, times: { cutMs, restoreMs, endMs }, closedAtMs, subflowsAtEnd };
  } finally {
    clearInterval(deliveredTimer);
    clearInterval(pathTimer);
    socket.destroy();
    if (polling !== null) await polling;
    // A failed run must not leave the path cut for whatever runs next on this rig.
    if (!restored) await restore().catch(() => {});
  }
}

/** The subflows of the rig client's one open connection (the bulk download's). */
async function subflowsOf(rig: Rig): Promise<Array<[string, string]>> {
  const sample = await rig.clientSample();
  return sample.connections.flatMap((c) => c.subflows.map((s): [string, string] => [s.localAddress, s.state]));
}
