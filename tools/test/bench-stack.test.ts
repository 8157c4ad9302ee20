import { describe, expect, it } from 'vitest';
import { parseStack } from '../bench/suite/stack.js';

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
