/**
 * Smoke runs of bench sections 5 (CPU) and 6 (scale) at a tiny size, and their helpers:
 * the plain TCP relay reference, the load generator, percentiles. Figures are not checked
 * (the suite reports speed, it does not assert it); that the runs moved bytes, proved
 * their connections, filled every table and left no process behind is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectTcp, patternMismatch, Sink, SinkCommand } from '../bench/rig/index.js';
import { startTcpRelay } from '../bench/suite/cpu-relay.js';
import { runCpu, type BulkCpuRun, type CpuSize } from '../bench/suite/cpu.js';
import { startLoadGenerator } from '../bench/suite/scale-load.js';
import { fdLimit, percentile, runScale, tenthRates, type ChurnRun, type IdleRun, type ScaleSize, type TtfbRun } from '../bench/suite/scale.js';
import type { SuiteOptions } from '../bench/suite/types.js';

const SEED = 5;
console.log(`bench-cpu test seed ${SEED}`);

const opts: SuiteOptions = { quick: true, seed: SEED, log: (l) => console.log(l) };

/** Processes whose parent is this one (from /proc), to show nothing was left running. */
function children(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start at the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function readAll(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once('close', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

describe('bench helpers', () => {
  it('percentile is nearest-rank and NaN for no samples', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([7], 90)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('opening rates come from the first and the last tenth of the progress marks', () => {
    expect(tenthRates([[10, 100], [20, 300], [30, 700]])).toEqual([100, 25]);
    expect(tenthRates([[5, 50]])).toEqual([100, 100]);
    expect(tenthRates([]).every(Number.isNaN)).toBe(true);
  });

  it('reads the open-file limit', () => {
    const limit = fdLimit();
    if (process.platform === 'linux') expect(limit).toBeGreaterThan(0);
    else expect(limit).toBeNull();
  });

  it('the TCP relay carries a download byte-exact and reports its CPU', async () => {
    const sink = await Sink.start();
    const relay = await startTcpRelay(sink.address);
    try {
      const s = await connectTcp(relay.listen);
      const all = readAll(s);
      const req = Buffer.alloc(9);
      req[0] = SinkCommand.download;
      req.writeBigUInt64BE(200_000n, 1);
      s.end(req);
      const got = await all;
      expect(got.length).toBe(200_000);
      expect(patternMismatch(got, 0)).toBe(-1);
      const sample = await relay.sample();
      expect(sample.userUs + sample.systemUs).toBeGreaterThan(0);
    } finally {
      await relay.close();
      await sink.close();
    }
    expect(() => process.kill(relay.pid, 0)).toThrow(/ESRCH/);
  }, 30_000);

  it('the load generator holds echoed connections, closes them, and counts refused ones as failed', async () => {
    const sink = await Sink.start();
    const load = await startLoadGenerator();
    // A port nothing listens on: bind one, note it, close it.
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const held = await load.hold(sink.address, 20, 5);
      expect(held).toMatchObject({ opened: 20, failed: 0 });
      expect(held.progress.map(([n]) => n)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
      expect(await load.held()).toBe(20);
      expect(sink.open).toBe(20);
      expect(await load.closeAll()).toBe(20);
      const refused = await load.hold({ host: '127.0.0.1', port: deadPort }, 3, 3);
      expect(refused).toMatchObject({ opened: 0, failed: 3 });
      expect(refused.errors[0]).toMatch(/ECONNREFUSED/);
      const churn = await load.churn(sink.address, 0.3, 2);
      expect(churn.completed).toBeGreaterThan(0);
      expect(churn.failed).toBe(0);
    } finally {
      await load.close();
      await sink.close();
    }
  }, 30_000);
});

describe('bench sections 5 and 6 at a tiny size', () => {
  it('CPU: one sealed-UDP path and the TCP relay, both directions, every figure filled', async () => {
    const size: CpuSize = { variants: [{ transport: 'udp', paths: 1 }], directions: ['download', 'upload'], seconds: 0.5, warmupSeconds: 0.2, emulatorCheck: false };
    const res = await runCpu(opts, size);
    const runs = (res.data as { runs: BulkCpuRun[] }).runs;
    expect(runs.map((r) => `${r.what} ${r.direction}`)).toEqual([
      'mptun sealed UDP, 1 path download',
      'mptun sealed UDP, 1 path upload',
      'plain Node TCP relay download',
      'plain Node TCP relay upload',
    ]);
    for (const r of runs) {
      expect(r.bytes).toBeGreaterThan(0);
      expect(r.serverSecondsPerGB).toBeGreaterThan(0);
      expect(Number.isFinite(r.serverSecondsPerGB)).toBe(true);
      if (r.what.startsWith('mptun')) expect(r.clientSecondsPerGB).toBeGreaterThan(0);
      else expect(r.clientSecondsPerGB).toBeNull();
    }
    expect(res.tables).toHaveLength(1);
    expect(res.tables[0]!.rows).toHaveLength(4);
    for (const row of res.tables[0]!.rows) expect(row).toHaveLength(res.tables[0]!.columns.length);
    expect(res.plots.map((p) => p.file)).toEqual(['cpu-goodput', 'cpu-cost']);
    const bar = res.plots[0]!;
    if (bar.kind !== 'bar') throw new Error('expected a bar plot');
    expect(bar.categories).toEqual(['sealed UDP, 1 path', 'TCP relay']);
    expect(bar.series.every((s) => s.values.every((v) => v > 0))).toBe(true);
    expect(children()).toEqual([]);
  }, 60_000);

  it('scale: idle connections proven open on the server, measured on the server and the client, churn and time to first byte, references beside them', async () => {
    const size: ScaleSize = { idleCounts: [40], holdConcurrency: 10, idleWindowSeconds: 0.3, churnSeconds: 0.5, churnConcurrency: 4, churnWarmupSeconds: 0.2, ttfbSamples: 3, relayReference: true };
    const res = await runScale(opts, size);
    const data = res.data as { idle: IdleRun[]; churn: ChurnRun[]; ttfb: TtfbRun[] };
    expect(data.idle.map((r) => [r.what, r.asked, r.opened, r.open])).toEqual([
      ['mptun-server', 0, 0, 0],
      ['mptun-client', 0, 0, 0],
      ['mptun-server', 40, 40, 40],
      ['mptun-client', 40, 40, 40],
      ['plain Node TCP relay', 0, 0, 0],
      ['plain Node TCP relay', 40, 40, 40],
    ]);
    for (const r of data.idle) expect(r.after.rss).toBeGreaterThan(0);
    // The client's row is its own process, and its set was closed and gone like the server's.
    const [server, client] = data.idle.filter((r) => r.asked === 40);
    expect(client!.after.rss).not.toBe(server!.after.rss);
    expect([server!.closeSeconds !== null, client!.closeSeconds]).toEqual([true, server!.closeSeconds]);
    expect(data.churn.map((r) => r.failed)).toEqual([0, 0]);
    for (const r of data.churn) expect(r.completed).toBeGreaterThan(0);
    expect(data.ttfb.map((r) => r.samplesMs.length)).toEqual([3, 3]);
    for (const r of data.ttfb) expect(r.medianMs).toBeGreaterThan(0);
    expect(res.tables.map((t) => t.rows.length)).toEqual([6, 2, 2]);
    for (const t of res.tables) for (const row of t.rows) expect(row).toHaveLength(t.columns.length);
    expect(res.plots.map((p) => p.kind)).toEqual(['cdf']);
    expect(children()).toEqual([]);
  }, 60_000);
});
