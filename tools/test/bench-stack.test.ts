import { describe, expect, it } from 'vitest';
import { HANDOVER_QUICK } from '../bench/suite/handover.js';
import { LATENCY_QUICK } from '../bench/suite/latency.js';
import { parseStack, withStacks } from '../bench/suite/stack.js';

describe('parseStack', () => {
  it('reads a scheduler, with a congestion controller after a plus', () => {
    expect(parseStack('minrtt')).toEqual({ scheduler: 'minrtt' });
    expect(parseStack('ecf+bbr')).toEqual({ scheduler: 'ecf', cc: 'bbr' });
  });

  it('reads the transport after an at sign, and refuses one it does not know', () => {
    expect(parseStack('minrtt@ws')).toEqual({ scheduler: 'minrtt', transport: 'ws' });
    expect(parseStack('ecf+bbr@udp')).toEqual({ scheduler: 'ecf', cc: 'bbr', transport: 'udp' });
    expect(() => parseStack('minrtt@quic')).toThrow(/unknown transport "quic"/);
  });
});

describe('withStacks (pnpm bench --stacks)', () => {
  it("replaces a section's stack list and keeps the rest of its plan", () => {
    const stacks = ['minrtt+cubic', 'minrtt+cubic-ld'];
    expect(withStacks(HANDOVER_QUICK, stacks)).toEqual({ ...HANDOVER_QUICK, schedulers: stacks });
    expect(withStacks(LATENCY_QUICK, stacks).pairs).toEqual(LATENCY_QUICK.pairs);
    expect(withStacks(LATENCY_QUICK, undefined)).toBe(LATENCY_QUICK);
  });
});
