/**
 * Soak: many concurrent hash-checked transfers through the real apps (port forward and
 * SOCKS5, downloads and uploads of random size), new ones starting as old ones finish,
 * while a seeded chaos loop flaps the three paths and changes their rate, delay and loss.
 * Every transfer must deliver exactly its bytes; the server's live memory after the run
 * (connections gone, gc) must be back near where it started. Start, peak and end are printed.
 */
import type net from 'node:net';
import { SeededRandom } from '@mptun/core';
import { connectSocks, connectTcp, startRig, type Rig, type RigPath } from '../bench/rig/index.js';
import type { TortureCheck, TortureOptions, TortureResult } from './types.js';
import { Chaos } from './soak-chaos.js';
import { describeMemory, formatMiB, MemoryWatch, MiB } from './soak-memory.js';
import { downloadExact, uploadExact, type TransferKind, type TransferProgress } from './soak-transfer.js';

export interface SoakSize {
  /** How long new transfers keep starting, s. */
  seconds: number;
  /** Transfers in flight at once. */
  concurrency: number;
  /** Transfer sizes, log-uniform between these, bytes. */
  minBytes: number;
  maxBytes: number;
  /** After the chaos stops, how long the transfers still in flight may take, s. */
  drainSeconds: number;
  /** Allowed growth of the server's live memory from start to end, bytes. */
  memorySlackBytes: number;
}

export const soakSizes: { ci: SoakSize; long: SoakSize } = {
  ci: { seconds: 30, concurrency: 24, minBytes: 1024, maxBytes: 4 * MiB, drainSeconds: 20, memorySlackBytes: 32 * MiB },
  long: { seconds: 540, concurrency: 200, minBytes: 1024, maxBytes: 64 * MiB, drainSeconds: 180, memorySlackBytes: 32 * MiB },
};

