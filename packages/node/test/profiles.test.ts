import { describe, expect, it } from 'vitest';
import { CubicLdController, CubicController, BbrController } from '@mptun/core';
import { profiles, resolveStrategy } from '../src/profiles.js';

/** A path as a controller reads it, before any RTT sample. */
const path = { mss: 1200, srtt: 0, minRtt: 0, bytesInFlight: 0 };
const group = { members: () => [] };

describe('connection profiles', () => {
  it('default to minRTT with cubic-ld, the controller the benchmarks chose (issue 16)', () => {
    const s = resolveStrategy({});
    expect(s.scheduler).toBe('minrtt');
    expect(s.congestionControl).toBe('cubic-ld');
    expect(s.ccFactory(path, group)).toBeInstanceOf(CubicLdController);
    for (const name of ['bulk', 'interactive', 'reliable'] as const) expect(profiles[name].congestionControl).toBe('cubic-ld');
    expect(profiles.background.congestionControl).toBe('ledbat');
  });

  it('keep cubic and bbr one option away, and name the valid choices for a bad one', () => {
    const cubic = resolveStrategy({ congestionControl: 'cubic' });
    expect(cubic.ccFactory(path, group)).toBeInstanceOf(CubicController);
    expect(cubic.ccFactory(path, group)).not.toBeInstanceOf(CubicLdController);
    expect(resolveStrategy({ profile: 'interactive', congestionControl: 'bbr' }).ccFactory(path, group)).toBeInstanceOf(BbrController);
    expect(() => resolveStrategy({ congestionControl: 'vegas' })).toThrow(/valid names: .*cubic-ld/);
  });
});
