/**
 * Memory of tunnels whose client never reads (issue 14 item 8), against the real mptun-server
 * and mptun-client CLIs: a target sends without end into tunnels nobody reads, and the server's
 * own account of what it buffers (mptun_buffered_bytes: engine, MPTCP streams, target sockets)
 * is divided by the tunnels. Fails above 1 MiB per stalled tunnel with the default limits
 * (connectionBuffer 1 MiB), and when a server-wide bufferBudget, or one client key's
 * clientBufferBudget, smaller than the tunnels' sum does not bound what their engines hold
 * together. Prints RSS too (judged elsewhere:
 * it rarely shrinks).
 */
import { TestResources } from '../../apps/server/test/cli-apps.js';
import { describeStalled, measureStalledTunnels, MiB, type StalledFigures } from '../../apps/server/test/stalled-tunnels.js';
import type { TortureCheck, TortureOptions, TortureResult } from './types.js';

/** The goal for one stalled tunnel, all layers together. */
export const PER_TUNNEL_LIMIT = MiB;
/** What every connection keeps whatever the budget (core BUDGET_FLOOR), each way. */
const BUDGET_FLOOR = 64 * 1024;
/** The budget of the second round: about a third of what the tunnels hold without it (768 KiB each), at least the config's 1 MiB. */
export const smallBudget = (tunnels: number): number => Math.max(1, Math.floor(tunnels / 4)) * MiB;

export const stalledSizes = { ci: { tunnels: 8 }, long: { tunnels: 48 } };

async function measure(tunnels: number, limits: Record<string, unknown>): Promise<StalledFigures> {
  const res = new TestResources();
  try {
    return await measureStalledTunnels(res, tunnels, limits);
  } finally {
    await res.release();
  }
}

export async function runStalledMemory(opts: TortureOptions, tunnels: number): Promise<TortureResult> {
  const failures: string[] = [];
  const mib = (b: number): string => `${(b / MiB).toFixed(2)} MiB`;

  const plain = await measure(tunnels, {});
  const perTunnelLine = `default limits: ${mib(plain.perTunnel)} per stalled tunnel (limit ${mib(PER_TUNNEL_LIMIT)}); ${describeStalled(plain)}`;
  if (plain.held.open !== tunnels) failures.push(`${plain.held.open} of ${tunnels} tunnels were open while stalled`);
  if (plain.perTunnel > PER_TUNNEL_LIMIT) failures.push(`one stalled tunnel holds ${mib(plain.perTunnel)} (limit ${mib(PER_TUNNEL_LIMIT)})`);
  if (plain.held.send < tunnels * BUDGET_FLOOR) failures.push(`the engines hold only ${mib(plain.held.send)}: the tunnels did not fill, so the figure means nothing`);

  const SMALL_BUDGET = smallBudget(tunnels);
  // The server-wide budget, then one client key's share of it (the tunnels are all one
  // client's): either one smaller than the tunnels' sum bounds what their engines hold.
  const rounds: Array<{ key: 'bufferBudget' | 'clientBufferBudget'; figures: StalledFigures }> = [];
  for (const key of ['bufferBudget', 'clientBufferBudget'] as const) rounds.push({ key, figures: await measure(tunnels, { [key]: `${SMALL_BUDGET / MiB}MiB` }) });
  const budgetLines = rounds.map(({ key, figures }) => {
    const engine = figures.held.send + figures.held.receive;
    const bound = SMALL_BUDGET + (tunnels + 1) * BUDGET_FLOOR;
    if (engine > bound) failures.push(`with ${key} ${mib(SMALL_BUDGET)} the engines hold ${mib(engine)} (bound ${mib(bound)})`);
    if (figures.held.send < SMALL_BUDGET * 0.9) failures.push(`with ${key} ${mib(SMALL_BUDGET)} the engines hold only ${mib(figures.held.send)}: the budget never filled, so the bound means nothing`);
    return `${key} ${mib(SMALL_BUDGET)}: the ${tunnels} stalled tunnels' engines hold ${mib(engine)} together (bound ${mib(bound)}, ${mib(plain.held.send + plain.held.receive)} without the budget), ${mib(figures.perTunnel)} per tunnel in all`;
  });
  for (const f of [plain, ...rounds.map((r) => r.figures)]) if (f.after.open !== 0) failures.push(`${f.after.open} tunnels still open after every client socket closed`);

  if (failures.length > 0) throw new Error(`stalled-tunnel memory (seed ${opts.seed}):\n  ${failures.join('\n  ')}`);
  return { lines: [perTunnelLine, ...budgetLines], data: { tunnels, perTunnelLimit: PER_TUNNEL_LIMIT, defaults: plain, budget: { bytes: SMALL_BUDGET, figures: rounds[0]!.figures }, clientBudget: { bytes: SMALL_BUDGET, figures: rounds[1]!.figures } } };
}

export const stalledMemoryCheck: TortureCheck = {
  id: 'stalled-memory',
  title: 'Memory of tunnels whose client never reads: ≤ 1 MiB each with the defaults, bounded by the buffer budget',
  run: (opts) => runStalledMemory(opts, opts.long ? stalledSizes.long.tunnels : stalledSizes.ci.tunnels),
};
