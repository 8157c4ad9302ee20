/**
 * Replayed and forged datagrams from sources other than the honest path, straight at the
 * server's UDP socket (the capture relay sends the same-source variants):
 *   replay:  captured data datagrams and initiations of the honest client, as they were —
 *            the replay window and the initiation timestamp must refuse them, and a
 *            replayed datagram must not move the honest path to the sender's address;
 *   forge:   random bytes; data-shaped datagrams naming the honest session's index with a
 *            random counter and ciphertext (the AEAD must refuse them); captured datagrams
 *            with a few bits flipped.
 */
import dgram from 'node:dgram';
import { SeededRandom } from '@mptun/core';
import type { HostPort } from '../bench/rig/index.js';
import type { Captured } from './attack-rig.js';
import { SessionType } from './attack-relay.js';

export interface ForgePlan {
  mode: 'replay' | 'forge';
  seconds: number;
  perSecond: number;
  sources: number;
  seed: number;
}

export interface ForgeCounts {
  sent: number;
  /** Anything the server sent back to the forger. */
  replies: number;
}

const TICK_MS = 10;
const DATA_HEADER = 16;
const MAX_DATAGRAM = 1400;

function forged(rng: SeededRandom, captured: Captured): Uint8Array {
  const pool = [...captured.sample, ...captured.recent];
  const kind = rng.int(3);
  if (kind === 0 || pool.length === 0) {
    const b = new Uint8Array(1 + rng.int(MAX_DATAGRAM));
    rng.fill(b);
    return b;
  }
  if (kind === 1) {
    // Data-shaped: the honest session's receiver index, then random counter and sealed bytes.
    const b = new Uint8Array(DATA_HEADER + 16 + rng.int(MAX_DATAGRAM - DATA_HEADER - 16));
    rng.fill(b);
    b[0] = SessionType.Data;
    b[1] = b[2] = b[3] = 0;
    b.set(pool[rng.int(pool.length)]!.subarray(4, 8), 4);
    b[15] = 0; // keep the counter below 2^53, so it is not refused before the AEAD runs
    return b;
  }
  const b = Uint8Array.from(pool[rng.int(pool.length)]!);
  const flips = 1 + rng.int(3);
  for (let i = 0; i < flips; i++) {
    const bit = rng.int(b.length * 8);
    b[bit >> 3]! ^= 1 << (bit & 7);
  }
  return b;
}

export async function forgeDatagrams(server: HostPort, captured: Captured, plan: ForgePlan): Promise<ForgeCounts> {
  const rng = new SeededRandom(plan.seed);
  const counts: ForgeCounts = { sent: 0, replies: 0 };
  const replayPool = [...captured.sample, ...captured.recent, ...captured.initiations];
  const sockets: dgram.Socket[] = [];
  try {
    for (let i = 0; i < plan.sources; i++) {
      const s = dgram.createSocket('udp4');
      s.on('error', () => {});
      s.on('message', () => counts.replies++);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, `127.0.0.${60 + (i % 100)}`, () => resolve());
      });
      sockets.push(s);
    }
    if (plan.mode === 'replay' && replayPool.length === 0) return counts;
    const perTick = Math.max(1, Math.round((plan.perSecond * TICK_MS) / 1000));
    const end = performance.now() + plan.seconds * 1000;
    let turn = 0;
    while (performance.now() < end) {
      for (let i = 0; i < perTick; i++) {
        const d = plan.mode === 'replay' ? replayPool[rng.int(replayPool.length)]! : forged(rng, captured);
        sockets[turn++ % sockets.length]!.send(d, server.port, server.host);
        counts.sent++;
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    await new Promise((r) => setTimeout(r, 200));
    return counts;
  } finally {
    for (const s of sockets) await new Promise<void>((r) => s.close(() => r()));
  }
}
