/**
 * Attacks on the client app's listeners, which the honest traffic shares:
 *   slow SOCKS5: many connections that dribble their greeting and request, a byte every
 *                few seconds (the proxy must not let them block anyone else);
 *   non-reading: tunnels that ask the sink for an endless stream ('S') and never read, so
 *                every buffer on the way fills and stays full.
 */
import net from 'node:net';
import { SeededRandom } from '@mptun/core';
import { connectTcp, SinkCommand, type HostPort } from '../bench/rig/index.js';

export interface SlowSocksCounts {
  opened: number;
  /** Closed by the proxy before we closed them (its handshake timeout, say). */
  closedByProxy: number;
  bytesDribbled: number;
  failedToOpen: number;
}

const OPEN_BATCH = 50;

/** Opens `count` SOCKS5 connections that send their handshake one byte every `everyMs` (±50%), for `seconds`. */
export async function slowSocks(proxy: HostPort, target: HostPort, count: number, everyMs: number, seconds: number, seed: number): Promise<SlowSocksCounts> {
  const rng = new SeededRandom(seed);
  const counts: SlowSocksCounts = { opened: 0, closedByProxy: 0, bytesDribbled: 0, failedToOpen: 0 };
  const handshake = Buffer.from([5, 1, 0, 5, 1, 0, 1, ...target.host.split('.').map(Number), target.port >> 8, target.port & 0xff]);
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  let closing = false;
  try {
    for (let i = 0; i < count; i += OPEN_BATCH) {
      const batch = await Promise.allSettled(Array.from({ length: Math.min(OPEN_BATCH, count - i) }, () => connectTcp(proxy)));
      for (const r of batch) {
        if (r.status === 'rejected') {
          counts.failedToOpen++;
          continue;
        }
        const s = r.value;
        counts.opened++;
        sockets.push(s);
        s.on('error', () => {});
        s.on('data', () => {});
        s.once('close', () => {
          if (!closing) counts.closedByProxy++;
        });
        let next = 0;
        const drip = (): void => {
          if (s.destroyed || next >= handshake.length) return;
          s.write(handshake.subarray(next, next + 1));
          next++;
          counts.bytesDribbled++;
          timers.push(setTimeout(drip, everyMs * (0.5 + rng.next())));
        };
        timers.push(setTimeout(drip, rng.int(everyMs)));
      }
    }
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return counts;
  } finally {
    closing = true;
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.destroy();
  }
}

export interface NonReading {
  opened: number;
  close(): void;
}

/** Opens `count` tunnels through `forward` that request an endless stream and never read it. */
export async function nonReadingTunnels(forward: HostPort, count: number): Promise<NonReading> {
  const sockets: net.Socket[] = [];
  const results = await Promise.allSettled(Array.from({ length: count }, () => connectTcp(forward)));
  for (const r of results) {
    if (r.status !== 'fulfilled') continue;
    const s = r.value;
    s.on('error', () => {});
    // No 'data' listener and no resume(): the socket stays paused and reads nothing more
    // once its own small buffer is full.
    s.write(Buffer.from([SinkCommand.stream]));
    sockets.push(s);
  }
  return {
    opened: sockets.length,
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}
