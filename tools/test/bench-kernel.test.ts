import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HANDOVER_FULL, HANDOVER_QUICK } from '../bench/suite/handover.js';
import { bulkRun, deliveredTimeline, goodputBetweenBps, handoverRun, ifaceTimeline, planFor } from '../bench/suite/kernel/analyse.js';
import { DelayLine, delayLinePathArg } from '../bench/suite/kernel/delay-line.js';
import { commandArgv, parseJsonLine, run } from '../bench/suite/kernel/exec.js';
import { runFlow, toEnd, toSample, type FlowResult, type FlowSample } from '../bench/suite/kernel/flow.js';
import {
  KernelTopology,
  listNamespaces,
  namespacesFor,
  parseNetnsList,
  removeStaleNamespaces,
  staleNamespaces,
  tbfBurstBytes,
  topologyCommands,
} from '../bench/suite/kernel/netns.js';
import { ifaceNames, kernelPaths, serverAddress } from '../bench/suite/kernel/paths.js';
import { probeEnvironment, skipReason, type KernelEnvironment } from '../bench/suite/kernel/probe.js';
import { aggregationPlot, aggregationTable, handoverPlot, handoverTable, shareText, type KernelData } from '../bench/suite/kernel/report.js';
import { section } from '../bench/suite/kernel.js';

const capable: KernelEnvironment = { platform: 'linux', uid: 0, hasIp: true, hasTc: true, hasPython: true, mptcpEnabled: '1\n', hasTun: true };

describe('kernel section: skip decision', () => {
  it('runs where everything is there', () => {
    expect(skipReason(capable)).toBeUndefined();
  });

  it.each([
    [{ platform: 'darwin' }, /not Linux/],
    [{ uid: 1000 }, /not root/],
    [{ uid: undefined }, /not root/],
    [{ hasIp: false }, /`ip`/],
    [{ hasTc: false }, /`tc`/],
    [{ hasPython: false }, /python3/],
    [{ mptcpEnabled: undefined }, /no MPTCP/],
    [{ mptcpEnabled: '0\n' }, /MPTCP is disabled \(net.mptcp.enabled = 0\)/],
    [{ hasTun: false }, /TUN/],
  ] as Array<[Partial<KernelEnvironment>, RegExp]>)('skips with a reason: %o', (patch, reason) => {
    expect(skipReason({ ...capable, ...patch })).toMatch(reason);
  });

  it('is section 7 with id "kernel"', () => {
    expect(section.id).toBe('kernel');
    expect(section.title).toBe('7. Kernel MPTCP (reference)');
  });
});

