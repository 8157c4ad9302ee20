/**
 * Timed bulk transfers through a bench rig (sections 1 and 2), measured with what the
 * figures need beside the goodput: bytes each emulated link carried in the same window,
 * the CPU the client and server spent, the client's receive-buffer peak read while the
 * connection is still open, and a settle step so one transfer's leftovers (bytes still
 * queued in the tunnel or on the links after the socket is gone) never count in the next.
 */
import type net from 'node:net';
import { connectSocks, connectTcp, Sampler, SinkCommand, type Rig } from '../rig/index.js';
import type { PathStats } from '@mptun/linkem';

export type Direction = 'download' | 'upload';

/** Where a transfer runs: through mptun (port forward / SOCKS5) or over a path's plain-TCP relay. */
export type Route = { kind: 'tunnel' } | { kind: 'reference'; path: string };

export interface BulkWindow {
  direction: Direction;
  route: string;
  warmupSeconds: number;
  /** Payload bytes in the measured window (after warm-up), and that window's length. */
  bytes: number;
  seconds: number;
  goodputBps: number;
  /** Bytes each emulated path delivered in the transfer's direction in the same window. */
  linkBytes: Record<string, number>;
  linkBps: Record<string, number>;
  /** Packets (or stream chunks) each path dropped in that direction in the window, by cause. */
  linkDrops: Record<string, Record<string, number>>;
  /** CPU seconds the client and server processes used in the window. */
  cpu: { clientSeconds: number; serverSeconds: number };
  /** The client's largest receive-buffer peak over its open connections (tunnel only). */
  peakReceiveBuffered: number | null;
  /** Cumulative payload bytes over time since the transfer started: [s, bytes]. */
  timeline: Array<[number, number]>;
  /**
   * How long the rig took to go quiet after the socket closed, whether it did within the
   * bound, and the payload the sink still got meanwhile (an upload's bytes the tunnel had
   * buffered). Null when the plan skipped settling (the rig's last transfer before close).
   */
  settle: { ms: number; settled: boolean; sinkBytesAfterClose: number } | null;
}

