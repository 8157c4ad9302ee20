/**
 * Relay bytes both ways between two streams: on the server a tunnel's MPTCP socket and the
 * target's TCP socket, on the client the application's TCP socket and its tunnel. Backpressure
 * (a side that cannot take more pauses the other's reading), half-close passed on (one side's
 * end ends the other's writing, allowHalfOpen), and a failure or early close of either side
 * destroying both. Five listeners per stream: the end-of-stream machinery of `pipeline()` and
 * `pipe()` was the largest part of an idle tunnel's memory (docs/benchmarks.md, "Idle
 * machine, 2026-12-07 evening").
 */
import type { Duplex } from 'node:stream';

export interface BridgeSide {
  stream: Duplex;
  /** Names the direction in a failure, e.g. "client to target: ECONNRESET". */
  name: string;
  /** Told the bytes read from this side, as they pass. */
  count?: (bytes: number) => void;
}

export interface BridgeOutcome {
  /** The first failure, as "<from> to <to>: <code>", or null when both sides finished cleanly. */
  failure: string | null;
  /** The side whose reading ended first, or null. */
  firstEnded: string | null;
}

/** Resolves once both streams are closed (never rejects). */
export function bridge(a: BridgeSide, b: BridgeSide): Promise<BridgeOutcome> {
  return new Promise((resolve) => {
    const out: BridgeOutcome = { failure: null, firstEnded: null };
    let closed = 0;
    const onClosed = (from: BridgeSide, to: BridgeSide): void => {
      const s = from.stream;
      // Closed before it both ended and finished writing: the other side cannot finish either.
      if (!(s.readableEnded && s.writableFinished)) {
        out.failure ??= `${from.name} to ${to.name}: ERR_STREAM_PREMATURE_CLOSE`;
        to.stream.destroy();
      }
      if (++closed === 2) resolve(out);
    };
    const wire = (from: BridgeSide, to: BridgeSide): void => {
      const src = from.stream;
      const dst = to.stream;
      const count = from.count;
      src.on('data', (d: Buffer) => {
        count?.(d.length);
        if (!dst.write(d)) src.pause();
      });
      dst.on('drain', () => src.resume());
      const ended = (): void => {
        out.firstEnded ??= from.name;
        dst.end();
      };
      // A side may have ended before the bridge: the client's early-data reader can take a
      // short upload and its FIN while the tunnel is still opening. Its end is passed on too.
      if (src.readableEnded) queueMicrotask(ended);
      else src.on('end', ended);
      src.on('error', (e: NodeJS.ErrnoException) => {
        out.failure ??= `${from.name} to ${to.name}: ${e.code ?? e.message}`;
        dst.destroy();
      });
      if (src.closed) queueMicrotask(() => onClosed(from, to));
      else src.once('close', () => onClosed(from, to));
    };
    wire(a, b);
    wire(b, a);
    // A stream may come paused (the server's request reader, the client's forward and SOCKS
    // handshake); 'data' listeners alone do not restart a paused stream.
    a.stream.resume();
    b.stream.resume();
  });
}
