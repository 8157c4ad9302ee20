/**
 * The scale section's load generator, in its own process so its thousands of sockets count
 * against its own file-descriptor limit, not the measuring process's (which holds the sink's
 * end of every connection):
 *   - hold: open N connections to a target (the client's port forward, or a plain relay),
 *     each proven end to end by one byte echoed by the sink ('E'), then leave them idle;
 *   - churn: for a fixed time, open a connection, echo one byte, close it, with a bounded
 *     number in flight.
 *
 * Parent side: `startLoadGenerator()`. Child side: this module, forked by RigChild.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { RigChild, serveParent } from '../rig/ipc.js';
import { SinkCommand } from '../rig/sink.js';
import type { HostPort } from '../rig/traffic.js';

export interface HoldResult {
  /** Connections open and echoed. */
  opened: number;
  failed: number;
  /** First few failure messages, for the log. */
  errors: string[];
  ms: number;
  /** [connections opened, ms since the start] each time another tenth of them was open. */
  progress: Array<[number, number]>;
}

export interface ChurnResult {
  /** Connections that opened, echoed their byte and closed. */
  completed: number;
  failed: number;
  errors: string[];
  seconds: number;
  /** Median time from connect() to the echoed byte, ms. */
  medianMs: number;
}

export interface LoadGenerator {
  readonly pid: number;
  hold(target: HostPort, count: number, concurrency: number): Promise<HoldResult>;
  /** How many held connections are still open (a dropped one is not reopened). */
  held(): Promise<number>;
  closeAll(): Promise<number>;
  churn(target: HostPort, seconds: number, concurrency: number): Promise<ChurnResult>;
  close(): Promise<void>;
}

/** A hold of many connections may take long on a loaded machine. */
const HOLD_TIMEOUT_MS = 240_000;
const STEP_TIMEOUT_MS = 15_000;
const MAX_ERRORS = 5;

export async function startLoadGenerator(): Promise<LoadGenerator> {
  const child = await RigChild.start('load generator', fileURLToPath(import.meta.url), null);
  return {
    pid: child.pid,
    hold: (target, count, concurrency) => child.request<HoldResult>('hold', { target, count, concurrency }, HOLD_TIMEOUT_MS),
    held: () => child.request<number>('held'),
    closeAll: () => child.request<number>('closeAll'),
    churn: (target, seconds, concurrency) => child.request<ChurnResult>('churn', { target, seconds, concurrency }, seconds * 1000 + 2 * STEP_TIMEOUT_MS),
    close: () => child.stop(),
  };
}

/**
 * Connects to `target`, sends 'E' and one byte, and resolves once that byte is back, with
 * the socket still open. Rejects after STEP_TIMEOUT_MS.
 */
export function openEchoed(target: HostPort): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: target.host, port: target.port, noDelay: true });
    const timer = setTimeout(() => fail(new Error('no echo within the step timeout')), STEP_TIMEOUT_MS);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    s.once('error', fail);
    s.once('close', () => fail(new Error('closed before the echo')));
    s.once('connect', () => s.write(Buffer.from([SinkCommand.echo, 0x2a])));
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      s.removeAllListeners('error').removeAllListeners('close');
      if (d[0] !== 0x2a) return fail(new Error(`echo returned 0x${d[0]?.toString(16)}, not 0x2a`));
      resolve(s);
    });
  });
}

/** Runs `task` `count` times (or until `until()` says stop), at most `concurrency` at once. */
async function bounded(count: number, concurrency: number, until: () => boolean, task: () => Promise<void>): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count && !until()) {
      started++;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

/** Runs in the child. */
function serveLoad(): void {
  const heldSockets = new Set<net.Socket>();
  const note = (errors: string[], e: unknown): void => {
    if (errors.length < MAX_ERRORS) errors.push((e as Error).message);
  };
  serveParent(
    {},
    {
      hold: async (a) => {
        const { target, count, concurrency } = a as { target: HostPort; count: number; concurrency: number };
        const t0 = performance.now();
        const result: HoldResult = { opened: 0, failed: 0, errors: [], ms: 0, progress: [] };
        const step = Math.max(1, Math.ceil(count / 10));
        await bounded(count, concurrency, () => false, async () => {
          try {
            const s = await openEchoed(target);
            heldSockets.add(s);
            s.on('error', () => {});
            s.once('close', () => heldSockets.delete(s));
            result.opened++;
            if (result.opened % step === 0) result.progress.push([result.opened, performance.now() - t0]);
          } catch (e) {
            result.failed++;
            note(result.errors, e);
          }
        });
        result.ms = performance.now() - t0;
        return result;
      },
      held: () => heldSockets.size,
      closeAll: () => {
        const n = heldSockets.size;
        for (const s of heldSockets) s.destroy();
        heldSockets.clear();
        return n;
      },
      churn: async (a) => {
        const { target, seconds, concurrency } = a as { target: HostPort; seconds: number; concurrency: number };
        const t0 = performance.now();
        const deadline = t0 + seconds * 1000;
        const times: number[] = [];
        const result: ChurnResult = { completed: 0, failed: 0, errors: [], seconds: 0, medianMs: NaN };
        await bounded(Number.MAX_SAFE_INTEGER, concurrency, () => performance.now() >= deadline, async () => {
          const start = performance.now();
          try {
            const s = await openEchoed(target);
            times.push(performance.now() - start);
            s.destroy();
            result.completed++;
          } catch (e) {
            result.failed++;
            note(result.errors, e);
          }
        });
        result.seconds = (performance.now() - t0) / 1000;
        times.sort((x, y) => x - y);
        if (times.length > 0) result.medianMs = times[Math.floor(times.length / 2)]!;
        return result;
      },
    },
    async () => {
      for (const s of heldSockets) s.destroy();
    },
  );
}

// Only the forked child serves; the parent just imports the API.
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  serveLoad();
}
