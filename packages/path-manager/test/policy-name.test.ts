/** Policies by name, as the CLI and the API take them. */
import { describe, expect, it } from 'vitest';
import { parsePathPolicy, PathManagerError } from '../src/index.js';

describe('parsePathPolicy', () => {
  it('fullmesh, ndiffports (2 by default) and ndiffports:N', () => {
    expect(parsePathPolicy('fullmesh')).toEqual({ kind: 'fullmesh' });
    expect(parsePathPolicy('ndiffports')).toEqual({ kind: 'ndiffports', subflows: 2 });
    expect(parsePathPolicy('ndiffports:4')).toEqual({ kind: 'ndiffports', subflows: 4 });
  });

  it('unknown names and bad counts are typed errors naming the valid ones', () => {
    for (const bad of ['meshfull', 'fullmesh:2', 'ndiffports:0', 'ndiffports:33', 'ndiffports:x']) {
      let err: unknown;
      try {
        parsePathPolicy(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(PathManagerError);
      expect((err as PathManagerError).code).toBe('ERR_PM_BAD_OPTION');
    }
    expect(() => parsePathPolicy('meshfull')).toThrow(/valid: fullmesh, ndiffports\[:N\]/);
  });
});
