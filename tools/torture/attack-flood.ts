/**
 * Handshake floods straight at the server's UDP socket, from many loopback addresses and
 * ports. Each datagram is a well-formed Noise IK first message from a random client key:
 * its mac1 checks out (the server's public key is no secret), so the server gets past the
 * cheap check and must either do a Diffie-Hellman or, under load, answer with a cookie.
 *   blind:    a pool of such initiations sent round and round, cookies ignored (plus a
 *             share with a broken mac1, which the server drops at the first check);
 *   cookies:  every source keeps its own initiator and answers cookie replies, so its next
 *             initiations carry a valid mac2 and cost the server a Diffie-Hellman each.
 * Nothing is ever admitted: the keys are not authorized. Counts what came back.
 */
import dgram from 'node:dgram';
import { SeededRandom } from '@mptun/core';
import { generateKeypair, HandshakeInitiator, loadCrypto, MessageType, type CryptoBackend, type PendingInitiation } from '@mptun/session';
import type { HostPort } from '../bench/rig/index.js';

export interface FloodPlan {
  mode: 'blind' | 'cookies';
  seconds: number;
  /** Datagrams per second, all sources together. */
  perSecond: number;
  /** Source sockets, spread over 127.0.0.10.. */
  sources: number;
  seed: number;
}

export interface FloodCounts {
  sent: number;
  cookieReplies: number;
  /** Responses would mean an unauthorized key was admitted. */
  responses: number;
  otherReplies: number;
  sources: number;
}

const POOL = 256;
/** Blind mode: this share of the pool has its mac1 broken. */
const BROKEN_MAC1_SHARE = 0.25;
const TICK_MS = 10;
const INITIATION_MAC1 = 120;

interface Source {
  socket: dgram.Socket;
  initiator: HandshakeInitiator | null;
  pending: PendingInitiation | null;
  nextIndex: number;
}

function randomInitiator(crypto: CryptoBackend, serverPublicKey: Uint8Array): HandshakeInitiator {
  return new HandshakeInitiator(crypto, { staticKeypair: generateKeypair(crypto), serverPublicKey });
}

export async function handshakeFlood(server: HostPort, serverPublicKey: Uint8Array, plan: FloodPlan): Promise<FloodCounts> {
  const crypto = await loadCrypto();
  const rng = new SeededRandom(plan.seed);
  const counts: FloodCounts = { sent: 0, cookieReplies: 0, responses: 0, otherReplies: 0, sources: plan.sources };
  const sources: Source[] = [];
  try {
    for (let i = 0; i < plan.sources; i++) {
      const socket = dgram.createSocket('udp4');
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, `127.0.0.${10 + (i % 200)}`, () => resolve());
      });
      const src: Source = { socket, initiator: plan.mode === 'cookies' ? randomInitiator(crypto, serverPublicKey) : null, pending: null, nextIndex: 1 };
      socket.on('message', (msg: Buffer) => {
        if (msg[0] === MessageType.CookieReply) {
          counts.cookieReplies++;
          // Answer it: the next initiation from this source carries mac2.
          src.pending?.consumeCookieReply(msg, Date.now());
        } else if (msg[0] === MessageType.Response) counts.responses++;
        else counts.otherReplies++;
      });
      sources.push(src);
    }

    const pool: Uint8Array[] = [];
    if (plan.mode === 'blind') {
      const initiator = randomInitiator(crypto, serverPublicKey);
      for (let i = 0; i < POOL; i++) {
        // A fresh client key now and then, so the pool is not one key's messages.
        const from = i % 16 === 0 ? randomInitiator(crypto, serverPublicKey) : initiator;
        const msg = from.initiate(Date.now(), 1 + rng.int(0xfffffffe)).message.slice();
        if (i < POOL * BROKEN_MAC1_SHARE) msg[INITIATION_MAC1 + rng.int(16)]! ^= 1 + rng.int(255);
        pool.push(msg);
      }
    }

    const perTick = Math.max(1, Math.round((plan.perSecond * TICK_MS) / 1000));
    const end = performance.now() + plan.seconds * 1000;
    let turn = 0;
    while (performance.now() < end) {
      for (let i = 0; i < perTick; i++) {
        const src = sources[turn++ % sources.length]!;
        let msg: Uint8Array;
        if (src.initiator) {
          src.pending?.destroy();
          src.pending = src.initiator.initiate(Date.now(), src.nextIndex++);
          msg = src.pending.message;
        } else {
          msg = pool[rng.int(pool.length)]!;
        }
        src.socket.send(msg, server.port, server.host);
        counts.sent++;
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    // Let the last replies arrive before the sockets go.
    await new Promise((r) => setTimeout(r, 200));
    return counts;
  } finally {
    for (const s of sources) {
      s.pending?.destroy();
      await new Promise<void>((r) => s.socket.close(() => r()));
    }
  }
}
