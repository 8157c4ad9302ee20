/**
 * The demo: download a generated file through SOCKS5 → mptun client → two emulated paths
 * (Wi-Fi on 127.0.0.2, LTE on 127.0.0.3) → mptun server → a local HTTP server; cut Wi-Fi
 * halfway; show each path live; end with the summary (rates against capacity, the handover
 * stall, the hash check).
 */
import { formatMbit, formatMiB, formatSeconds } from './format.js';
import { startFileServer, type FileServer } from './file-server.js';
import { ProgressView, type Output, type ProgressFrame } from './progress-view.js';
import { socksHttpGet, type DownloadResult } from './socks-http-get.js';
import { startTestbed, type Testbed } from './testbed.js';

export interface DemoOptions {
  /** File size in bytes. */
  sizeBytes: number;
  /** About how long the download should take; the paths' rates are chosen from it. */
  seconds: number;
  /** Cut Wi-Fi when half the file has arrived. */
  cut: boolean;
  out: Output;
  /** Seed of the emulated links (default: random, printed). */
  seed?: number;
}

export interface DemoSummary {
  ok: boolean;
  sizeBytes: number;
  sha256: string;
  hashVerified: boolean;
  durationMs: number;
  aggregateBps: number;
  beforeCutBps: number | null;
  afterCutBps: number | null;
  capacityBps: Record<string, number>;
  perPathBytes: Record<string, number>;
  cutAtMs: number | null;
  longestGapMs: number;
  longestGapAtMs: number;
  /** Longest gap in delivered bytes from the cut on (0 without a cut). */
  handoverStallMs: number;
  lines: string[];
}

const SAMPLE_MS = 500;
/** Wi-Fi gets twice LTE's rate, as on a typical laptop with a phone's hotspot. */
const WIFI_TO_LTE = 2;

/**
 * Link rates so the download takes about `seconds`: with the cut at half the bytes, the first
 * half moves at W+L = 3L and the second at L, so T = S/(2·3L) + S/(2L) = 2S/(3L).
 * Without the cut T = S/(3L). The rates count wire bytes, so goodput comes out a little lower.
 */
