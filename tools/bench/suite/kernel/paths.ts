/**
 * The two emulated paths of the kernel-MPTCP run and the addresses inside the namespaces.
 * Rates, delays, jitter, loss and queue depth come from the same 'wifi' and 'lte' profiles
 * the mptun sections use (packages/sim/src/profiles.ts), so the scenarios match.
 */
import { linkProfiles, type LinkProfileName } from '@mptun/sim';
import type { QueueLimit } from '@mptun/sim';

export interface KernelPath {
  /** Profile name, also the delay line's name for the path ("wifi", "lte"). */
  name: LinkProfileName;
  rateBps: number;
  delayMs: number;
  jitterMs: number;
  loss: number;
  /** Bottleneck queue in milliseconds at the path's rate (tbf `latency`). */
  queueMs: number;
  /** Client-side subnet 10.231.<clientNet>.0/24 and server-side 10.231.<serverNet>.0/24. */
  clientNet: number;
  serverNet: number;
  /** Policy-routing table numbers used in the router and the client. */
  table: number;
}

/** The profile's queue as time at its rate (tbf sizes its queue by `latency`). */
function queueMs(q: QueueLimit | undefined, rateBps: number | undefined): number {
  if (q === undefined) return 100;
  if ('ms' in q) return q.ms;
  return rateBps !== undefined && rateBps > 0 ? ((q.bytes * 8) / rateBps) * 1000 : 100;
}

function fromProfile(name: LinkProfileName, clientNet: number, serverNet: number, table: number): KernelPath {
  const p = linkProfiles[name];
  return {
    name,
    rateBps: p.rateBps ?? 0,
    delayMs: p.delayMs ?? 0,
    jitterMs: p.jitterMs ?? 0,
    loss: p.loss ?? 0,
    queueMs: queueMs(p.queue, p.rateBps),
    clientNet,
    serverNet,
    table,
  };
}

/** Path A ("wifi", the first and the one cut in the handover run) and path B ("lte"). */
export function kernelPaths(): [KernelPath, KernelPath] {
  return [fromProfile('wifi', 1, 3, 101), fromProfile('lte', 2, 4, 102)];
}

export const SUBNET_PREFIX = '10.231';

/** Address `host` on subnet `net`: 0 the network itself, 1 the client or server end, 2 the router end. */
export function addr(net: number, host: 0 | 1 | 2): string {
  return `${SUBNET_PREFIX}.${net}.${host}`;
}

/** The server listens on its path-A address; path B reaches it through the router as well. */
export function serverAddress(paths: readonly KernelPath[]): string {
  const a = paths[0];
  if (!a) throw new Error('no paths');
  return addr(a.serverNet, 1);
}

/** Interface names (at most 15 characters) of one path in each namespace. */
export function ifaceNames(path: KernelPath): { client: string; routerClient: string; routerServer: string; server: string; tun: string } {
  return {
    client: `c-${path.name}`,
    routerClient: `rc-${path.name}`,
    routerServer: `rs-${path.name}`,
    server: `s-${path.name}`,
    tun: `t-${path.name}`,
  };
}
