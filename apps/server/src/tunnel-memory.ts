/**
 * How one tunnel's `connectionBuffer` is shared between the layers that hold its bytes in one
 * direction when the far reader stops (issue 14 item 8: ≤ 1 MiB per stalled tunnel with the
 * defaults). Measured with the engine alone given connectionBuffer, a stalled tunnel held
 * 1.33 MiB: 1 MiB in the engine's send buffer, 256–280 KiB in the readable buffer of the TCP
 * socket to the target (it keeps reading up to its high-water mark after the relay pauses it),
 * and up to one socket read (64 KiB) in the MPTCP socket's writable buffer.
 * So the relay's streams get `maxBufferedBytes` in all, and the engine the rest.
 *
 * That share bounds what a stalled tunnel keeps, not what a moving one has in flight: a
 * static 768 KiB window capped one tunnel at 768 KiB per round trip of its slowest path (85%
 * of Wi-Fi + LTE, docs/benchmarks.md). So the engine's share is its limit on bytes not yet
 * sent (the reader that stops still acknowledges what was in flight) and the receive buffer
 * it starts with, which grows toward MOVING_TUNNEL_BYTES only while the target reads.
 */
import type { ServerLimits } from './config.js';

/** libuv reads a TCP socket up to 64 KiB at a time: a stream may pass its high-water mark by one read. */
export const SOCKET_READ_BYTES = 64 * 1024;
/** The smallest high-water mark the target socket gets, so a small maxBufferedBytes does not mean one read per event loop turn. */
const MIN_TARGET_HIGH_WATER = 16 * 1024;
/** The least the engine keeps per direction, whatever the settings (the config's own minimum for connectionBuffer). */
const MIN_ENGINE_BYTES = 64 * 1024;
/** What a tunnel that moves data may have in flight each way: the engine's default buffers. */
export const MOVING_TUNNEL_BYTES = 4 * 1024 * 1024;

export interface TunnelBuffers {
  /** High-water mark of the relay's TCP socket to the target, both ways. */
  targetHighWaterMark: number;
  /** What the relay's streams may hold in one direction: the target socket's mark plus one read there and one pending in the MPTCP socket. */
  streamBytes: number;
  /** What the engine keeps per direction for a stalled tunnel: unsent bytes, and the receive window (RFC 8684 §3.3.4) it starts with. */
  engineBytes: number;
  /** The engine's buffer settings (EndpointConfig). */
  engine: { sendBuffer: number; sendUnsentLimit: number; receiveBuffer: number; receiveBufferStart: number };
}

export function tunnelBuffers(limits: Pick<ServerLimits, 'maxBufferedBytes' | 'connectionBufferBytes'>): TunnelBuffers {
  const targetHighWaterMark = Math.max(MIN_TARGET_HIGH_WATER, limits.maxBufferedBytes - 2 * SOCKET_READ_BYTES);
  const streamBytes = targetHighWaterMark + 2 * SOCKET_READ_BYTES;
  const engineBytes = Math.max(MIN_ENGINE_BYTES, limits.connectionBufferBytes - streamBytes);
  const moving = Math.max(MOVING_TUNNEL_BYTES, engineBytes);
  const engine = { sendBuffer: moving, sendUnsentLimit: engineBytes, receiveBuffer: moving, receiveBufferStart: engineBytes };
  return { targetHighWaterMark, streamBytes, engineBytes, engine };
}
