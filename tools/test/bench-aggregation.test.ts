import { describe, expect, it } from 'vitest';
import type { PathStats } from '@mptun/linkem';
import { linkDelta, type BulkWindow } from '../bench/suite/aggregation-measure.js';
import { aggregationPlots, aggregationTables, mbit, percentOf, rttRatioPlots, rttRatioTables, schedulerLabel, timesOf, wireEfficiency, type AggregationData, type RttRatioData } from '../bench/suite/aggregation-report.js';
import { aggregationPlan, runAggregation, section as aggregationSection } from '../bench/suite/aggregation.js';
import { rttRatioPlan, runRttRatio, section as rttSection } from '../bench/suite/rtt-ratio.js';
import type { BarPlot } from '../bench/suite/types.js';

/** A measured window with round numbers: goodput `bps` over 2 s, link bytes as given. */
function window(bps: number, linkBytes: Record<string, number> = {}, extra: Partial<BulkWindow> = {}): BulkWindow {
  const seconds = 2;
  return {
    direction: 'download',
    route: 'tunnel',
    warmupSeconds: 1,
    bytes: (bps * seconds) / 8,
    seconds,
    goodputBps: bps,
    linkBytes,
    linkBps: Object.fromEntries(Object.entries(linkBytes).map(([k, v]) => [k, (v * 8) / seconds])),
    linkDrops: Object.fromEntries(Object.keys(linkBytes).map((k) => [k, { loss: 2 }])),
    cpu: { clientSeconds: 0.5, serverSeconds: 1 },
    peakReceiveBuffered: 200 * 1024,
    timeline: [[0, 0]],
    settle: { ms: 100, settled: true, sinkBytesAfterClose: 0 },
    ...extra,
  };
}