/** The three paths: two of the shared profiles and a slower, steadier third. */
export const soakPaths: RigPath[] = [
  { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi' } },
  { name: 'lte', local: '127.0.0.3', link: { profile: 'lte' } },
  { name: 'dsl', local: '127.0.0.4', link: { rate: '16mbit', delay: '15ms', jitter: '1ms', loss: '0.01%', queue: '100ms' } },
];

type Via = 'forward' | 'socks';

interface Transfer {
  id: number;
  kind: TransferKind;
  via: Via;
  bytes: number;
  startedAt: number;
  progress: TransferProgress;
}

const UPLOAD_BLOCK_BYTES = 1 * MiB;
const PROGRESS_EVERY_MS = 5_000;
const CLOSE_WAIT_MS = 5_000;
/** Longest wait for the server's memory to come back down once the last connection closed. */
const MEMORY_SETTLE_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describe(t: Transfer, t0: number): string {
  return `transfer #${t.id} (${t.kind} of ${t.bytes} bytes via ${t.via}, started at ${((t.startedAt - t0) / 1000).toFixed(1)} s, ${t.progress.bytes} bytes moved)`;
}

export async function runSoak(opts: TortureOptions, size: SoakSize): Promise<TortureResult> {
  const { seed, log } = opts;
  const rng = new SeededRandom(seed);
  const chaosRng = rng.fork();
  const pick = rng.fork();
  const block = new Uint8Array(UPLOAD_BLOCK_BYTES);
  rng.fork().fill(block);
  log(`soak: seed ${seed}, ${size.concurrency} at a time for ${size.seconds} s, ${size.minBytes}..${size.maxBytes} bytes each, paths ${soakPaths.map((p) => p.name).join(' + ')}`);

  const t0 = performance.now();
  const rig: Rig = await startRig({ paths: soakPaths, seed, serverExecArgv: ['--expose-gc'] });
  const memory = new MemoryWatch((gc) => rig.serverSample(gc));
  const chaos = new Chaos(rig.emulator, soakPaths.map((p) => ({ name: p.name, base: p.link })), chaosRng);
  const active = new Map<number, Transfer>();
  const failures: string[] = [];
  const totals = { done: 0, downloads: 0, uploads: 0, forward: 0, socks: 0, bytes: 0, longestS: 0 };
  let accepting = true;
  let nextId = 1;
  let progressTimer: NodeJS.Timeout | null = null;
  let chaosStopped = false;
  try {
    const start = await memory.begin();
    log(`soak: rig up in ${((performance.now() - t0) / 1000).toFixed(1)} s; server live memory ${formatMiB(start.live)}, RSS ${formatMiB(start.rss)}`);

    const open = (via: Via): Promise<net.Socket> => (via === 'forward' ? connectTcp(rig.forward) : connectSocks(rig.socks, rig.sink.address));
    const launch = (): void => {
      if (!accepting) return;
      const u = pick.next();
      const t: Transfer = {
        id: nextId++,
        kind: pick.next() < 0.5 ? 'download' : 'upload',
        via: pick.next() < 0.5 ? 'forward' : 'socks',
        bytes: Math.round(size.minBytes * Math.pow(size.maxBytes / size.minBytes, u)),
        startedAt: performance.now(),
        progress: { bytes: 0 },
      };
      const uploadStart = pick.int(UPLOAD_BLOCK_BYTES);
      active.set(t.id, t);
      void (async () => {
        // No retry: a new connection must start on a path that works (see first-path.ts).
        const socket = await open(t.via);
        if (t.kind === 'download') await downloadExact(socket, t.bytes, t.progress);
        else await uploadExact(socket, t.bytes, block, uploadStart, t.progress);
      })().then(
        () => {
          totals.done++;
          totals[t.kind === 'download' ? 'downloads' : 'uploads']++;
          totals[t.via]++;
          totals.bytes += t.bytes;
          totals.longestS = Math.max(totals.longestS, (performance.now() - t.startedAt) / 1000);
          active.delete(t.id);
          launch();
        },
        (e: unknown) => {
          active.delete(t.id);
          failures.push(`${describe(t, t0)}, failed at ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(e as Error).message}`);
          accepting = false; // one failure ends the soak; the rest drain
        },
      );
    };

    chaos.start();
    const soakStart = performance.now();
    progressTimer = setInterval(() => {
      const c = chaos.counts;
      log(
        `soak ${((performance.now() - soakStart) / 1000).toFixed(0)} s: ${totals.done} done (${formatMiB(totals.bytes)}), ${active.size} in flight; ` +
          `chaos ${c.downs} downs (${c.allDown} all-down), ${c.rateChanges} rate, ${c.lossChanges} loss, ${c.delayChanges} delay changes`,
      );
    }, PROGRESS_EVERY_MS);
    for (let i = 0; i < size.concurrency; i++) launch();

    while (accepting && performance.now() - soakStart < size.seconds * 1000) await sleep(100);
    accepting = false;
    await chaos.stop();
    chaosStopped = true;
    const drainStart = performance.now();
    log(`soak: no new transfers; chaos stopped, paths restored; waiting for ${active.size} in flight (up to ${size.drainSeconds} s)`);
    while (active.size > 0 && performance.now() - drainStart < size.drainSeconds * 1000) await sleep(100);
    const drainS = (performance.now() - drainStart) / 1000;
    clearInterval(progressTimer);
    progressTimer = null;

    if (active.size > 0) {
      for (const t of active.values()) failures.push(`${describe(t, t0)}: not finished ${size.drainSeconds} s after the chaos stopped`);
    }
    if (failures.length > 0) {
      throw new Error(
        `soak failed (seed ${seed}, rig seed ${rig.seed}): ${failures.length} transfer(s) broke:\n  ${failures.slice(0, 8).join('\n  ')}` +
          `\nlast chaos actions:\n  ${chaos.journal.slice(-12).join('\n  ')}`,
      );
    }

    // Connections end at the server a little after their last byte: wait for the relays to go.
    const closeStart = performance.now();
    let server = await rig.serverSample();
    while (server.stats.open > 0 && performance.now() - closeStart < CLOSE_WAIT_MS) {
      await sleep(100);
      server = await rig.serverSample();
    }
    const mem = await memory.end(start, start.live + size.memorySlackBytes / 4, MEMORY_SETTLE_MS);
    const growth = mem.end.live - mem.start.live;
    const c = chaos.counts;
    const elapsedS = (performance.now() - soakStart) / 1000;
    const lines = [
      `soak: ${totals.done} transfers hash-checked (${totals.downloads} down / ${totals.uploads} up; ${totals.forward} forward / ${totals.socks} SOCKS5), ` +
        `${formatMiB(totals.bytes)} in ${elapsedS.toFixed(0)} s, ${size.concurrency} at a time, 0 failures; longest transfer ${totals.longestS.toFixed(1)} s, drain ${drainS.toFixed(1)} s`,
      `chaos: ${c.downs} path downs (${c.allDown} with every path down, longest ${c.longestAllDownMs.toFixed(0)} ms), ${c.rateChanges} rate, ${c.lossChanges} loss (0–5%), ${c.delayChanges} delay changes`,
      describeMemory(mem),
      `server: ${server.stats.total} connections accepted, ${server.stats.open} open at the end`,
    ];
    for (const l of lines) log(l);
    if (growth > size.memorySlackBytes) {
      throw new Error(`soak (seed ${seed}): server live memory grew by ${formatMiB(growth)} (more than ${formatMiB(size.memorySlackBytes)}) from start to end. ${describeMemory(mem)}`);
    }
    return {
      lines,
      data: {
        seed,
        rigSeed: rig.seed,
        size,
        transfers: totals,
        elapsedSeconds: elapsedS,
        drainSeconds: drainS,
        chaos: c,
        memory: mem,
        server: server.stats,
      },
    };
  } finally {
    accepting = false;
    if (progressTimer) clearInterval(progressTimer);
    memory.stop();
    if (!chaosStopped) await chaos.stop().catch(() => {});
    await rig.close();
  }
}

export const check: TortureCheck = {
  id: 'soak',
  title: 'Soak: concurrent hash-checked transfers while paths flap',
  run: (opts) => runSoak(opts, opts.long ? soakSizes.long : soakSizes.ci),
};
