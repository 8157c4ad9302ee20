/**
 * A stateless UDP balancer in front of N mptun-servers, in the two ways docs/scale-out.md
 * compares:
 * - 'source-hash': consistent hash of the source address (nginx `hash $remote_addr
 *   consistent`, deploy/nginx/mptun-udp.conf); what runs today.
 * - 'server-id': the route field of the datagram (route-field.ts) names the server; a
 *   datagram without one (a connection's first path), or naming a server this configuration
 *   does not know, falls back to the same hash. As QUIC-LB, it keeps no per-flow state.
 */
import { HashRing } from './hash-ring.js';
import { readRoute, type RouteId } from './route-field.js';

export type Routing = 'source-hash' | 'server-id';

export type RouteDecision =
  | { kind: 'forward'; backend: string; by: 'hash' | 'id' }
  | { kind: 'drop'; reason: 'malformed' | 'no-backend' };

export class Balancer {
  private readonly ring = new HashRing();
  /** The current configuration: server id → backend. */
  private readonly byId = new Map<number, string>();

  /** rotation: the config rotation codepoint the ids below are issued under. */
  constructor(
    readonly routing: Routing,
    readonly rotation: number,
  ) {}

  add(backend: string, serverId: number): void {
    if (this.byId.has(serverId)) throw new RangeError(`server id ${serverId} is taken`);
    this.ring.add(backend);
    this.byId.set(serverId, backend);
  }

  remove(backend: string): void {
    this.ring.remove(backend);
    for (const [id, name] of this.byId) if (name === backend) this.byId.delete(id);
  }

  /** The id a server hands out in its handshake response, under this configuration. */
  routeOf(serverId: number): RouteId {
    return { rotation: this.rotation, serverId };
  }

  route(datagram: Uint8Array, sourceAddress: string): RouteDecision {
    const field = readRoute(datagram);
    if (field.kind === 'malformed') return { kind: 'drop', reason: 'malformed' };
    if (this.routing === 'server-id' && field.kind === 'id' && field.route.rotation === this.rotation) {
      const backend = this.byId.get(field.route.serverId);
      if (backend !== undefined) return { kind: 'forward', backend, by: 'id' };
    }
    const backend = this.ring.lookup(sourceAddress);
    return backend === null ? { kind: 'drop', reason: 'no-backend' } : { kind: 'forward', backend, by: 'hash' };
  }
}