describe('kernel section: namespaces', () => {
  it('parses `ip netns list` with and without ids', () => {
    expect(parseNetnsList('mptb-cli-12 (id: 3)\nother\n\nmptb-srv-12\n')).toEqual(['mptb-cli-12', 'other', 'mptb-srv-12']);
  });

  it('calls stale only our namespaces whose pid is dead', () => {
    const names = ['mptb-cli-10', 'mptb-srv-10', 'mptb-rtr-11', 'mptb-cli-12', 'mptb-x-10', 'other-10', 'mptb-cli-abc', 'mptb-cli-0'];
    const alive = new Set([11]);
    expect(staleNamespaces(names, (pid) => alive.has(pid))).toEqual(['mptb-cli-10', 'mptb-srv-10', 'mptb-cli-12']);
  });

  it('names the namespaces after the pid', () => {
    expect(namespacesFor(42)).toEqual({ client: 'mptb-cli-42', server: 'mptb-srv-42', router: 'mptb-rtr-42' });
  });

  it('builds the topology only inside its own namespaces', () => {
    const ns = namespacesFor(42);
    const cmds = topologyCommands(ns, kernelPaths());
    const ours = new Set(Object.values(ns));
    for (const c of cmds) {
      const argv = commandArgv(c);
      // Either `ip netns exec <ns> …` or `ip|tc -n <ns> …`: never the host's namespace.
      const target = c.netns ?? (c.args[0] === '-n' ? c.args[1] : undefined);
      expect(target !== undefined && ours.has(target), argv.join(' ')).toBe(true);
    }
    const text = cmds.map((c) => commandArgv(c).join(' '));
    expect(text).toContain('ip -n mptb-cli-42 mptcp endpoint add 10.231.2.1 dev c-lte subflow');
    expect(text).toContain('ip -n mptb-cli-42 mptcp limits set subflow 2 add_addr_accepted 2');
    expect(text).toContain('ip -n mptb-srv-42 mptcp limits set subflow 2 add_addr_accepted 2');
    // One tbf per path and direction, at the profiles' rates and queues.
    const tbf = text.filter((t) => t.includes(' tbf '));
    expect(tbf).toHaveLength(4);
    expect(tbf.filter((t) => t.includes('rate 50000000bit') && t.includes('latency 50ms'))).toHaveLength(2);
    expect(tbf.filter((t) => t.includes('rate 20000000bit') && t.includes('latency 200ms'))).toHaveLength(2);
    // Addresses stay in 10.231.0.0/16.
    for (const t of text) for (const a of t.match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? []) expect(a.startsWith('10.231.')).toBe(true);
  });

  it('keeps interface names within 15 characters', () => {
    for (const p of kernelPaths()) for (const n of Object.values(ifaceNames(p))) expect(n.length).toBeLessThanOrEqual(15);
  });

  it('sizes the tbf burst to two frames or 2 ms at the rate', () => {
    expect(tbfBurstBytes(1e6)).toBe(3028);
    expect(tbfBurstBytes(50e6)).toBe(12500);
  });

  it('gives the delay line each path with or without jitter and loss', () => {
    const [wifi, lte] = kernelPaths();
    expect(delayLinePathArg(wifi, true)).toBe('wifi:t-wifi:10:2:0.001');
    expect(delayLinePathArg(lte, false)).toBe('lte:t-lte:30:0:0');
  });

  it('runs commands in a namespace through ip netns exec', () => {
    expect(commandArgv({ file: 'sysctl', args: ['-n', 'x'], netns: 'n1' })).toEqual(['ip', 'netns', 'exec', 'n1', 'sysctl', '-n', 'x']);
    expect(commandArgv({ file: 'ip', args: ['-V'] })).toEqual(['ip', '-V']);
  });
});

describe('kernel section: receiver lines', () => {
  it('parses JSON objects and nothing else', () => {
    expect(parseJsonLine('{"t": 1, "bytes": 2}')).toEqual({ t: 1, bytes: 2 });
    expect(parseJsonLine('[1]')).toBeUndefined();
    expect(parseJsonLine('{"t": ')).toBeUndefined();
    expect(parseJsonLine('Traceback (most recent call last):')).toBeUndefined();
  });

  it('takes samples, not events, and drops bad counters', () => {
    expect(toSample({ t: 0.05, bytes: 100, ifaces: { a: 5, b: -1, c: 'x' } })).toEqual({ t: 0.05, bytes: 100, ifaces: { a: 5 } });
    expect(toSample({ event: 'end', t: 5, bytes: 100 })).toBeUndefined();
    expect(toSample({ t: '1', bytes: 100 })).toBeUndefined();
    expect(toSample({ t: 1, bytes: Number.NaN })).toBeUndefined();
  });

  it("reads the receiver's end line and its content check", () => {
    expect(toEnd({ event: 'end', t: 5, bytes: 100, eof: false, firstMismatch: null })).toEqual({ bytes: 100, eof: false, firstMismatch: null });
    expect(toEnd({ event: 'end', t: 5, bytes: 100, eof: true, firstMismatch: 42 })).toEqual({ bytes: 100, eof: true, firstMismatch: 42 });
    expect(toEnd({ t: 5, bytes: 100 })).toBeNull();
    expect(toEnd({ event: 'end', bytes: 'x' })).toBeNull();
  });
});

/** Samples every 50 ms for `seconds`; rates in bit/s per path as functions of time (payload = sum). */
function synthetic(seconds: number, rates: Record<string, (t: number) => number>): FlowSample[] {
  const out: FlowSample[] = [];
  const totals: Record<string, number> = Object.fromEntries(Object.keys(rates).map((k) => [k, 0]));
  let bytes = 0;
  for (let i = 0; i <= seconds * 20; i++) {
    const t = i / 20;
    if (i > 0) {
      for (const [k, f] of Object.entries(rates)) {
        const add = (f(t) / 8) * 0.05;
        totals[k] = (totals[k] ?? 0) + add;
        bytes += add;
      }
    }
    out.push({ t, bytes: Math.round(bytes), ifaces: Object.fromEntries(Object.entries(totals).map(([k, v]) => [`c-${k}`, Math.round(v)])) });
  }
  return out;
}

