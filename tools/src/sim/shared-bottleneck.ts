/**
 * One MPTCP connection whose subflows all cross one shared bottleneck link, against a
 * competing connection through the same link: the setting in which coupled congestion
 * control (RFC 6356 §2's goal 2, "do no harm") should take no more than one flow's share.
 *
 *   mptcp host ──access0──┐                      ┌── server
 *   mptcp host ──access1──┼── bottleneck link ───┤
 *   competitor ──accessC──┘                      │
 *   (ACKs return over separate, uncongested links)
 */
import type { LinkOptions } from '@mptun/sim';
import { BulkTransfer } from './bulk-transfer.js';
import { Testbed } from './testbed.js';

export interface SharedBottleneckSpec {
  seed: number;
  /** Congestion controller of the multipath connection, and its number of subflows (≥ 1). */
  mptcpCc: string;
  mptcpSubflows: number;
  /** Congestion controller of the single-path competitor. */
  competitorCc: string;
  /** The shared link (client → server direction). */
  bottleneck: LinkOptions;
  /** One-way delay of each access link in front of the bottleneck, ms (the MPTCP subflows' first, then the competitor's). */
  accessDelaysMs: readonly number[];
  /** When the competitor starts writing, ms (default 0: both at once). */
  competitorStartMs?: number;
  warmupMs: number;
  measureMs: number;
}

export interface SharedBottleneckResult {
  mptcpBps: number;
  competitorBps: number;
  /** The multipath connection's goodput over an equal split of the two connections' total. */
  shareOverFair: number;
  /** Both connections' goodput over the bottleneck's rate. */
  utilization: number;
  intact: boolean;
}

export function runSharedBottleneck(spec: SharedBottleneckSpec): SharedBottleneckResult {
  if (!Number.isInteger(spec.mptcpSubflows) || spec.mptcpSubflows < 1) throw new RangeError('mptcpSubflows must be an integer >= 1');
  if (spec.accessDelaysMs.length !== spec.mptcpSubflows + 1) {
    throw new RangeError(`accessDelaysMs needs ${spec.mptcpSubflows + 1} entries (one per subflow, then the competitor)`);
  }
  const tb = new Testbed({ seed: spec.seed });
  const mp = tb.addHost('mptcp', { cc: spec.mptcpCc });
  const rival = tb.addHost('competitor', { cc: spec.competitorCc });
  const server = tb.addHost('server');
  const bottleneck = tb.link('bottleneck', spec.bottleneck);
  const bottleneckDelay = spec.bottleneck.delayMs ?? 0;
  const route = (host: typeof mp, i: number, accessDelay: number): ReturnType<Testbed['addRoute']> =>
    tb.addRoute(
      host,
      server,
      [tb.link(`${host.name}.access${i}`, { delayMs: accessDelay }), bottleneck],
      // The return path has the same propagation delay and no queue worth speaking of.
      tb.link(`${host.name}.return${i}`, { delayMs: accessDelay + bottleneckDelay }),
      `${host.name}#${i}`,
    );
  const mpRoutes = [];
  for (let i = 0; i < spec.mptcpSubflows; i++) mpRoutes.push(route(mp, i, spec.accessDelaysMs[i]!));
  const rivalRoute = route(rival, 0, spec.accessDelaysMs[spec.mptcpSubflows]!);
  const mpBulk = tb.add(new BulkTransfer(tb, tb.connect(mpRoutes), { seed: spec.seed }));
  const rivalBulk = tb.add(new BulkTransfer(tb, tb.connect([rivalRoute]), { seed: spec.seed + 1, startAt: spec.competitorStartMs ?? 0 }));
  tb.run(spec.warmupMs);
  const mp0 = mpBulk.read;
  const rival0 = rivalBulk.read;
  tb.run(spec.warmupMs + spec.measureMs);
  const mptcpBps = ((mpBulk.read - mp0) * 8000) / spec.measureMs;
  const competitorBps = ((rivalBulk.read - rival0) * 8000) / spec.measureMs;
  const total = mptcpBps + competitorBps;
  return {
    mptcpBps,
    competitorBps,
    shareOverFair: total > 0 ? mptcpBps / (total / 2) : NaN,
    utilization: total / (spec.bottleneck.rateBps ?? Infinity),
    intact: mpBulk.firstMismatch < 0 && rivalBulk.firstMismatch < 0,
  };
}
