/**
 * StatusTracker: samples an MptcpClient's paths and the sockets registered with it every
 * 500 ms and turns the subflow counters into per-path rates, RTT and loss, per-connection
 * totals, and a bounded history for charts.
 *
 * Counters are accumulated as deltas per (socket, subflow), so a path's totals keep what
 * closed connections carried. Path byte counts are payload bytes on the wire, retransmissions
 * included; a connection's counts leave retransmissions out. Rates (upBps, downBps) are in
 * bytes per second; displays convert to bit/s.
 */
import type { PathState, SubflowInfo } from '@mptun/node';
import type { ClientSummary, PathStatus, ConnectionStatus, StatusSnapshot, StatusHistory, PathSeries } from './types.js';

/** A connection the app opened, as its registry lists it. */
export interface TrackedConnection {
  socket: TrackedSocket;
  /** "host:port" the connection was opened to. */
  target: string;
  /** When it was opened (the tracker's clock); default: when the tracker first saw it. */
  since?: number;
}

/** A path event as MptcpClient emits it ('path-up', 'path-down', 'path-error'). */
export interface PathEvent {
  localAddress: string;
  error?: unknown;
  /** 'path-down': why the path ended. */
  reason?: string;
}

/**
 * What the tracker reads: the client's paths, and the connections the app opened through it
 * (client-app.ts passes MptcpClient's paths with its ConnectionRegistry's list). When `on` is
 * there, path events give the reason a path is down.
 */
export interface TrackedClient {
  /** `state` says more than `up` (connecting, idle) where the client knows it; else up or down. */
  pathList(): Array<{ localAddress: string; transport: string; backup: boolean; up: boolean; state?: PathState; reason?: string | null }>;
  connections?(): Iterable<TrackedConnection>;
  on?(event: 'path-up' | 'path-down' | 'path-error', listener: (e: PathEvent) => void): unknown;
  off?(event: 'path-up' | 'path-down' | 'path-error', listener: (e: PathEvent) => void): unknown;
}

/** What the tracker reads from a socket (MptcpSocket satisfies it). */
export interface TrackedSocket {
  readonly connectionId: number | undefined;
  subflows(): SubflowInfo[];
  once(event: 'close', listener: () => void): unknown;
}

export interface TrackerOptions {
  /** Sampling period. Default 500 ms. */
  intervalMs?: number;
  /** Rates are taken over this much of the past. Default 1000 ms. */
  rateWindowMs?: number;
  /** How much history to keep for charts. Default 5 minutes. */
  historyMs?: number;
  /** Display names per local address (e.g. interface names); default the address itself. */
  names?: Record<string, string>;
  /** The clock, in milliseconds. Default Date.now. */
  now?: () => number;
  /** The app's own figures (server, listeners, totals, version, uptime) for the snapshot. */
  summary?: () => ClientSummary;
}

/** Cumulative counters of one path at one sample. */
interface CounterSample {
  t: number;
  bytesUp: number;
  bytesDown: number;
  segmentsSent: number;
  retransmissions: number;
}

interface PathRecord {
  localAddress: string;
  totals: Omit<CounterSample, 't'>;
  /** Recent cumulative samples, enough to cover the rate window. */
  recent: CounterSample[];
  series: PathSeries;
  rttMs: number | null;
  mssBytes: number | null;
}

type SubflowCounters = Pick<SubflowInfo, 'bytesSent' | 'bytesReceived' | 'bytesRetransmitted' | 'segmentsSent' | 'retransmissions'>;

interface ConnectionState {
  socket: TrackedSocket;
  target: string;
  since: number;
  closed: boolean;
  /** Last counters seen per subflow id (subflows may vanish from the list once closed). */
  subflows: Map<number, SubflowCounters & { localAddress: string; state: string }>;
}

export class StatusTracker {
  readonly intervalMs: number;
  private readonly rateWindowMs: number;
  private readonly historyLength: number;
  private readonly names: Record<string, string>;
  private readonly clock: () => number;
  private readonly paths = new Map<string, PathRecord>();
  private readonly connections = new Set<ConnectionState>();
  /** Sockets already followed, so a registry's list can be read at every sample. */
  private readonly followed = new WeakSet<TrackedSocket>();
  /** Why each path that is down went down, from the client's path events. */
  private readonly downReasons = new Map<string, string>();
  private readonly summary: (() => ClientSummary) | undefined;
  private timer: NodeJS.Timeout | null = null;
  private lastSampleAt: number | null = null;

  constructor(
    private readonly client: TrackedClient,
    opts: TrackerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.rateWindowMs = opts.rateWindowMs ?? 1000;
    this.historyLength = Math.max(1, Math.ceil((opts.historyMs ?? 300_000) / this.intervalMs));
    this.names = opts.names ?? {};
    this.clock = opts.now ?? Date.now;
    this.summary = opts.summary;
  }