describe('kernel section: timelines', () => {
  it('turns receiver seconds into the [ms, bytes] timelines handover-metrics reads', () => {
    const s: FlowSample[] = [
      { t: 0, bytes: 0, ifaces: { a: 1 } },
      { t: 0.05, bytes: 5, ifaces: {} },
      { t: 0.1, bytes: 9, ifaces: { a: 7 } },
      { t: 3.4500000000000002, bytes: 12, ifaces: { a: 9 } },
    ];
    expect(deliveredTimeline(s)).toEqual([
      [0, 0],
      [50, 5],
      [100, 9],
      [3450, 12],
    ]);
    // Unreadable interface counters are left out, not read as zero.
    expect(ifaceTimeline(s, 'a')).toEqual([
      [0, 1],
      [100, 7],
      [3450, 9],
    ]);
  });

  it('computes goodput between two times, linear between samples', () => {
    // 1000 bytes per 50 ms = 160 kbit/s.
    const steady: Array<[number, number]> = Array.from({ length: 101 }, (_, i) => [i * 50, i * 1000]);
    expect(goodputBetweenBps(steady, 1000, 5000)).toBeCloseTo(160_000, 6);
    expect(goodputBetweenBps(steady, 1025, 1075)).toBeCloseTo(160_000, 6);
    expect(goodputBetweenBps(steady, 2000, 2000)).toBe(0);
    expect(goodputBetweenBps([], 0, 1000)).toBe(0);
  });
});

