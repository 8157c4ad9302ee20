import { describe, expect, it } from 'vitest';
import { parseStack } from '../bench/suite/stack.js';

describe('parseStack', () => {
  it('reads a scheduler, with a congestion controller after a plus', () => {
    expect(parseStack('minrtt')).toEqual({ scheduler: 'minrtt' });
    expect(parseStack('ecf+bbr')).toEqual({ scheduler: 'ecf', cc: 'bbr' });
  });
});
