/**
 * The testbed section's own pieces that need no namespaces: reading another process's CPU
 * from /proc/PID/stat, and the per-link shares and medians its table shows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuSecondsOf, parseStatTicks } from '../bench/suite/kernel/proc-cpu.js';
import { bulkTable, cpuSecondsPerGB, linkShares, medianFigure, type BulkFigure } from '../bench/suite/testbed-report.js';
import { TESTBED_QUICK } from '../bench/suite/testbed.js';
import { roundTrips, startEchoServer } from '../bench/suite/kernel/rtt.js';
import { run, succeeds } from '../bench/suite/kernel/exec.js';

describe('/proc/PID/stat', () => {
  it('adds utime and stime, counting fields after the command name even when it holds spaces and parentheses', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0';
    expect(parseStatTicks(stat)).toBe(325);
  });

  it('rejects text that is not a stat line', () => {
    expect(() => parseStatTicks('garbage')).toThrow(/command name/);
    expect(() => parseStatTicks('1 (a) S 1 2')).toThrow(/utime/);
    expect(() => parseStatTicks('1 (a) S 1 1 1 0 -1 0 0 0 0 0 -5 3')).toThrow(/utime/);
  });

  it.runIf(process.platform === 'linux')('reads this process: it grows by the CPU time the process itself counts', () => {
    const before = cpuSecondsOf(process.pid);
    // Spin until Node's own count says 100 ms of CPU went by (however loaded the machine is).
    const start = process.cpuUsage();
    let x = 0;
    for (;;) {
      for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
      const used = process.cpuUsage(start);
      if (used.user + used.system >= 100_000) break;
    }
    expect(x).toBeGreaterThan(0);
    const grew = cpuSecondsOf(process.pid) - before;
    // Ticks are 10 ms; the other threads of this process only add to it.
    expect(grew).toBeGreaterThanOrEqual(0.08);
  });
});

const figure = (goodputMbit: number, c1: number, c2: number, extra: Partial<BulkFigure> = {}): BulkFigure => ({
  stack: 'udp',
  direction: 'down',
  goodputBps: goodputMbit * 1e6,
  seconds: 2,
  pathBytes: { c1, c2 },
  cpu: { clientPercent: goodputMbit, serverPercent: 2 * goodputMbit },
  mptcp: false,
  checkedBytes: 1000,
  firstMismatch: null,
  check: '',
  ...extra,
});

describe('testbed figures', () => {
  it("gives each link's share of the receiver's bytes and its wire rate", () => {
    const s = linkShares(figure(50, 7_500_000, 2_500_000), ['c1', 'c2']);
    expect(s).toEqual([
      { name: 'c1', share: 0.75, wireBps: 30e6 },
      { name: 'c2', share: 0.25, wireBps: 10e6 },
    ]);
    expect(linkShares(figure(0, 0, 0), ['c1', 'c2']).map((x) => x.share)).toEqual([0, 0]);
  });

  it('takes medians per column and counts runs whose content check failed', () => {
    const m = medianFigure([figure(40, 3, 1), figure(50, 1, 1), figure(45, 1, 0, { firstMismatch: 17 })], ['c1', 'c2']);
    expect(m.goodputBps).toBe(45e6);
    expect(m.shares.map((x) => x.share)).toEqual([0.75, 0.25]);
    expect(m.cpu).toEqual({ client: 45, server: 90 });
    expect(m.bad).toBe(1);
    expect(medianFigure([figure(40, 1, 1, { cpu: null })], ['c1', 'c2']).cpu).toBeNull();
  });

  it('costs one CPU second per GB at one full core and 8 Gbit/s', () => {
    expect(cpuSecondsPerGB(100, 8e9)).toBe(1);
    expect(cpuSecondsPerGB(50, 400e6)).toBe(10);
    expect(cpuSecondsPerGB(50, 0)).toBeNaN();
  });

  it('puts each mptun figure beside the kernel of the same rate pair and direction', () => {
    const kernel = figure(56, 10e6, 5e6, { stack: 'kernel', cpu: null, mptcp: true });
    const udp = figure(28, 5e6, 5e6);
    const t = bulkTable([{ links: [{ name: 'c1', mbit: 40 }, { name: 'c2', mbit: 20 }], bulk: [kernel, udp], latency: [], failures: [{ what: 'mptun ws', error: 'no path up\nmore' }], seconds: 80, load: [1, 2.5] }], TESTBED_QUICK, 2);
    expect(t.rows).toEqual([
      ['40 + 20', 'kernel MPTCP', 'download', '56.0', '93.3', '×1.00', 'c1 67% (40.0) / c2 33% (20.0)', '—', '—', 'ok ×1'],
      ['40 + 20', 'mptun sealed UDP', 'download', '28.0', '46.7', '×0.50', 'c1 50% (20.0) / c2 50% (20.0)', '28 / 56', '80.0 / 160.0', 'ok ×1'],
    ]);
    expect(t.notes).toContain('FAILED at 40 + 20 Mbit/s, mptun ws: no path up');
    expect(t.notes!.some((n) => n.includes('40 + 20: 80 s, load 1.0 → 2.5') && n.includes('on 2 cores'))).toBe(true);
  });
});

describe('the Python endpoints on loopback', () => {
  let python = false;
  beforeAll(async () => {
    python = await succeeds({ file: 'python3', args: ['-c', 'import socket'] });
    if (!python) console.log('skipping the Python endpoint tests: no python3 on PATH');
  });

  it('rtt.py times 1 KB round trips through its echo server', async (ctx) => {
    if (!python) return ctx.skip();
    const echo = await startEchoServer({ ns: undefined, proto: 'tcp', bind: '127.0.0.1', port: 5988 });
    try {
      const r = await roundTrips({ ns: undefined, proto: 'tcp', connect: '127.0.0.1:5988', size: 1024, warmupSeconds: 0.1, seconds: 0.3 });
      expect(r.timedOut).toBe(false);
      expect(r.rttsMs.length).toBeGreaterThan(10);
      for (const v of r.rttsMs) expect(v).toBeGreaterThan(0);
    } finally {
      await echo.stop();
    }
  });

  it("flow.py's receiver finds the first byte that is not the pattern's at its offset", async (ctx) => {
    if (!python) return ctx.skip();
    const script = [
      'import sys, flow',
      'p = flow.PATTERN',
      'ok = bytearray(p[7:7 + 1000])',
      'bad = bytearray(ok); bad[300] ^= 1',
      'shifted = bytearray(p[8:8 + 1000])',
      'print(flow.first_mismatch(ok, 1000, 7), flow.first_mismatch(ok, 1000, 7 + 251 * 3), flow.first_mismatch(bad, 1000, 7), flow.first_mismatch(shifted, 1000, 7))',
    ].join('\n');
    const out = await run({ file: 'python3', args: ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(new URL('../bench/suite/kernel/', import.meta.url).pathname)}); sys.dont_write_bytecode = True\n${script}`] });
    // A flipped bit at 300 is found at stream offset 307; a stream one byte ahead fails at once.
    expect(out.trim()).toBe('None None 307 7');
  });
});