const paths = [
  { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi' }, rateBps: 50e6 },
  { name: 'lte', local: '127.0.0.3', link: { profile: 'lte' }, rateBps: 20e6 },
];

function aggregationData(): AggregationData {
  return {
    seed: 9,
    quick: true,
    seconds: 3,
    warmupSeconds: 1,
    paths,
    sumBps: 70e6,
    wireEfficiency: 0.9,
    headersCeilingBps: 63e6,
    single: {
      path: 'wifi',
      mptun: { download: window(20e6, { wifi: 5_000_000 }), upload: window(25e6, {}, { direction: 'upload' }) },
      mptunLossless: { download: window(40e6) },
      tcp: { download: window(50e6), upload: null },
    },
    runs: [
      { scheduler: 'minrtt', aggregating: true, download: window(35e6, { wifi: 6_000_000, lte: 4_000_000 }), upload: window(50e6, { wifi: 1, lte: 1 }, { direction: 'upload' }) },
      { scheduler: 'backup', aggregating: false, download: window(14e6), upload: window(10e6, {}, { direction: 'upload' }) },
      { scheduler: 'ecf', aggregating: true, download: null, upload: null, error: 'mptun-client did not start' },
    ],
  };
}

describe('aggregation report helpers', () => {
  it('formats rates, shares and ratios, with a dash for a missing reference', () => {
    expect(mbit(29_669_070)).toBe(29.7);
    expect(mbit(0)).toBe(0);
    expect(percentOf(35e6, 70e6)).toBe('50%');
    expect(percentOf(35e6, null)).toBe('—');
    expect(percentOf(null, 70e6)).toBe('—');
    expect(percentOf(1, 0)).toBe('—');
    expect(timesOf(37e6, 20e6)).toBe('1.85×');
    expect(timesOf(37e6, undefined)).toBe('—');
    expect(schedulerLabel({ scheduler: 'overflow', aggregating: false })).toBe('overflow (not aggregating)');
    expect(schedulerLabel({ scheduler: 'blest', aggregating: true })).toBe('blest');
  });

  it('takes link bytes and drops of the transfer direction between two emulator snapshots', () => {
    const dir = (bytesDelivered: number, loss: number) => ({ bytesDelivered, dropped: { queue: 0, loss, burst: 0, outage: 0, mtu: 0, middlebox: 0, overflow: 0 } });
    const snap = (downBytes: number, upBytes: number, loss: number) => [{ name: 'wifi', down: dir(downBytes, loss), up: dir(upBytes, 0) }] as unknown as PathStats[];
    const before = [...snap(1000, 50, 1), { name: 'gone', down: dir(0, 0), up: dir(0, 0) } as unknown as PathStats];
    const after = [...snap(6000, 80, 4), { name: 'new', down: dir(9, 0), up: dir(9, 0) } as unknown as PathStats];
    expect(linkDelta(before, after, 'download')).toEqual({ bytes: { wifi: 5000 }, drops: { wifi: { loss: 3 } } });
    expect(linkDelta(before, after, 'upload')).toEqual({ bytes: { wifi: 30 }, drops: { wifi: {} } });
  });

  it('computes the payload share of the tunnel paths\' bytes only', () => {
    const w = window(8e6, { wifi: 1_500_000, lte: 500_000, 'wifi-tcp': 99_000_000 }); // 2 MB payload
    expect(wireEfficiency(w, ['wifi', 'lte'])).toBeCloseTo(2_000_000 / 2_000_000, 9);
    expect(wireEfficiency(w, ['wifi'])).toBeCloseTo(2_000_000 / 1_500_000, 9);
    expect(wireEfficiency(w, ['none'])).toBeNull();
  });

  it('puts every scheduler beside the sum, the ceiling and the single-path references', () => {
    const [main, flows] = aggregationTables(aggregationData());
    expect(main!.columns).toEqual(['scheduler', 'download Mbit/s', '% of sum', '× best single path', 'upload Mbit/s', '% of sum', '× best single path']);
    const row = (label: string) => main!.rows.find((r) => r[0] === label);
    expect(row('minrtt')).toEqual(['minrtt', 35, '50%', '1.75×', 50, '71%', '2.00×']);
    expect(row('backup (not aggregating)')).toEqual(['backup (not aggregating)', 14, '20%', '0.70×', 10, '14%', '0.40×']);
    expect(row('ecf')![1]).toBe('failed: mptun-client did not start');
    expect(row('sum of capacities (wifi + lte)')).toEqual(['sum of capacities (wifi + lte)', 70, '100%', '—', 70, '100%', '—']);
    expect(row('sum after headers (mptun framing)')!.slice(0, 3)).toEqual(['sum after headers (mptun framing)', 63, '90%']);
    expect(row('wifi alone, mptun (best single path)')!.slice(1, 4)).toEqual([20, '29%', '1.00×']);
    expect(row('wifi alone, mptun, link loss off')!.slice(1, 5)).toEqual([40, '57%', '2.00×', '—']);
    expect(row('wifi alone, plain TCP (no loss)')).toEqual(['wifi alone, plain TCP (no loss)', 50, '71%', '2.50×', '—', '—', '—']);
    expect(main!.notes!.join(' ')).toContain('Seed 9');
    // One flow row per measured window; the failed scheduler has none.
    expect(flows!.rows.map((r) => `${r[0]}/${r[1]}`)).toEqual(['minrtt/download', 'minrtt/upload', 'backup (not aggregating)/download', 'backup (not aggregating)/upload']);
    expect(flows!.rows[0]).toEqual(['minrtt', 'download', 24, 16, 'wifi 2, lte 2', '88%', '25%', '50%', 200]);
  });

  it('shows dashes, not guesses, when the single-path references are missing', () => {
    const d = { ...aggregationData(), single: null, headersCeilingBps: null, wireEfficiency: null };
    const [main] = aggregationTables(d);
    expect(main!.rows.find((r) => r[0] === 'minrtt')).toEqual(['minrtt', 35, '50%', '—', 50, '71%', '—']);
    expect(main!.rows.some((r) => String(r[0]).includes('alone'))).toBe(false);
    const [plot] = aggregationPlots(d) as BarPlot[];
    expect(plot!.references).toEqual([{ y: 70, label: 'sum of capacities' }]);
  });

  it('plots goodput per scheduler that has figures, with the reference lines', () => {
    const [plot] = aggregationPlots(aggregationData()) as Array<BarPlot & { file: string }>;
    expect(plot!.file).toBe('aggregation-goodput');
    expect(plot!.categories).toEqual(['minrtt', 'backup (not aggregating)']);
    expect(plot!.series).toEqual([
      { name: 'download', values: [35, 14] },
      { name: 'upload', values: [50, 10] },
    ]);
    expect(plot!.references!.map((r) => r.y)).toEqual([70, 63, 20, 50]);
  });

  it('summarises the RTT-ratio runs with the receive-buffer peak', () => {
    const d: RttRatioData = {
      seed: 5,
      quick: false,
      seconds: 10,
      warmupSeconds: 3,
      paths: [
        { name: 'short', local: '127.0.0.2', link: { rate: 50e6, delay: '10ms', queue: '50ms' }, rateBps: 50e6 },
        { name: 'long', local: '127.0.0.3', link: { rate: 20e6, delay: '100ms', queue: '200ms' }, rateBps: 20e6 },
      ],
      sumBps: 70e6,
      wireEfficiency: null,
      headersCeilingBps: null,
      single: { path: 'short', mptun: window(40e6, { short: 10_000_000 }), tcp: null, error: 'reference relay failed' },
      runs: [
        { scheduler: 'blest', aggregating: true, download: window(56e6, { short: 10_000_000, long: 4_000_000 }, { peakReceiveBuffered: 3 * 1024 * 1024 }), upload: null },
        { scheduler: 'minrtt', aggregating: true, download: null, upload: null, error: 'boom' },
      ],
    };
    const [t] = rttRatioTables(d);
    expect(t!.columns).toEqual(['scheduler', 'download Mbit/s', '% of sum', '× short alone', 'receive-buffer peak KiB', 'short link Mbit/s', 'long link Mbit/s']);
    expect(t!.rows[0]).toEqual(['blest', 56, '80%', '1.40×', 3072, 40, 16]);
    expect(t!.rows[1]![1]).toBe('failed: boom');
    expect(t!.rows.find((r) => r[0] === 'short alone, plain TCP')!.slice(1, 4)).toEqual(['—', '—', '—']);
    expect(t!.notes!.join(' ')).toContain('reference relay failed');
    const [goodput, buffer] = rttRatioPlots(d) as BarPlot[];
    expect(goodput!.series[0]!.values).toEqual([56]);
    expect(goodput!.references!.map((r) => r.label)).toEqual(['sum of capacities', 'short alone, mptun']);
    expect(buffer!.series[0]!.values).toEqual([3072]);
    // Quick mode leaves plain TCP out by plan: no row at all, and a note saying so.
    const { tcp: _left, ...quickSingle } = d.single!;
    const [q] = rttRatioTables({ ...d, single: quickSingle });
    expect(q!.rows.some((r) => String(r[0]).includes('plain TCP'))).toBe(false);
    expect(q!.notes!.join(' ')).toContain('full run only');
  });

  it('plans the quick and full runs as the issue asks', () => {
    // Every scheduler with CUBIC; minrtt (and in full mode ecf) also with the loss-tolerant bbr.
    // minrtt also with both paths over WebSocket (issue 16: both paths must carry their share there).
    expect(aggregationPlan(true).schedulers).toEqual(['minrtt', 'roundrobin', 'blest', 'ecf', 'redundant', 'minrtt+bbr', 'minrtt@ws']);
    expect(aggregationPlan(false).schedulers).toEqual(expect.arrayContaining(['overflow', 'backup', 'minrtt', 'roundrobin', 'redundant', 'blest', 'ecf', 'minrtt+bbr', 'ecf+bbr', 'minrtt@ws']));
    expect(aggregationPlan(false).schedulers).toHaveLength(10);
    expect(rttRatioPlan(true).schedulers).toEqual(['minrtt', 'roundrobin', 'redundant', 'blest', 'ecf']);
    expect([rttRatioPlan(true).tcpReference, rttRatioPlan(false).tcpReference]).toEqual([false, true]);
    expect([aggregationSection.id, aggregationSection.title, rttSection.id, rttSection.title]).toEqual(['aggregation', '1. Aggregation', 'rtt-ratio', '2. Very different RTTs']);
  });
});

describe('aggregation sections through the real apps (tiny windows)', () => {
  const seed = 20_240_611;
  it('runs section 1 for one scheduler with its single-path references', async () => {
    console.log(`bench-aggregation smoke seed ${seed}`);
    const lines: string[] = [];
    const r = await runAggregation({ seed, schedulers: ['minrtt'], seconds: 0.5, warmupSeconds: 0.2, log: (l) => lines.push(l) });
    const d = r.data as AggregationData;
    expect(d.seed).toBe(seed);
    expect(d.single?.error).toBeUndefined();
    expect(d.runs[0]?.error).toBeUndefined();
    const windows = [d.runs[0]!.download, d.runs[0]!.upload, d.single!.mptun.download, d.single!.mptun.upload, d.single!.mptunLossless.download, d.single!.tcp.download, d.single!.tcp.upload];
    // Bytes flowed every way (no figure is asserted: speed is reported, not tested).
    for (const w of windows) expect(w!.bytes).toBeGreaterThan(0);
    expect(d.runs[0]!.download!.peakReceiveBuffered).toEqual(expect.any(Number));
    expect(d.runs[0]!.download!.linkBytes['wifi']! + d.runs[0]!.download!.linkBytes['lte']!).toBeGreaterThan(0);
    expect(d.single!.tcp.download!.linkBytes['wifi-tcp']).toBeGreaterThan(0);
    expect(r.tables[0]!.rows.length).toBe(1 + 5);
    expect(r.plots.map((p) => p.file)).toEqual(['aggregation-goodput']);
    expect(lines.some((l) => l.startsWith('aggregation: minrtt download'))).toBe(true);
    expect(JSON.parse(JSON.stringify(r.data))).toEqual(r.data);
  }, 60_000);

  it('runs section 2 for one scheduler and reads the receive-buffer peak while the connection is open', async () => {
    const r = await runRttRatio({ seed, schedulers: ['blest'], seconds: 0.5, warmupSeconds: 0.2 });
    const d = r.data as RttRatioData;
    expect(d.runs[0]?.error).toBeUndefined();
    expect(d.runs[0]!.download!.bytes).toBeGreaterThan(0);
    expect(d.runs[0]!.download!.peakReceiveBuffered).toEqual(expect.any(Number));
    expect(d.single!.mptun!.bytes).toBeGreaterThan(0);
    expect(d.single!.tcp!.bytes).toBeGreaterThan(0);
    expect(r.plots.map((p) => p.file)).toEqual(['rtt-ratio-goodput', 'rtt-ratio-receive-buffer']);
  }, 60_000);
});
