/** The torture suite's stalled-tunnel memory check, run small: it must pass and print its figures. */
import { describe, expect, it } from 'vitest';
import { runStalledMemory, PER_TUNNEL_LIMIT } from '../torture/stalled-memory.js';
import type { StalledFigures } from '../../apps/server/test/stalled-tunnels.js';

describe('torture: stalled-memory', () => {
  it('4 tunnels whose client never reads: each ≤ 1 MiB with the defaults, the engines within a 1 MiB budget', async () => {
    const r = await runStalledMemory({ long: false, seed: 1, log: (l) => console.log(l) }, 4);
    console.log(r.lines.join('\n'));
    const d = r.data as { defaults: StalledFigures };
    expect(d.defaults.held.open).toBe(4);
    expect(d.defaults.perTunnel).toBeLessThanOrEqual(PER_TUNNEL_LIMIT);
    expect(r.lines[0]).toMatch(/^default limits: [\d.]+ MiB per stalled tunnel \(limit 1\.00 MiB\)/);
    expect(r.lines[1]).toMatch(/^bufferBudget 1\.00 MiB: the 4 stalled tunnels' engines hold [\d.]+ MiB together/);
  }, 150_000);
});