export function linkRates(sizeBytes: number, seconds: number, cut: boolean): { wifiBps: number; lteBps: number } {
  const bits = sizeBytes * 8;
  const lte = cut ? (2 * bits) / (3 * seconds) : bits / (3 * seconds);
  return { wifiBps: Math.round(WIFI_TO_LTE * lte), lteBps: Math.round(lte) };
}

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const view = new ProgressView(opts.out);
  const { wifiBps, lteBps } = linkRates(opts.sizeBytes, opts.seconds, opts.cut);
  let files: FileServer | null = null;
  let bed: Testbed | null = null;
  let sampler: NodeJS.Timeout | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  try {
    view.log(`mptun demo: ${formatMiB(opts.sizeBytes)} through SOCKS5 over two emulated paths${opts.cut ? ', Wi-Fi cut halfway' : ''}`);
    files = await startFileServer('127.0.0.1', { 'demo.bin': opts.sizeBytes });
    const file = files.files[0]!;
    view.log(`  http server   ${files.url(file.path)}  sha256 ${file.sha256.slice(0, 16)}…`);
    bed = await startTestbed({
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      paths: [
        { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi', rate: wifiBps } },
        { name: 'lte', local: '127.0.0.3', link: { profile: 'lte', rate: lteBps } },
      ],
    });
    const testbed = bed;
    view.log(`  mptun server  udp 127.0.0.1:${bed.serverPort} (mptun-server, sealed, fresh keys)`);
    for (const p of bed.emulator.paths) {
      const rate = p.name === 'wifi' ? wifiBps : lteBps;
      view.log(`  link ${p.name.padEnd(5)}    ${p.listen.host}:${p.listen.port} -> ${p.target.host}:${p.target.port}  ${p.name} profile at ${formatMbit(rate)}`);
    }
    view.log(`  link seed     ${bed.emulator.seed}`);
    view.log(`  socks5 proxy  ${bed.socks.host}:${bed.socks.port} (mptun-client, one path per link)`);

    const capacityBps: Record<string, number> = { wifi: wifiBps, lte: lteBps };
    const t0 = performance.now();
    let bytes = 0;
    let cutAtMs: number | null = null;
    let bytesAtCut = 0;
    // The handover stall: the longest gap between delivered chunks from the cut on.
    let lastChunkAt = 0;
    let handoverGapMs = 0;
    let handoverGapAt = 0;
    let prev = { at: 0, bytes: 0 };
    let totalBps = 0;
    const linkUp: Record<string, boolean> = { wifi: true, lte: true };
    const frame = (): ProgressFrame => {
      const now = performance.now() - t0;
      const paths = testbed.meter.sample(now);
      if (now > prev.at) totalBps = ((bytes - prev.bytes) * 8 * 1000) / (now - prev.at);
      prev = { at: now, bytes };
      return { elapsedMs: now, paths, linkUp, bytes, total: opts.sizeBytes, totalBps };
    };
    const download = socksHttpGet(bed.socks, files.url(file.path), (p) => {
      bytes = p.bytes;
      const t = performance.now() - t0;
      if (cutAtMs !== null) {
        const from = Math.max(lastChunkAt, cutAtMs);
        if (t - from > handoverGapMs) {
          handoverGapMs = t - from;
          handoverGapAt = from;
        }
      }
      lastChunkAt = t;
      if (opts.cut && cutAtMs === null && bytes >= opts.sizeBytes / 2) {
        cutAtMs = performance.now() - t0;
        bytesAtCut = bytes;
        testbed.emulator.down('wifi');
        linkUp.wifi = false;
        view.log(`t=${(cutAtMs / 1000).toFixed(1)}s  Wi-Fi cut (link emulator: wifi down) at ${formatMiB(bytes)}; carrying on over LTE`);
      }
    });
    sampler = setInterval(() => view.update(frame()), SAMPLE_MS);
    // Bounded: a stuck transfer ends the demo with an error instead of hanging.
    const limitMs = Math.max(30_000, opts.seconds * 3000);
    const timedOut = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => {
        download.abort();
        reject(new Error(`the download did not finish within ${formatSeconds(limitMs)}`));
      }, limitMs);
    });
    const result: DownloadResult = await Promise.race([download.done, timedOut]);
    clearInterval(sampler);
    sampler = null;
    const last = frame();
    view.finish(last);

    const durationMs = result.endedAt - result.firstByteAt;
    const perPathBytes = Object.fromEntries(last.paths.map((p) => [p.name, p.bytesDown]));
    const aggregateBps = (result.bytes * 8 * 1000) / Math.max(1, durationMs);
    const cutAt = cutAtMs as number | null;
    const beforeCutBps = cutAt === null ? null : (bytesAtCut * 8 * 1000) / Math.max(1, cutAt - (result.firstByteAt - t0));
    const afterCutBps = cutAt === null ? null : ((result.bytes - bytesAtCut) * 8 * 1000) / Math.max(1, result.endedAt - t0 - cutAt);
    const hashVerified = result.sha256 === file.sha256 && result.bytes === opts.sizeBytes && result.status === 200;
    const pathTotal = Object.values(perPathBytes).reduce((a, b) => a + b, 0);
    const share = (name: string): string => `${name} ${formatMiB(perPathBytes[name] ?? 0)} (${pathTotal > 0 ? ((100 * (perPathBytes[name] ?? 0)) / pathTotal).toFixed(0) : 0}%)`;
    const pct = (bps: number, cap: number): string => `${((100 * bps) / cap).toFixed(0)}%`;
    const sumCap = wifiBps + lteBps;
    const lines = [
      '== summary ==',
      `file            ${formatMiB(result.bytes)} in ${formatSeconds(durationMs)} (first byte after ${(result.firstByteAt - result.startedAt).toFixed(0)} ms)`,
      `aggregate rate  ${formatMbit(aggregateBps)} over the whole download`,
      cutAt === null
        ? `capacity        wifi ${formatMbit(wifiBps)} + lte ${formatMbit(lteBps)} = ${formatMbit(sumCap)}; achieved ${pct(aggregateBps, sumCap)}`
        : `before the cut  ${formatMbit(beforeCutBps!)} on wifi+lte (capacity ${formatMbit(wifiBps)} + ${formatMbit(lteBps)} = ${formatMbit(sumCap)}; ${pct(beforeCutBps!, sumCap)})`,
      ...(cutAt === null ? [] : [`after the cut   ${formatMbit(afterCutBps!)} on lte alone (capacity ${formatMbit(lteBps)}; ${pct(afterCutBps!, lteBps)})`]),
      `per path        ${share('wifi')}, ${share('lte')} (bytes received per subflow, retransmissions included)`,
      cutAt === null
        ? `longest stall   ${(result.longestGapMs / 1000).toFixed(2)} s (longest gap in delivered bytes)`
        : `handover stall  ${(handoverGapMs / 1000).toFixed(2)} s (longest gap in delivered bytes after the cut at t=${(cutAt / 1000).toFixed(1)}s, from t=${(handoverGapAt / 1000).toFixed(1)}s; longest over the whole download ${(result.longestGapMs / 1000).toFixed(2)} s)`,
      `sha256          ${result.sha256} ${hashVerified ? 'verified OK' : `MISMATCH (expected ${file.sha256})`}`,
    ];
    for (const line of lines) view.log(line);
    return {
      ok: hashVerified,
      sizeBytes: result.bytes,
      sha256: result.sha256,
      hashVerified,
      durationMs,
      aggregateBps,
      beforeCutBps,
      afterCutBps,
      capacityBps,
      perPathBytes,
      cutAtMs: cutAt,
      longestGapMs: result.longestGapMs,
      longestGapAtMs: result.longestGapAt - t0,
      handoverStallMs: handoverGapMs,
      lines,
    };
  } finally {
    if (sampler !== null) clearInterval(sampler);
    if (watchdog !== null) clearTimeout(watchdog);
    if (bed !== null) await bed.close();
    if (files !== null) await files.close();
  }
}