  private readonly onPathUp = (e: PathEvent): void => {
    this.downReasons.delete(e.localAddress);
  };
  private readonly onPathDown = (e: PathEvent): void => {
    if (e.reason !== undefined) this.downReasons.set(e.localAddress, e.reason);
    else if (!this.downReasons.has(e.localAddress)) this.downReasons.set(e.localAddress, 'the server stopped answering on this path');
  };
  private readonly onPathError = (e: PathEvent): void => {
    this.downReasons.set(e.localAddress, e.error instanceof Error ? e.error.message : String(e.error));
  };

  /** Follow a connection until it closes; its final counters are read at the next sample. */
  private follow(conn: TrackedConnection): void {
    this.followed.add(conn.socket);
    const state: ConnectionState = { socket: conn.socket, target: conn.target, since: conn.since ?? this.clock(), closed: false, subflows: new Map() };
    this.connections.add(state);
    conn.socket.once('close', () => {
      state.closed = true;
    });
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Sample now and every intervalMs from now on (the timer does not hold the process). */
  start(): void {
    if (this.timer) return;
    this.client.on?.('path-up', this.onPathUp);
    this.client.on?.('path-down', this.onPathDown);
    this.client.on?.('path-error', this.onPathError);
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.client.off?.('path-up', this.onPathUp);
    this.client.off?.('path-down', this.onPathDown);
    this.client.off?.('path-error', this.onPathError);
  }

  /** Read every path and socket once. */
  sample(now: number = this.clock()): void {
    // A sample that does not advance the clock would make a zero-length rate window.
    if (this.lastSampleAt !== null && now <= this.lastSampleAt) return;
    this.lastSampleAt = now;
    for (const p of this.client.pathList()) this.pathState(p.localAddress);
    for (const c of this.client.connections?.() ?? []) if (!this.followed.has(c.socket)) this.follow(c);
    const rtts = new Map<string, number[]>();
    /** Largest MSS among the live subflows of each path. */
    const mss = new Map<string, number>();
    for (const conn of [...this.connections]) {
      for (const sf of conn.socket.subflows()) {
        const path = this.pathState(sf.localAddress);
        const prev = conn.subflows.get(sf.id);
        // Counters only grow; a smaller value means a new subflow reused the id.
        const base = prev && prev.bytesSent <= sf.bytesSent && prev.bytesReceived <= sf.bytesReceived ? prev : zeroCounters;
        path.totals.bytesUp += sf.bytesSent - base.bytesSent;
        path.totals.bytesDown += sf.bytesReceived - base.bytesReceived;
        path.totals.segmentsSent += sf.segmentsSent - base.segmentsSent;
        path.totals.retransmissions += sf.retransmissions - base.retransmissions;
        conn.subflows.set(sf.id, { ...pickCounters(sf), localAddress: sf.localAddress, state: sf.state });
        if (sf.state !== 'closed') mss.set(sf.localAddress, Math.max(mss.get(sf.localAddress) ?? 0, sf.mssBytes));
        if (sf.state !== 'closed' && sf.srttMs > 0) {
          const list = rtts.get(sf.localAddress) ?? [];
          list.push(sf.srttMs);
          rtts.set(sf.localAddress, list);
        }
      }
      if (conn.closed) this.connections.delete(conn);
    }
    for (const path of this.paths.values()) {
      const list = rtts.get(path.localAddress);
      path.rttMs = list ? list.reduce((a, b) => a + b, 0) / list.length : null;
      path.mssBytes = mss.get(path.localAddress) ?? null;
      path.recent.push({ t: now, ...path.totals });
      // Keep one sample at or before the window's start, and everything after it.
      while (path.recent.length > 2 && path.recent[1]!.t <= now - this.rateWindowMs) path.recent.shift();
      const rates = this.rates(path);
      const s = path.series;
      s.t.push(now);
      s.upBps.push(rates.upBps);
      s.downBps.push(rates.downBps);
      s.rttMs.push(path.rttMs);
      s.lossRate.push(rates.lossRate);
      if (s.t.length > this.historyLength) {
        s.t.shift();
        s.upBps.shift();
        s.downBps.shift();
        s.rttMs.shift();
        s.lossRate.shift();
      }
    }
  }

  /** The apps-common status JSON, as of the last sample. */
  snapshot(): StatusSnapshot {
    const now = this.lastSampleAt ?? this.clock();
    const listed = new Map<string, { transports: string[]; backup: boolean; state: PathState; reason: string | null }>();
    for (const p of this.client.pathList()) {
      const state = p.state ?? (p.up ? 'up' : 'down');
      // Paths sharing a local address (one per transport) are one row: subflows name only the address.
      const seen = listed.get(p.localAddress);
      if (seen) {
        if (!seen.transports.includes(p.transport)) seen.transports.push(p.transport);
        seen.backup &&= p.backup;
        if (STATE_RANK[state] > STATE_RANK[seen.state]) seen.state = state;
        seen.reason ??= p.reason ?? null;
      } else {
        listed.set(p.localAddress, { transports: [p.transport], backup: p.backup, state, reason: p.reason ?? null });
      }
    }
    const paths: PathStatus[] = [];
    const addresses = new Set([...listed.keys(), ...this.paths.keys()]);
    for (const address of addresses) {
      const state = this.paths.get(address);
      const info = listed.get(address);
      const rates = state ? this.rates(state) : { upBps: 0, downBps: 0, lossRate: 0 };
      // A path not in the client's list (added to one socket only) is up while it carries subflows.
      let shown: PathState = info ? info.state : this.hasLiveSubflow(address) ? 'up' : 'idle';
      // A plain path with no connection now whose last attempt went unanswered stays down.
      if (shown === 'idle' && this.downReasons.has(address)) shown = 'down';
      paths.push({
        name: this.names[address] ?? address,
        localAddress: address,
        transport: info ? info.transports.join('+') : 'unknown',
        state: shown,
        up: shown === 'up',
        downReason: shown === 'down' ? (this.downReasons.get(address) ?? info?.reason ?? 'not connected yet') : null,
        backup: info ? info.backup : false,
        rttMs: state?.rttMs ?? null,
        mssBytes: state?.mssBytes ?? null,
        ...rates,
        bytesUp: state?.totals.bytesUp ?? 0,
        bytesDown: state?.totals.bytesDown ?? 0,
        retransmissions: state?.totals.retransmissions ?? 0,
      });
    }
    const connections: ConnectionStatus[] = [...this.connections].map((c) => {
      let bytesUp = 0;
      let bytesDown = 0;
      let live = 0;
      for (const sf of c.subflows.values()) {
        bytesUp += sf.bytesSent - sf.bytesRetransmitted;
        bytesDown += sf.bytesReceived;
        if (sf.state !== 'closed') live++;
      }
      return { id: c.socket.connectionId ?? null, target: c.target, bytesUp, bytesDown, subflows: live, ageMs: Math.max(0, now - c.since) };
    });
    return { time: now, paths, connections, ...(this.summary ? { client: this.summary() } : {}) };
  }

  /** Per-path series over the kept history (parallel arrays, oldest first). */
  history(): StatusHistory {
    const paths: StatusHistory['paths'] = [];
    for (const [address, state] of this.paths) {
      const s = state.series;
      paths.push({
        name: this.names[address] ?? address,
        localAddress: address,
        t: [...s.t],
        upBps: [...s.upBps],
        downBps: [...s.downBps],
        rttMs: [...s.rttMs],
        lossRate: [...s.lossRate],
      });
    }
    return { intervalMs: this.intervalMs, historyMs: this.historyLength * this.intervalMs, paths };
  }

  private pathState(localAddress: string): PathRecord {
    let p = this.paths.get(localAddress);
    if (!p) {
      p = {
        localAddress,
        totals: { bytesUp: 0, bytesDown: 0, segmentsSent: 0, retransmissions: 0 },
        recent: [],
        series: { t: [], upBps: [], downBps: [], rttMs: [], lossRate: [] },
        rttMs: null,
        mssBytes: null,
      };
      this.paths.set(localAddress, p);
    }
    return p;
  }

  /** Rates between the newest sample and the one at (or just before) the window's start. */
  private rates(path: PathRecord): { upBps: number; downBps: number; lossRate: number } {
    const last = path.recent[path.recent.length - 1];
    const first = path.recent[0];
    if (!last || !first || last.t <= first.t) return { upBps: 0, downBps: 0, lossRate: 0 };
    const seconds = (last.t - first.t) / 1000;
    const segments = last.segmentsSent - first.segmentsSent;
    const retrans = last.retransmissions - first.retransmissions;
    return {
      upBps: (last.bytesUp - first.bytesUp) / seconds,
      downBps: (last.bytesDown - first.bytesDown) / seconds,
      lossRate: segments > 0 ? Math.min(1, retrans / segments) : 0,
    };
  }

  private hasLiveSubflow(address: string): boolean {
    for (const c of this.connections) {
      for (const sf of c.subflows.values()) if (sf.localAddress === address && sf.state !== 'closed') return true;
    }
    return false;
  }
}

/** Which state a row shows when several paths share its local address. */
const STATE_RANK: Record<PathState, number> = { idle: 0, down: 1, connecting: 2, up: 3 };

const zeroCounters: SubflowCounters = { bytesSent: 0, bytesReceived: 0, bytesRetransmitted: 0, segmentsSent: 0, retransmissions: 0 };

function pickCounters(sf: SubflowInfo): SubflowCounters {
  return {
    bytesSent: sf.bytesSent,
    bytesReceived: sf.bytesReceived,
    bytesRetransmitted: sf.bytesRetransmitted,
    segmentsSent: sf.segmentsSent,
    retransmissions: sf.retransmissions,
  };
}
