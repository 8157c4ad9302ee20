/**
 * The sans-IO surface a driver (the simulator, or the Node driver with real sockets and
 * timers) uses to move an endpoint forward. Time is milliseconds on a monotonic clock
 * chosen by the driver; the engine never reads a clock itself.
 */

/** One segment to put on a path. */
export interface Transmit {
  pathId: number;
  bytes: Uint8Array;
}

export interface Driveable {
  /** A segment arrived on a path the driver registered. */
  handleSegment(now: number, pathId: number, bytes: Uint8Array): void;
  /** The deadline from pollTimeout() passed (calling it early is harmless). */
  handleTimeout(now: number): void;
  /** The next segment to send, or null when there is nothing to send now. */
  pollTransmit(now: number): Transmit | null;
  /** The next absolute time handleTimeout should be called, or null for none. */
  pollTimeout(): number | null;
}
