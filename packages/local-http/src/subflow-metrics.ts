/**
 * Subflow metrics both apps export, and the counters behind them. A Prometheus counter
 * must never go down, yet an open connection's figures leave the live sum when it closes:
 * closed connections are folded in on 'close', and every read is held at or above the last.
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

export class SubflowCounters {
  private closed: SubflowFigures = { ...ZERO };
  private last: SubflowFigures = { ...ZERO };
  private readonly live = new Set<CountedConnection>();

  /** Count `conn` from now until it closes, and after. */
  track(conn: CountedConnection): void {
    if (this.live.has(conn)) return;
    this.live.add(conn);
    conn.once('close', () => {
      this.live.delete(conn);
      this.closed = sum(this.closed, conn.subflows());
    });
  }

  /** Totals over every connection tracked, never below an earlier read. */
  totals(): SubflowFigures {
    const now = sum(this.closed, [...this.live].flatMap((c) => c.subflows()));
    this.last = {
      bytesSent: Math.max(this.last.bytesSent, now.bytesSent),
      bytesReceived: Math.max(this.last.bytesReceived, now.bytesReceived),
      retransmissions: Math.max(this.last.retransmissions, now.retransmissions),
    };
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
  const perLabel = (): Map<string, { n: number; rttSum: number }> => {
    const out = new Map<string, { n: number; rttSum: number }>();
    for (const s of sockets()) {
      for (const f of s.subflows()) {
        if (f.state === 'closed') continue;
        const e = out.get(labelOf(f)) ?? { n: 0, rttSum: 0 };
        e.n++;
        e.rttSum += f.srttMs;
        out.set(labelOf(f), e);
      }
    }
    return out;
  };
  const series = (value: (e: { n: number; rttSum: number }) => number): Series => [...perLabel()].map(([k, e]) => [{ [label]: k }, value(e)]);
  gaugeOf(registry, 'mptun_subflows', `Subflows open, per ${label}.`, () => series((e) => e.n), [label]);
  gaugeOf(registry, 'mptun_subflow_srtt_seconds', `Mean smoothed RTT of the open subflows, per ${label}.`, () => series((e) => e.rttSum / e.n / 1000), [label]);
  counterOf(registry, 'mptun_retransmissions_total', 'Segments retransmitted, all connections.', () => subflows.totals().retransmissions);
  counterOf(registry, 'mptun_subflow_bytes_total', 'Payload bytes carried by subflows (retransmissions included), by direction.', () => {
    const t = subflows.totals();
    return byLabel('direction', { sent: t.bytesSent, received: t.bytesReceived });
  }, ['direction']);
}