export interface BulkPlan {
  direction: Direction;
  route: Route;
  seconds: number;
  warmupSeconds: number;
  /** Wait for the rig to go quiet afterwards (default true); skip it before closing the rig. */
  settle?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TIMELINE_INTERVAL_MS = 100;
const UPLOAD_CHUNK = Buffer.alloc(64 * 1024, 0x61);

interface Snapshot {
  bytes: number;
  at: number;
  links: PathStats[];
  clientCpuUs: number;
  serverCpuUs: number;
}

/** Bytes that went the transfer's way on each path between two emulator snapshots. */
export function linkDelta(before: PathStats[], after: PathStats[], direction: Direction): { bytes: Record<string, number>; drops: Record<string, Record<string, number>> } {
  const bytes: Record<string, number> = {};
  const drops: Record<string, Record<string, number>> = {};
  for (const a of after) {
    const b = before.find((x) => x.name === a.name);
    if (!b) continue;
    // "down" is target → client, i.e. what a download travels on.
    const da = direction === 'download' ? a.down : a.up;
    const db = direction === 'download' ? b.down : b.up;
    bytes[a.name] = da.bytesDelivered - db.bytesDelivered;
    const d: Record<string, number> = {};
    for (const [cause, n] of Object.entries(da.dropped)) {
      const diff = n - ((db.dropped as unknown as Record<string, number>)[cause] ?? 0);
      if (diff > 0) d[cause] = diff;
    }
    drops[a.name] = d;
  }
  return { bytes, drops };
}

/**
 * One timed bulk transfer. Download: the sink streams to us; upload: we write and the sink
 * counts. The snapshot at each end of the window is taken as close together as IPC allows
 * (payload counter read right after the emulator answers), so link bytes and payload bytes
 * cover the same interval to within a millisecond or two.
 */
export async function measureBulk(rig: Rig, plan: BulkPlan): Promise<BulkWindow> {
  const { direction, route } = plan;
  const socket = await openRoute(rig, route, direction);
  let received = 0;
  let stop = false;
  let read: () => number;
  socket.on('error', () => {});
  if (direction === 'download') {
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.write(Buffer.from([SinkCommand.stream]));
    read = () => received;
  } else {
    const base = rig.sink.received;
    socket.write(Buffer.from([SinkCommand.upload]));
    const pump = (): void => {
      while (!stop && !socket.destroyed) if (!socket.write(UPLOAD_CHUNK)) return void socket.once('drain', pump);
    };
    pump();
    read = () => rig.sink.received - base;
  }
  const sampler = new Sampler(read, TIMELINE_INTERVAL_MS);
  const snapshot = async (): Promise<Snapshot> => {
    const [client, server] = await Promise.all([rig.clientSample(), rig.serverSample()]);
    const links = await rig.emulator.stats();
    return { bytes: read(), at: performance.now(), links, clientCpuUs: client.userUs + client.systemUs, serverCpuUs: server.userUs + server.systemUs };
  };
  let peak: number | null = null;
  let timeline: Array<[number, number]>;
  let start: Snapshot;
  let end: Snapshot;
  try {
    await sleep(plan.warmupSeconds * 1000);
    start = await snapshot();
    await sleep(plan.seconds * 1000);
    end = await snapshot();
    if (route.kind === 'tunnel') {
      // Read while the connection is open: a closed one is gone from the client's list.
      const c = await rig.clientSample();
      peak = c.connections.reduce((m, x) => Math.max(m, x.peakReceiveBuffered), 0);
    }
  } finally {
    stop = true;
    timeline = sampler.stop();
    socket.destroy();
  }
  const quiet = plan.settle === false ? null : await settle(rig);
  const seconds = (end.at - start.at) / 1000;
  const bytes = end.bytes - start.bytes;
  const delta = linkDelta(start.links, end.links, direction);
  const linkBps = Object.fromEntries(Object.entries(delta.bytes).map(([k, v]) => [k, (v * 8) / seconds]));
  return {
    direction,
    route: route.kind === 'tunnel' ? 'tunnel' : `reference:${route.path}`,
    warmupSeconds: plan.warmupSeconds,
    bytes,
    seconds,
    goodputBps: (bytes * 8) / seconds,
    linkBytes: delta.bytes,
    linkBps,
    linkDrops: delta.drops,
    cpu: { clientSeconds: (end.clientCpuUs - start.clientCpuUs) / 1e6, serverSeconds: (end.serverCpuUs - start.serverCpuUs) / 1e6 },
    peakReceiveBuffered: peak,
    timeline,
    settle: quiet,
  };
}

async function openRoute(rig: Rig, route: Route, direction: Direction): Promise<net.Socket> {
  if (route.kind === 'reference') return connectTcp(rig.reference(route.path));
  // Downloads through the port forward, uploads through SOCKS5: both entry points get used.
  return direction === 'download' ? connectTcp(rig.forward) : connectSocks(rig.socks, rig.sink.address);
}

const SETTLE_POLL_MS = 100;
const SETTLE_MAX_MS = 8_000;
/** Bytes still queued or propagating on all links together that count as "quiet" (keepalives, ACKs). */
const QUIET_LINK_BYTES = 4096;

/**
 * Waits until the sink has no connection left, nothing but crumbs sits on the links and the
 * sink's byte counter stopped moving — bounded, so a stuck tunnel cannot hang the suite.
 */
export async function settle(rig: Rig, maxMs = SETTLE_MAX_MS): Promise<{ ms: number; settled: boolean; sinkBytesAfterClose: number }> {
  const t0 = performance.now();
  const received0 = rig.sink.received;
  let lastReceived = received0;
  for (let i = 0; i * SETTLE_POLL_MS < maxMs; i++) {
    await sleep(SETTLE_POLL_MS);
    const stats = await rig.emulator.stats();
    const onLinks = stats.reduce((s, p) => s + p.up.queueBytes + p.up.inFlightBytes + p.down.queueBytes + p.down.inFlightBytes, 0);
    const moved = rig.sink.received !== lastReceived;
    lastReceived = rig.sink.received;
    if (rig.sink.open === 0 && onLinks <= QUIET_LINK_BYTES && !moved) return { ms: performance.now() - t0, settled: true, sinkBytesAfterClose: rig.sink.received - received0 };
  }
  return { ms: performance.now() - t0, settled: false, sinkBytesAfterClose: rig.sink.received - received0 };
}
