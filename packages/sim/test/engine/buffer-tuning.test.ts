/**
 * Buffers that follow the traffic (issue 16): a receive buffer that starts small and grows
 * while the application reads (EndpointConfig.receiveBufferStart), and a send buffer whose
 * unsent part is capped (sendUnsentLimit, like TCP_NOTSENT_LOWAT). A connection that moves
 * gets a window of its bandwidth-delay product; one whose reader stops holds only the small
 * share. One upload over a 100 Mbit/s path with an 80 ms round trip (1 MB in flight to fill
 * it). Seeded; the seed is printed.
 */
import { describe, expect, it } from 'vitest';
import { ccFactory, Endpoint, schedulerFactory, SeededRandom, type Connection, type EndpointConfig } from '@mptun/core';
import { Pair } from '../../src/index.js';

const SEED = Number(process.env.MPTUN_SEED ?? 16);
const KiB = 1024;
const MiB = 1024 * KiB;
const UPLOAD = 16 * MiB;
const SMALL = 256 * KiB;
/** The most a zero-window probe (RFC 9293 §3.8.6.1) puts in flight. */
const MSS = 1200;

type Buffers = Partial<Pick<EndpointConfig, 'receiveBuffer' | 'receiveBufferStart' | 'sendBuffer' | 'sendUnsentLimit'>>;

interface Outcome {
  /** Virtual ms when the server had read the whole upload, or -1. */
  doneAt: number;
  /** Bytes the server read. */
  received: number;
  /** Most bytes the client held written and unacknowledged. */
  peakClientBuffered: number;
  /** What the client held when the run ended. */
  clientBufferedAtEnd: number;
  /** Most bytes the server held received and unread. */
  peakServerHeld: number;
}

/** The client uploads UPLOAD bytes; the server reads them unless `serverReads` is false (then the run ends at `until`). */
function upload(client: Buffers, server: Buffers, serverReads = true, until = 60_000): Outcome {
  const rng = new SeededRandom(SEED);
  const base = { scheduler: schedulerFactory('minrtt'), congestionControl: ccFactory('cubic') };
  const a = new Endpoint({ ...base, random: rng.fork(), ...client });
  const b = new Endpoint({ ...base, random: rng.fork(), ...server });
  b.listen(443);
  const cp = a.openPath({ host: '10.0.0.2', port: 40000 }, { host: '10.9.9.9', port: 443 });
  const sp = b.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.2', port: 40000 });
  const pair = new Pair(a, b, [{ forward: { rateBps: 100e6, delayMs: 40, queue: { ms: 100 } }, pathIdA: cp, pathIdB: sp }], { seed: SEED });
  const conn = a.connect(0, { path: cp });
  const data = new Uint8Array(64 * KiB).fill(9);
  let written = 0;
  let incoming: Connection | null = null;
  const out: Outcome = { doneAt: -1, received: 0, peakClientBuffered: 0, clientBufferedAtEnd: 0, peakServerHeld: 0 };
  pair.run({
    until,
    stopWhen: () => {
      while (a.pollEvent());
      for (let ev = b.pollEvent(); ev; ev = b.pollEvent()) if (ev.type === 'incoming') incoming = ev.connection;
      while (written < UPLOAD) {
        const n = conn.write(data.subarray(0, Math.min(data.length, UPLOAD - written)));
        if (n === 0) break;
        written += n;
      }
      out.peakClientBuffered = Math.max(out.peakClientBuffered, conn.bufferedBytes);
      if (!incoming) return false;
      out.peakServerHeld = Math.max(out.peakServerHeld, incoming.readableBytes);
      if (serverReads) for (let d = incoming.read(); d; d = incoming.read()) out.received += d.length;
      if (out.received === UPLOAD && out.doneAt < 0) out.doneAt = pair.now;
      return out.doneAt >= 0;
    },
  });
  out.clientBufferedAtEnd = conn.bufferedBytes;
  conn.abort(pair.now);
  return out;
}

describe('buffers that follow the traffic (issue 16)', () => {
  it('a receive buffer that starts at 256 KiB grows while the server reads: the upload goes at the path\'s rate, not at 256 KiB per round trip', () => {
    const fixed = upload({}, { receiveBuffer: SMALL });
    const tuned = upload({}, { receiveBuffer: 4 * MiB, receiveBufferStart: SMALL });
    const mbps = (o: Outcome): string => ((UPLOAD * 8) / (o.doneAt * 1000)).toFixed(1);
    console.log(`seed ${SEED}: ${UPLOAD} bytes over 100 Mbit/s, 80 ms RTT: fixed 256 KiB buffer ${fixed.doneAt.toFixed(0)} ms (${mbps(fixed)} Mbit/s); from 256 KiB up to 4 MiB ${tuned.doneAt.toFixed(0)} ms (${mbps(tuned)} Mbit/s), the server held up to ${tuned.peakServerHeld} unread`);
    expect(fixed.received).toBe(UPLOAD);
    expect(tuned.received).toBe(UPLOAD);
    // 256 KiB per 80 ms is 26 Mbit/s: the fixed buffer takes over 5 s; the tuned one about 2.
    expect(tuned.doneAt).toBeLessThan(fixed.doneAt / 2);
  });

  it('a server that never reads keeps only the buffer it started with', () => {
    const stalled = upload({}, { receiveBuffer: 4 * MiB, receiveBufferStart: SMALL }, false, 5000);
    console.log(`seed ${SEED}: the server read nothing for 5 s and held ${stalled.peakServerHeld} bytes (start ${SMALL}, most 4 MiB)`);
    expect(stalled.received).toBe(0);
    expect(stalled.peakServerHeld).toBe(SMALL);
  });

  it('sendUnsentLimit: a moving upload keeps more than the limit in flight; when the reader stops, the sender holds only the limit', () => {
    const cap = { sendBuffer: 4 * MiB, sendUnsentLimit: SMALL };
    const moving = upload(cap, {});
    const uncapped = upload({}, {});
    const stalled = upload(cap, {}, false, 5000);
    console.log(
      `seed ${SEED}: unsent limit ${SMALL}: moving, ${moving.doneAt.toFixed(0)} ms with up to ${moving.peakClientBuffered} bytes unacknowledged (${uncapped.doneAt.toFixed(0)} ms without the limit); ` +
      `reader stopped: the client holds ${stalled.clientBufferedAtEnd} after 5 s (${upload({}, {}, false, 5000).clientBufferedAtEnd} without the limit)`,
    );
    expect(moving.received).toBe(UPLOAD);
    expect(moving.peakClientBuffered, 'more than the unsent limit in flight').toBeGreaterThan(2 * SMALL);
    expect(moving.doneAt).toBeLessThan(uncapped.doneAt * 1.1);
    expect(stalled.clientBufferedAtEnd).toBeLessThanOrEqual(SMALL + MSS);
    expect(stalled.clientBufferedAtEnd).toBeGreaterThan(SMALL / 2);
  });
});
