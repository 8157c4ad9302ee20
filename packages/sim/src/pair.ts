import type { Driveable } from '@mptun/core';
import { SimError } from './errors.js';
import { Link } from './link.js';
import type { LinkOptions } from './link-options.js';
import { Mesh, type MeshOptions, type MeshPath } from './mesh.js';

/** One path of a Pair, described by the options of each direction. */
export interface PairPathOptions {
  /** a → b. Default: an ideal link. */
  forward?: LinkOptions;
  /** b → a. Default: the same options as forward. */
  backward?: LinkOptions;
  /** The pathId a uses for this path. Default: the path's index. */
  pathIdA?: number;
  /** The pathId b uses for this path. Default: the path's index. */
  pathIdB?: number;
}

/**
 * Two endpoints, `a` and `b`, joined by N independent paths: the usual shape of a
 * client/server test. Each direction of each path gets its own Link.
 */
export class Pair extends Mesh {
  readonly a: Driveable;
  readonly b: Driveable;

  constructor(a: Driveable, b: Driveable, paths: readonly PairPathOptions[], options: MeshOptions = {}) {
    super(options);
    if (a === b) throw new SimError('BAD_ROUTE', 'a Pair needs two distinct endpoints');
    this.a = a;
    this.b = b;
    this.addEndpoint(a, 'a');
    this.addEndpoint(b, 'b');
    paths.forEach((p, i) => {
      const forwardOptions = p.forward ?? {};
      this.addPath({
        a: { endpoint: a, pathId: p.pathIdA ?? i },
        b: { endpoint: b, pathId: p.pathIdB ?? i },
        forward: [new Link({ ...forwardOptions, name: `path${i}.ab` })],
        backward: [new Link({ ...(p.backward ?? forwardOptions), name: `path${i}.ba` })],
      });
    });
  }

  /** The a → b link of path i. */
  forward(i: number): Link {
    return this.pathAt(i).forward[0]!;
  }

  /** The b → a link of path i. */
  backward(i: number): Link {
    return this.pathAt(i).backward[0]!;
  }

  private pathAt(i: number): MeshPath {
    const path = this.paths[i];
    if (path === undefined) throw new SimError('BAD_ROUTE', `no path ${i} (this pair has ${this.paths.length})`);
    return path;
  }
}
