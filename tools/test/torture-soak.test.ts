/**
 * Smoke runs of the soak and attack checks at a tiny size: the whole machinery (rigs,
 * chaos, hash checks, memory watch, every attack) runs end to end and reports. The real
 * runs are `pnpm torture` (CI size) and `pnpm torture --long`.
 */
import { describe, expect, it } from 'vitest';
import { runSoak, type SoakSize } from '../torture/soak.js';
import { runAttacks, attackSizes, type AttackSize } from '../torture/attacks.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 11;
const log = (line: string): void => console.log(line);

describe('torture smoke runs', () => {
  it('soak: a few seconds of concurrent hash-checked transfers while paths flap', async () => {
    console.log('seed', seed);
    const size: SoakSize = { seconds: 3, concurrency: 6, minBytes: 1024, maxBytes: 256 * 1024, drainSeconds: 15, memorySlackBytes: 32 * 1024 * 1024 };
    const r = await runSoak({ long: false, seed, log }, size);
    const data = r.data as { transfers: { done: number; downloads: number; uploads: number; forward: number; socks: number } };
    expect(data.transfers.done).toBeGreaterThan(6);
    expect(data.transfers.downloads + data.transfers.uploads).toBe(data.transfers.done);
    expect(r.lines.some((l) => l.startsWith('server memory'))).toBe(true);
  }, 40_000);

  it('attacks: every attack once, briefly, with the honest client measured', async () => {
    console.log('seed', seed);
    const size: AttackSize = {
      ...attackSizes.ci,
      warmupSeconds: 0.5,
      quietSeconds: 0.5,
      attackSeconds: 0.7,
      floodPerSecond: 3_000,
      cookieFloodPerSecond: 300,
      floodSources: 16,
      replayPerSecond: 1_000,
      forgePerSecond: 2_000,
      slowSocks: 50,
      nonReading: 2,
      fillSeconds: 0.5,
      joinAttempts: 3,
      joinFlood: 40,
    };
    const r = await runAttacks({ long: false, seed, log }, size);
    const data = r.data as { attacks: Array<{ attack: string }>; plain: { stolenJoin: { established: number }; joinFlood: { halfOpenHeld: number } } };
    expect(data.attacks.map((a) => a.attack)).toEqual([
      'plain SYN flood',
      'WS upgrade hoarding',
      'handshake flood (blind)',
      'handshake flood (answering cookies)',
      'replayed datagrams',
      'forged datagrams',
      'slow SOCKS5 clients',
      'non-reading tunnels',
    ]);
    expect(data.plain.stolenJoin.established).toBe(0);
    expect(data.plain.joinFlood.halfOpenHeld).toBeLessThanOrEqual(32);
  }, 60_000);
});
