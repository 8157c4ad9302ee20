/**
 * Per-path byte counts and rates from the client's sockets' subflow statistics. A path is a
 * local address; a subflow that closes keeps its counted bytes (subflow ids are remembered).
 */
import type { MptcpSocket } from '@mptun/node';

export interface PathSample {
  name: string;
  localAddress: string;
  /** Bytes received on this path (server → client), all subflows ever seen. */
  bytesDown: number;
  bytesUp: number;
  /** Receive rate over the last sampling interval, bit/s. */
  downBps: number;
  srttMs: number;
  /** A subflow on it is established. */
  active: boolean;
}

export class PathMeter {
  private readonly sockets = new Set<MptcpSocket>();
  /** socket → subflow id → last counters seen. */
  private readonly seen = new Map<MptcpSocket, Map<number, { local: string; down: number; up: number }>>();
  private last: { at: number; down: Map<string, number> } | null = null;
  private rates = new Map<string, number>();

  constructor(private readonly names: ReadonlyArray<{ name: string; localAddress: string }>) {}

  track(socket: MptcpSocket): void {
    this.sockets.add(socket);
    this.seen.set(socket, new Map());
    // A short connection may open and close between two samples: keep its final counters.
    for (const ev of ['subflow-change', 'subflow-down', 'end', 'finish', 'close'] as const) socket.on(ev, () => this.refresh(socket));
  }

  /** Remember every socket's counters now, without touching the rates (for polling). */
  refreshAll(): void {
    for (const socket of this.sockets) this.refresh(socket);
  }

  /** Remember the socket's subflow counters as they are now. */
  private refresh(socket: MptcpSocket): ReturnType<MptcpSocket['subflows']> {
    const bySubflow = this.seen.get(socket)!;
    let subflows: ReturnType<MptcpSocket['subflows']> = [];
    try {
      subflows = socket.isBound ? socket.subflows() : [];
    } catch {
      subflows = []; // a socket torn down between samples keeps what was counted
    }
    for (const sf of subflows) bySubflow.set(sf.id, { local: sf.localAddress, down: sf.bytesReceived, up: sf.bytesSent });
    return subflows;
  }

  /** Read the counters now; rates are over the time since the previous call. */
  sample(now: number): PathSample[] {
    const totals = new Map<string, { down: number; up: number; srtt: number; active: boolean }>();
    for (const p of this.names) totals.set(p.localAddress, { down: 0, up: 0, srtt: 0, active: false });
    for (const socket of this.sockets) {
      const bySubflow = this.seen.get(socket)!;
      for (const sf of this.refresh(socket)) {
        const t = totals.get(sf.localAddress);
        if (t && sf.state === 'established') {
          t.active = true;
          t.srtt = sf.srttMs;
        }
      }
      for (const c of bySubflow.values()) {
        const t = totals.get(c.local);
        if (!t) continue;
        t.down += c.down;
        t.up += c.up;
      }
    }
    const down = new Map<string, number>();
    for (const [addr, t] of totals) down.set(addr, t.down);
    if (this.last !== null && now > this.last.at) {
      const dt = (now - this.last.at) / 1000;
      this.rates = new Map([...down].map(([addr, b]) => [addr, ((b - (this.last!.down.get(addr) ?? 0)) * 8) / dt]));
    }
    this.last = { at: now, down };
    return this.names.map((p) => {
      const t = totals.get(p.localAddress)!;
      return { name: p.name, localAddress: p.localAddress, bytesDown: t.down, bytesUp: t.up, downBps: this.rates.get(p.localAddress) ?? 0, srttMs: t.srtt, active: t.active };
    });
  }
}