describe('kernel section: analysis and report', () => {
  it('plans quick runs within 40 s and full ones within 3 minutes', () => {
    for (const quick of [true, false]) {
      const p = planFor(quick);
      const seconds = 4 * p.bulkSeconds + p.handover.endMs / 1000;
      expect(seconds).toBeLessThanOrEqual(quick ? 36 : 170);
      expect(p.handover.cutMs).toBeLessThan(p.handover.restoreMs);
      expect(p.handover.restoreMs).toBeLessThan(p.handover.endMs);
    }
  });

  it("times the handover run as mptun's handover section does", () => {
    for (const [quick, mptun] of [
      [true, HANDOVER_QUICK],
      [false, HANDOVER_FULL],
    ] as const) {
      expect(planFor(quick).handover).toEqual({ cutMs: mptun.cutMs, restoreMs: mptun.restoreMs, endMs: mptun.endMs });
    }
  });

  const wifi = 50e6;
  const lte = 20e6;
  // wifi carries 40 Mbit/s until the cut at 3 s and from 6.5 s on; lte 19.5 Mbit/s except
  // for a 0.4 s hole right after the cut (head-of-line blocking while data is reinjected).
  const samples = synthetic(9, {
    wifi: (t) => (t <= 3 || t > 6.5 ? 40e6 : 0),
    lte: (t) => (t > 3 && t <= 3.4 ? 0 : 19.5e6),
  });
  const flow: FlowResult = { startMono: 100, mptcp: true, samples, end: null };
  const pathIfaces = { wifi: 'c-wifi', lte: 'c-lte' };

  it('computes bulk goodput and bytes per path after the warm-up', () => {
    const r = bulkRun('mptcp', 'down', { ...flow, samples: synthetic(6, { wifi: () => 40e6, lte: () => 20e6 }) }, pathIfaces, 1);
    expect(r.goodputBps).toBeCloseTo(60e6, -3);
    expect(r.seconds).toBeCloseTo(5, 9);
    expect(r.pathBytes.wifi! / r.pathBytes.lte!).toBeCloseTo(2, 3);
  });

  it('computes the handover figures from the timelines', () => {
    const h = handoverRun({ flow, cutMs: 3000, restoreMs: 6000, pathIfaces, cut: { name: 'wifi', rateBps: wifi }, survivor: { name: 'lte', rateBps: lte } });
    expect(h.times).toEqual({ cutMs: 3000, restoreMs: 6000, endMs: 9000 });
    // Last growth seen at 3.00 s, the next at 3.45 s (bytes of the interval 3.40–3.45).
    expect(h.metrics.longestStallMs).toBe(450);
    // The window 3.40–3.90 s is the first with ≥ 18 Mbit/s (3.35–3.85 has 17.55).
    expect(h.metrics.timeToFullRateMs).toBe(900);
    // wifi back after 6.5 s: 6.05–6.55 carries 4 Mbit/s, 6.10–6.60 carries 8 (≥ 5).
    expect(h.metrics.reuseMs).toBe(600);
    // lte alone from 500 ms after the cut to the restore: past its 0.4 s hole.
    expect(h.metrics.survivorGoodputBps).toBeCloseTo(19.5e6, -3);
    expect(h.metrics.bytesDelivered).toBe(samples[samples.length - 1]!.bytes);
    expect(h.goodputBeforeBps).toBeCloseTo(59.5e6, -3);
    expect(h.goodputAfterBps).toBeCloseTo((19.5e6 * 3 + 40e6 * 2.5) / 3, -3);
    expect(h.paths.wifi).toHaveLength(samples.length);
  });

  it('times the cut from when it took effect, not from the plan', () => {
    // The same flow, but the delay line acknowledged the cut 200 ms late: the stall is
    // measured from 3.2 s, and reuse from the restore at 6.3 s.
    const h = handoverRun({ flow, cutMs: 3200, restoreMs: 6300, pathIfaces, cut: { name: 'wifi', rateBps: wifi }, survivor: { name: 'lte', rateBps: lte } });
    expect(h.metrics.longestStallMs).toBe(250);
    // The first window lying wholly after the restore ends at 6.8 s (the 500 ms floor).
    expect(h.metrics.reuseMs).toBe(500);
  });

  it('reports how long it watched when the restored path is not used again', () => {
    const s = synthetic(8, { wifi: (t) => (t <= 3 ? 40e6 : 0), lte: () => 20e6 });
    const h = handoverRun({ flow: { ...flow, samples: s }, cutMs: 3000, restoreMs: 6000, pathIfaces, cut: { name: 'wifi', rateBps: wifi }, survivor: { name: 'lte', rateBps: lte } });
    expect(h.metrics.reuseMs).toBeNull();
    expect(handoverTable(dataWith(h)).rows[0]?.[3]).toBe('not within 2.0 s');
  });

  function dataWith(h: ReturnType<typeof handoverRun>): KernelData {
    const down = bulkRun('mptcp', 'down', { ...flow, samples: synthetic(6, { wifi: () => 46e6, lte: () => 19e6 }) }, pathIfaces, 1);
    const tcp = bulkRun('tcp', 'down', { ...flow, mptcp: false, samples: synthetic(6, { wifi: () => 47e6, lte: () => 0 }) }, pathIfaces, 1);
    return {
      kernel: '6.x',
      congestionControl: 'cubic',
      mptcpScheduler: 'default',
      topology: 'test',
      paths: kernelPaths(),
      capacityBps: 70e6,
      warmupSeconds: 1,
      runs: [down, tcp],
      handover: h,
      delayLine: {},
    };
  }

  it('builds the tables and plots', () => {
    const h = handoverRun({ flow, cutMs: 3000, restoreMs: 6000, pathIfaces, cut: { name: 'wifi', rateBps: wifi }, survivor: { name: 'lte', rateBps: lte } });
    const d = dataWith(h);
    const agg = aggregationTable(d);
    expect(agg.rows[0]).toEqual(['download', 65, 92.9, 'wifi 71% / lte 29%', 47, 94, '×1.38']);
    expect(agg.rows[1]).toEqual(['upload', '—', '—', '—', '—', '—', '—']);
    expect(agg.notes?.some((n) => n.includes('89%'))).toBe(true);
    const ho = handoverTable(d);
    expect(ho.columns.slice(0, 6)).toEqual(['stack', 'longest stall ms', 'time to full rate ms', 'reuse ms', 'bytes delivered', 'lte alone Mbit/s']);
    expect(ho.rows).toEqual([['kernel MPTCP (default)', 450, 900, 600, samples[samples.length - 1]!.bytes, 19.5, 59.5, 52.8]]);
    const line = handoverPlot(d);
    expect(line.kind).toBe('line');
    if (line.kind === 'line') {
      expect(line.series.map((s) => s.name)).toEqual(['wifi (link bytes)', 'lte (link bytes)', 'delivered goodput']);
      expect(line.markers).toEqual([
        { x: 3, label: 'wifi cut' },
        { x: 6, label: 'wifi restored' },
      ]);
      // A 500 ms average at every 50 ms sample from 0.5 s to 9 s; wifi at 40 Mbit/s before the cut, none while cut.
      expect(line.series[0]?.points).toHaveLength(171);
      expect(line.series[0]?.points[10]).toEqual([1, expect.closeTo(40, 1)]);
      expect(line.series[0]?.points.find(([t]) => t === 5)?.[1]).toBe(0);
    }
    const bar = aggregationPlot(d);
    expect(bar.kind === 'bar' && bar.series[0]?.values).toEqual([65, 0]);
    expect(shareText({ a: 0, b: 0 }, ['a', 'b'])).toBe('—');
  });
});

