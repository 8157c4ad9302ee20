/**
 * Follows the connection-level data of chosen connections through the simulated network:
 * from each data segment's DSS mapping (RFC 8684 §3.3.1) it learns which data offsets a
 * segment carries, so a benchmark can tell when a byte first went onto the wire and which
 * path carried it, without any hook inside the engine.
 */
import {
  MPTCP_KIND,
  MptcpSubtype,
  TcpOptionKind,
  WireError,
  checkedHeaderLength,
  keyIdsn,
  parseMptcpOption,
  type Connection,
  type Endpoint,
} from '@mptun/core';
import type { PacketEvent } from '@mptun/sim';

/** Data offsets are sampled every this many bytes for delivery delays. */
export const DEFAULT_SAMPLE_BYTES = 16 * 1024;
const U64 = 1n << 64n;
const U32 = 1n << 32n;

/** What one watched connection sent, as seen on the wire. */
export class ConnectionTrace {
  /** Payload bytes of data segments that reached the far end, per mesh path index (copies included). */
  readonly deliveredPerPath: number[] = [];
  /** Data segments put on the wire, first transmissions and copies alike. */
  dataSegmentsSent = 0;
  private readonly idsn: bigint;
  /** First-transmission time of sampled offsets not yet read, by sample index. */
  private readonly firstSent = new Map<number, number>();
  /** Samples below this index have been read: later copies of them are not new. */
  private consumedBelow = 0;
  private highestOffset = 0;

  constructor(
    readonly connection: Connection,
    readonly sampleBytes: number,
  ) {
    this.idsn = keyIdsn(connection.localKey);
  }

  /** The connection offset a DSN stands for (the first data byte is DSN IDSN+1). */
  offsetOf(dsn: bigint, dsn64: boolean): number {
    if (dsn64) return Number((((dsn - this.idsn - 1n) % U64) + U64) % U64);
    // A 32-bit DSN: the candidate nearest to what we have seen so far (RFC 8684 §3.3.1).
    const low = Number((((dsn - this.idsn - 1n) % U32) + U32) % U32);
    const base = this.highestOffset - (this.highestOffset % 2 ** 32);
    let best = base + low;
    for (const c of [best - 2 ** 32, best + 2 ** 32]) if (c >= 0 && Math.abs(c - this.highestOffset) < Math.abs(best - this.highestOffset)) best = c;
    return best;
  }

  /** @internal A data segment carrying [offset, offset+length) went onto the wire at `time`. */
  sent(time: number, offset: number, length: number): void {
    this.dataSegmentsSent++;
    if (offset + length > this.highestOffset) this.highestOffset = offset + length;
    const step = this.sampleBytes;
    for (let k = Math.max(this.consumedBelow, Math.ceil(offset / step)); k * step < offset + length; k++) {
      if (!this.firstSent.has(k)) this.firstSent.set(k, time);
    }
  }

  /** @internal A data segment of `length` payload bytes reached the far end of path `path`. */
  delivered(path: number, length: number): void {
    while (this.deliveredPerPath.length <= path) this.deliveredPerPath.push(0);
    this.deliveredPerPath[path]! += length;
  }

  /**
   * The application read the stream from `from` to `to` at `now`: returns, for every
   * sampled offset in that range, how long it took from its first transmission to the read.
   */
  readDelays(from: number, to: number, now: number, out: number[]): void {
    const step = this.sampleBytes;
    const first = Math.max(this.consumedBelow, Math.ceil(from / step));
    let k = first;
    for (; k * step < to; k++) {
      const t = this.firstSent.get(k);
      if (t !== undefined) {
        out.push(now - t);
        this.firstSent.delete(k);
      }
    }
    if (k > this.consumedBelow) this.consumedBelow = k;
  }
}

/** Resolves an endpoint's name (as the mesh traces it) to the endpoint. */
export type EndpointLookup = (name: string) => Endpoint | undefined;

