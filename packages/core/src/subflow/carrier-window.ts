/**
 * The send window of a subflow in reliable-link mode (a WebSocket's TCP carries it). The
 * carrier retransmits and controls congestion itself, and its own window is out of sight, so
 * without a window of ours every byte the scheduler hands over is accepted at once: it waits
 * in the carrier's socket buffers, the path never looks full, and minRTT never moves on to
 * the next path (issue 16: the second WebSocket carried 0–14%).
 *
 * The window is sized from what the carrier delivers: its delivery rate (subflow/delivery-rate.ts)
 * times the lowest RTT seen, times two, so the carrier's queue holds about one bandwidth-delay
 * product more than the pipe. While the window is what limits, each round delivers a whole
 * window per RTT, so the next window is about twice as large (the growth of BBR's startup);
 * once the carrier's rate is the limit, the window settles. A path whose RTT is tiny
 * (loopback) gets at least MIN_QUEUE_MS of queue at its rate, since there the event loop's
 * own turns, not the network, set the round trip.
 */
import { initialWindow } from '../cc/common.js';

/** Bytes in flight per bandwidth-delay product: one in the pipe, one queued. */
const WINDOW_GAIN = 2;
/** Queueing allowed at the carrier's rate even when the path's RTT is shorter, ms. */
const MIN_QUEUE_MS = 5;
/** Never below this many segments: enough for every ACK to be an immediate one. */
const MIN_WINDOW_SEGMENTS = 4;

/** Bytes a reliable-link subflow may have in flight, from its delivery rate (bytes/ms), lowest RTT (ms) and MSS. */
export function carrierWindow(bytesPerMs: number, minRttMs: number, mss: number): number {
  if (!(bytesPerMs > 0) || !(minRttMs > 0)) return initialWindow(mss);
  const bdpWindow = bytesPerMs * Math.max(WINDOW_GAIN * minRttMs, minRttMs + MIN_QUEUE_MS);
  return Math.max(Math.ceil(bdpWindow), MIN_WINDOW_SEGMENTS * mss);
}
