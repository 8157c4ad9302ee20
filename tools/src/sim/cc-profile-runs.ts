/**
 * The three figures issue 16 asks of the default congestion controller, in the simulator on
 * the link emulator's own `wifi` and `lte` profiles (jitter, random loss both ways, their
 * queues), through the whole engine with minRTT: bulk goodput over both paths with the mean
 * queue it leaves, the longest reader stall when Wi-Fi goes down for 7 s, and the p99 of
 * 1 KB round trips beside a bulk download against the same with the paths idle.
 */
import { linkProfiles, type LinkOptions } from '@mptun/sim';
import { BulkTransfer } from './bulk-transfer.js';
import { RequestResponse } from './request-response.js';
import { percentileOf } from './stats.js';
import { Testbed, type Route } from './testbed.js';

export const WIFI_PROFILE = linkProfiles.wifi;
export const LTE_PROFILE = linkProfiles.lte;
/** 70 Mbit/s. */
export const PROFILE_SUM_BPS = (WIFI_PROFILE.rateBps ?? 0) + (LTE_PROFILE.rateBps ?? 0);
/** The Wi-Fi outage of the handover runs, ms. */
export const OUTAGE_MS = 7000;

/** Queuing delay a packet joining the route's forward (data) link would wait now, ms. */
function queueMs(route: Route, link: LinkOptions): number {
  return (route.forward[0]!.queueBytes * 8000) / (link.rateBps ?? Infinity);
}

export interface ProfileRun {
  goodputBps: number;
  /** Mean queuing delay on each path's data link over the measured stretch, ms. */
  wifiQueueMs: number;
  lteQueueMs: number;
  /** Longest silence at the reader from the Wi-Fi cut to the end, restore included, ms (cut runs only). */
  longestStallMs: number;
  intact: boolean;
}

/**
 * A bulk upload over wifi + lte from 0 to 20 s, measured after 5 s; with `cutAtMs`, Wi-Fi
 * goes down both ways then and comes back OUTAGE_MS later.
 */
export function profileRun(cc: string, seed: number, cutAtMs?: number): ProfileRun {
  const tb = new Testbed({ seed, cc, scheduler: 'minrtt', config: { mss: 1200 } });
  const client = tb.addHost('client');
  const server = tb.addHost('server');
  const wifi = tb.addSimpleRoute(client, server, WIFI_PROFILE, WIFI_PROFILE, 'wifi');
  const lte = tb.addSimpleRoute(client, server, LTE_PROFILE, LTE_PROFILE, 'lte');
  const session = tb.connect([wifi, lte]);
  const endMs = 20_000;
  const bulk = tb.add(new BulkTransfer(tb, session, { seed, stopAt: endMs, minGapMs: 1 }));
  if (cutAtMs !== undefined) {
    for (const link of [...wifi.forward, ...wifi.backward]) link.schedule([{ at: cutAtMs, down: true }, { at: cutAtMs + OUTAGE_MS, up: true }]);
  }
  const warmupMs = 5000;
  tb.run(warmupMs);
  const read0 = bulk.read;
  let wifiQueue = 0;
  let lteQueue = 0;
  let samples = 0;
  for (let t = warmupMs + 100; t <= endMs; t += 100) {
    tb.run(t);
    wifiQueue += queueMs(wifi, WIFI_PROFILE);
    lteQueue += queueMs(lte, LTE_PROFILE);
    samples++;
  }
  const stall = cutAtMs === undefined ? null : bulk.gaps.longestIn(cutAtMs, endMs, tb.now);
  return {
    goodputBps: ((bulk.read - read0) * 8000) / (endMs - warmupMs),
    wifiQueueMs: wifiQueue / samples,
    lteQueueMs: lteQueue / samples,
    longestStallMs: stall === null ? 0 : stall.end - stall.start,
    intact: bulk.firstMismatch < 0,
  };
}

export interface RoundTrips {
  p99Ms: number;
  /** Goodput of the download beside them, bit/s (0 when idle). */
  bulkBps: number;
  /** Every request was answered, byte-exact. */
  complete: boolean;
}

/** 1 KB round trips every 50 ms over wifi + lte for 10 s, beside a bulk download or with the paths idle. */
export function roundTrips(cc: string, seed: number, withBulk: boolean): RoundTrips {
  const tb = new Testbed({ seed, cc, scheduler: 'minrtt', config: { mss: 1200 } });
  const client = tb.addHost('client');
  const server = tb.addHost('server');
  const routes = [
    tb.addSimpleRoute(client, server, WIFI_PROFILE, WIFI_PROFILE, 'wifi'),
    tb.addSimpleRoute(client, server, LTE_PROFILE, LTE_PROFILE, 'lte'),
  ];
  const bulkSession = tb.connect(routes);
  const rrSession = tb.connect(routes);
  const bulk = withBulk ? tb.add(new BulkTransfer(tb, bulkSession, { seed, direction: 'down' })) : null;
  const startMs = 3000;
  const endMs = 13_000;
  const rr = tb.add(new RequestResponse(tb, rrSession, { intervalMs: 50, requestBytes: 1024, responseBytes: 1024, startAt: startMs, stopAt: endMs, seed: seed + 1 }));
  tb.run(startMs);
  const read0 = bulk?.read ?? 0;
  tb.run(endMs);
  const bulkBps = bulk ? ((bulk.read - read0) * 8000) / (endMs - startMs) : 0;
  tb.run(endMs + 2000, () => rr.latencies.length >= rr.sent);
  return { p99Ms: percentileOf(rr.latencies, 99), bulkBps, complete: rr.latencies.length === rr.sent && rr.mismatches === 0 };
}