/**
 * Feeds on a Mesh's onPacket events. Segments are matched to a watched connection by
 * sender, path and ports; everything else is skipped after a cheap look at the header.
 */
export class DataTracer {
  private readonly traces = new Map<Connection, ConnectionTrace>();
  /** Sender-side subflow key → trace, or null for subflows of unwatched connections. */
  private readonly bySubflow = new Map<string, ConnectionTrace | null>();
  /** Segments that failed to parse (the engine should never emit one). */
  malformed = 0;

  constructor(
    private readonly lookup: EndpointLookup,
    readonly sampleBytes = DEFAULT_SAMPLE_BYTES,
  ) {}

  /** Start following the data `conn` sends. */
  watch(conn: Connection): ConnectionTrace {
    let t = this.traces.get(conn);
    if (t === undefined) {
      t = new ConnectionTrace(conn, this.sampleBytes);
      this.traces.set(conn, t);
      // Subflows seen before may belong to this connection: look them up again.
      for (const [k, v] of this.bySubflow) if (v === null) this.bySubflow.delete(k);
    }
    return t;
  }

  onPacket(ev: PacketEvent): void {
    if (ev.type === 'drop') return;
    const bytes = ev.bytes;
    let headerLength: number;
    try {
      headerLength = checkedHeaderLength(bytes);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.malformed++;
      return;
    }
    const payload = bytes.length - headerLength;
    if (payload === 0) return; // pure ACKs and SYNs without data carry no mapping of interest
    const srcPort = (bytes[0]! << 8) | bytes[1]!;
    const dstPort = (bytes[2]! << 8) | bytes[3]!;
    const trace = this.traceFor(ev.from, ev.pathId, srcPort, dstPort);
    if (trace === null) return;
    if (ev.type === 'deliver') {
      trace.delivered(ev.path, payload);
      return;
    }
    const m = this.mapping(bytes, headerLength);
    if (m === null || m.length === 0) return; // no mapping, or an infinite one (fallback)
    const offset = trace.offsetOf(m.dsn, m.dsn64);
    trace.sent(ev.time, offset, Math.min(payload, m.length));
  }

  private traceFor(from: string, pathId: number, srcPort: number, dstPort: number): ConnectionTrace | null {
    const key = `${from}/${pathId}/${srcPort}/${dstPort}`;
    const hit = this.bySubflow.get(key);
    if (hit !== undefined) return hit;
    let found: ConnectionTrace | null = null;
    const ep = this.lookup(from);
    if (ep !== undefined) {
      for (const conn of ep.connections()) {
        const t = this.traces.get(conn);
        if (t === undefined) continue;
        if (conn.subflows().some((sf) => sf.pathId === pathId && sf.localPort === srcPort && sf.remotePort === dstPort)) {
          found = t;
          break;
        }
      }
    }
    this.bySubflow.set(key, found);
    return found;
  }

  /** The DSS mapping of a segment, if it has one; the options region is bounds-checked. */
  private mapping(bytes: Uint8Array, headerLength: number): { dsn: bigint; dsn64: boolean; length: number } | null {
    let i = 20;
    while (i < headerLength) {
      const kind = bytes[i]!;
      if (kind === TcpOptionKind.EOL) return null;
      if (kind === TcpOptionKind.NOP) {
        i++;
        continue;
      }
      if (i + 1 >= headerLength) return null;
      const len = bytes[i + 1]!;
      if (len < 2 || i + len > headerLength) {
        this.malformed++;
        return null;
      }
      if (kind === MPTCP_KIND && len >= 3 && bytes[i + 2]! >>> 4 === MptcpSubtype.DSS) {
        try {
          const o = parseMptcpOption(bytes.subarray(i, i + len));
          if (o.type === 'dss' && o.mapping !== undefined) return o.mapping;
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
          this.malformed++;
        }
        return null;
      }
      i += len;
    }
    return null;
  }
}
