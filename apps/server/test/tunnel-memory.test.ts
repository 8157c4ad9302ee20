/** How a tunnel's connectionBuffer is shared between the engine and the relay's streams. */
import { describe, expect, it } from 'vitest';
import { SOCKET_READ_BYTES, tunnelBuffers } from '../src/tunnel-memory.js';
import { defaultLimits } from '../src/config.js';

const KiB = 1024;

describe('tunnelBuffers', () => {
  it('with the defaults, engine and streams together fit connectionBuffer (1 MiB): 768 KiB engine, 256 KiB streams', () => {
    const b = tunnelBuffers(defaultLimits);
    expect(b).toMatchObject({ targetHighWaterMark: 128 * KiB, streamBytes: 256 * KiB, engineBytes: 768 * KiB });
    expect(b.engineBytes + b.streamBytes).toBe(defaultLimits.connectionBufferBytes);
  });

  it('a stalled tunnel keeps the engine share (unsent bytes, the starting window); a moving one may have 4 MiB in flight', () => {
    expect(tunnelBuffers(defaultLimits).engine).toEqual({ sendBuffer: 4096 * KiB, sendUnsentLimit: 768 * KiB, receiveBuffer: 4096 * KiB, receiveBufferStart: 768 * KiB });
    // A connectionBuffer above 4 MiB raises the in-flight room with it.
    const big = tunnelBuffers({ maxBufferedBytes: 256 * KiB, connectionBufferBytes: 8192 * KiB });
    expect(big.engine.sendBuffer).toBe(big.engineBytes);
    expect(big.engine.receiveBuffer).toBe(big.engineBytes);
  });

  it('the streams take two socket reads beyond the target mark; a small maxBufferedBytes keeps a 16 KiB mark', () => {
    const b = tunnelBuffers({ maxBufferedBytes: 1024, connectionBufferBytes: 4 * 1024 * KiB });
    expect(b.targetHighWaterMark).toBe(16 * KiB);
    expect(b.streamBytes).toBe(16 * KiB + 2 * SOCKET_READ_BYTES);
    expect(b.engineBytes).toBe(4 * 1024 * KiB - b.streamBytes);
  });

  it('the engine keeps 64 KiB however small connectionBuffer is', () => {
    expect(tunnelBuffers({ maxBufferedBytes: 256 * KiB, connectionBufferBytes: 64 * KiB }).engineBytes).toBe(64 * KiB);
  });
});