/** The same check the section makes: only root on Linux with MPTCP gets the namespace test. */
const env = await probeEnvironment();
const cannot = skipReason(env);

describe.skipIf(cannot !== undefined)('kernel section: namespaces for real (root only)', () => {
  it('removes stale namespaces of dead pids and leaves live ones', async () => {
    const dead = await new Promise<number>((resolve, reject) => {
      const c = spawn('true');
      c.once('error', reject);
      c.once('exit', () => resolve(c.pid ?? -1));
    });
    expect(dead).toBeGreaterThan(0);
    const staleName = `mptb-srv-${dead}`;
    const liveName = `mptb-srv-${process.pid}`;
    await run({ file: 'ip', args: ['netns', 'add', staleName] });
    await run({ file: 'ip', args: ['netns', 'add', liveName] });
    try {
      const removed = await removeStaleNamespaces();
      expect(removed).toContain(staleName);
      const left = await listNamespaces();
      expect(left).not.toContain(staleName);
      expect(left).toContain(liveName);
    } finally {
      await run({ file: 'ip', args: ['netns', 'del', liveName] }).catch(() => {});
      await run({ file: 'ip', args: ['netns', 'del', staleName] }).catch(() => {});
    }
  });

  it('carries an MPTCP download over both paths, and the delay line cuts and restores a path', async () => {
    const paths = kernelPaths();
    const topo = new KernelTopology(process.pid, paths);
    let delay: DelayLine | undefined;
    try {
      await topo.create();
      delay = await DelayLine.start(topo.ns.router, paths, 1);
      const flow = await runFlow({
        proto: 'mptcp',
        cc: 'cubic',
        direction: 'down',
        seconds: 2.5,
        sampleMs: 50,
        clientNs: topo.ns.client,
        serverNs: topo.ns.server,
        serverAddress: serverAddress(paths),
        port: 5399,
        receiverIfaces: paths.map((p) => ifaceNames(p).client),
      });
      expect(flow.mptcp).toBe(true);
      const r = bulkRun('mptcp', 'down', flow, { wifi: 'c-wifi', lte: 'c-lte' }, 1);
      console.log(`kernel smoke: ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s, ${shareText(r.pathBytes, ['wifi', 'lte'])}`);
      expect(r.bytes).toBeGreaterThan(0);
      // The receiver checked every byte against flow.py's pattern at its offset.
      expect(flow.end).toMatchObject({ firstMismatch: null });
      expect(flow.end!.bytes).toBeGreaterThanOrEqual(r.bytes);
      // Both subflows carried data (far more than the handshake's few hundred bytes).
      expect(r.pathBytes.wifi).toBeGreaterThan(100_000);
      expect(r.pathBytes.lte).toBeGreaterThan(100_000);
      // The delay line acknowledges a cut and a restore, and it forwarded the run's packets.
      await delay.set('wifi', 'down');
      await delay.set('wifi', 'up');
      const stats = await delay.stats();
      expect(stats.wifi?.written).toBeGreaterThan(0);
    } finally {
      await delay?.close();
      await topo.destroy();
    }
    const left = await listNamespaces();
    for (const n of Object.values(topo.ns)) expect(left).not.toContain(n);
  });
});
