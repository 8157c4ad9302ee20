/**
 * Subflow metrics both apps export, and the counters behind them. A Prometheus counter
 * must never go down, yet an open connection's figures leave the live sum when it closes:
 * closed connections are folded in on 'close' (with the largest figures read from them),
 * and every read is held at or above the last.
 */
import type { Registry } from 'prom-client';
import { byLabel, counterOf, gaugeOf, type Series } from './read-at-scrape.js';

export interface SubflowFigures {
  bytesSent: number;
  bytesReceived: number;
  retransmissions: number;
}

/** One subflow as @mptun/node's MptcpSocket.subflows() describes it (the fields read here). */
export interface SubflowSample extends SubflowFigures {
  state: string;
  srttMs: number;
  /** Largest payload per segment now (path MTU discovery moves it on sealed UDP). */
  mssBytes: number;
  localAddress: string;
  localPort: number;
}

/** What is read of a connection: its subflows now, and a 'close' event. */
export interface CountedConnection {
  subflows(): SubflowSample[];
  once(event: 'close', listener: () => void): unknown;
}

const ZERO: SubflowFigures = { bytesSent: 0, bytesReceived: 0, retransmissions: 0 };

function sum(into: SubflowFigures, list: SubflowFigures[]): SubflowFigures {
  const out = { ...into };
  for (const f of list) {
    out.bytesSent += f.bytesSent;
    out.bytesReceived += f.bytesReceived;
    out.retransmissions += f.retransmissions;
  }
  return out;
}

const larger = (a: SubflowFigures, b: SubflowFigures): SubflowFigures => ({
  bytesSent: Math.max(a.bytesSent, b.bytesSent),
  bytesReceived: Math.max(a.bytesReceived, b.bytesReceived),
  retransmissions: Math.max(a.retransmissions, b.retransmissions),
});

export class SubflowCounters {
  private closed: SubflowFigures = { ...ZERO };
  private last: SubflowFigures = { ...ZERO };
  /** Open connections, with the largest figures read from each so far. */
  private readonly live = new Map<CountedConnection, SubflowFigures>();

  /** Count `conn` from now until it closes, and after. */
  track(conn: CountedConnection): void {
    if (this.live.has(conn)) return;
    this.live.set(conn, { ...ZERO });
    conn.once('close', () => {
      // A closed connection may list fewer subflows (or none): what was read before stands.
      const final = larger(this.live.get(conn)!, sum(ZERO, conn.subflows()));
      this.live.delete(conn);
      this.closed = sum(this.closed, [final]);
    });
  }

  /** Totals over every connection tracked, never below an earlier read. */
  totals(): SubflowFigures {
    let now = this.closed;
    for (const [conn, seen] of this.live) {
      const figures = larger(seen, sum(ZERO, conn.subflows()));
      this.live.set(conn, figures);
      now = sum(now, [figures]);
    }
    this.last = larger(this.last, now);
    return { ...this.last };
  }
}

/**
 * Subflow metrics both apps export: open subflows and their mean smoothed RTT per `label`
 * (a value from a bounded set: a listen address, a local path address), retransmissions
 * and bytes carried, all connections together.
 */
export function registerSubflowMetrics(
  registry: Registry,
  sockets: () => Array<{ subflows(): SubflowSample[] }>,
  subflows: SubflowCounters,
  label: string,
  labelOf: (f: SubflowSample) => string,
): void {
  interface PerLabel {
    n: number;
    rttSum: number;
    mssMax: number;
  }
  const perLabel = (): Map<string, PerLabel> => {
    const out = new Map<string, PerLabel>();
    for (const s of sockets()) {
      for (const f of s.subflows()) {
        if (f.state === 'closed') continue;
        const e = out.get(labelOf(f)) ?? { n: 0, rttSum: 0, mssMax: 0 };
        e.n++;
        e.rttSum += f.srttMs;
        e.mssMax = Math.max(e.mssMax, f.mssBytes);
        out.set(labelOf(f), e);
      }
    }
    return out;
  };
  const series = (value: (e: PerLabel) => number): Series => [...perLabel()].map(([k, e]) => [{ [label]: k }, value(e)]);
  gaugeOf(registry, 'mptun_subflows', `Subflows open, per ${label}.`, () => series((e) => e.n), [label]);
  gaugeOf(registry, 'mptun_subflow_srtt_seconds', `Mean smoothed RTT of the open subflows, per ${label}.`, () => series((e) => e.rttSum / e.n / 1000), [label]);
  gaugeOf(registry, 'mptun_subflow_mss_bytes', `Largest segment payload the open subflows send now, per ${label} (path MTU discovery raises it on sealed UDP).`, () => series((e) => e.mssMax), [label]);
  counterOf(registry, 'mptun_retransmissions_total', 'Segments retransmitted, all connections.', () => subflows.totals().retransmissions);
  counterOf(registry, 'mptun_subflow_bytes_total', 'Payload bytes carried by subflows (retransmissions included), by direction.', () => {
    const t = subflows.totals();
    return byLabel('direction', { sent: t.bytesSent, received: t.bytesReceived });
  }, ['direction']);
}
