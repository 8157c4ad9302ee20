/**
 * The scale-out simulation of docs/scale-out.md: clients with several source addresses open
 * multipath connections through a balancer to N backends, backends are added and then
 * removed, and each routing of balancer.ts is scored on how many joins (later paths) and
 * datagrams of existing paths reach the backend that holds their connection.
 *
 * A model, not the engine: a path is the datagram that opens it (a path-session initiation)
 * and, afterwards, its data datagrams, shaped as packages/session lays them out. A join that
 * reaches another backend is refused there (that backend has no such MPTCP token), and a path
 * whose datagrams start reaching another backend is dead (its session index is unknown there).
 * Deterministic: everything random comes from one seeded generator.
 */
import { SeededRandom } from '@mptun/core';
import { DATA_OVERHEAD_BYTES, INITIATION_BYTES, MessageType } from '@mptun/session';
import { Balancer, type Routing } from './balancer.js';
import { writeRoute, type RouteId } from './route-field.js';

export interface ScaleOutOptions {
  seed: number;
  clients: number;
  /** Each client's source addresses; a connection opens one path from each. */
  addressesPerClient: number;
  /** New connections each client opens in each phase. */
  connectionsPerPhase: number;
  initialBackends: number;
  /** Backends added before the second phase. */
  added: number;
  /** Backends removed before the third phase. */
  removed: number;
}

export const DEFAULT_OPTIONS: ScaleOutOptions = {
  seed: 1,
  clients: 400,
  addressesPerClient: 3,
  connectionsPerPhase: 2,
  initialBackends: 4,
  added: 2,
  removed: 1,
};

export interface PhaseResult {
  routing: Routing;
  phase: string;
  backends: number;
  /** Later paths opened in this phase: of new connections, and re-opened ones of existing connections. */
  joins: number;
  joinsOnHolder: number;
  /** Data datagrams of paths that were up before this phase's change. */
  existingPaths: number;
  existingOnHolder: number;
  /** Existing connections whose backend was removed. */
  lostWithBackend: number;
  /** Existing connections whose every path now reaches another backend. */
  brokenByReroute: number;
  /** New connections of this phase per live backend, least and most. */
  newPerBackend: { min: number; max: number };
}

interface Scenario {
  addresses: string[][];
  /** Names of the backends removed in the third phase, in order. */
  removals: string[];
}

interface Connection {
  holder: string;
  client: number;
  /** Indexes into the client's addresses of the paths that are up. */
  paths: Set<number>;
}

/** The clients, their addresses and the removals: shared by both routings so they see the same run. */
function makeScenario(opts: ScaleOutOptions): Scenario {
  const rng = new SeededRandom(opts.seed);
  const taken = new Set<string>();
  const addresses = Array.from({ length: opts.clients }, () =>
    Array.from({ length: opts.addressesPerClient }, () => {
      for (;;) {
        const a = `10.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
        if (!taken.has(a)) {
          taken.add(a);
          return a;
        }
      }
    }),
  );
  const names = backendNames(opts.initialBackends + opts.added);
  const removals: string[] = [];
  for (let i = 0; i < opts.removed; i++) {
    const left = names.filter((n) => !removals.includes(n));
    removals.push(left[rng.int(left.length)]!);
  }
  return { addresses, removals };
}

function backendNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `b${i + 1}`);
}

/** The first datagram of a path: a path-session initiation. */
export function initiationDatagram(route: RouteId | null): Uint8Array {
  const d = new Uint8Array(INITIATION_BYTES);
  d[0] = MessageType.Initiation;
  writeRoute(d, route);
  return d;
}

/** A data message of an established path (an empty keepalive's size). */
export function dataDatagram(route: RouteId | null): Uint8Array {
  const d = new Uint8Array(DATA_OVERHEAD_BYTES);
  d[0] = MessageType.Data;
  writeRoute(d, route);
  return d;
}

/** One routing through the three phases. */
function runRouting(routing: Routing, opts: ScaleOutOptions, scenario: Scenario): PhaseResult[] {
  if (opts.addressesPerClient < 2) throw new RangeError('a multipath client needs two addresses or more');
  const balancer = new Balancer(routing, 1);
  const ids = new Map<string, number>();
  const live = new Set<string>();
  const addBackend = (name: string): void => {
    const id = ids.size + 1; // ids are never reused, so a stale id cannot reach a newcomer
    ids.set(name, id);
    live.add(name);
    balancer.add(name, id);
  };
  const names = backendNames(opts.initialBackends + opts.added);
  for (const name of names.slice(0, opts.initialBackends)) addBackend(name);

  // The route a client puts in its datagrams: its connection's server once the handshake
  // response named it; with source hashing, today's zero bytes.
  const routeFor = (holder: string): RouteId | null =>
    routing === 'server-id' ? balancer.routeOf(ids.get(holder)!) : null;
  const forwardTo = (datagram: Uint8Array, address: string): string | null => {
    const d = balancer.route(datagram, address);
    return d.kind === 'forward' ? d.backend : null;
  };

  const phases: Array<{ label: string; change(): void }> = [
    { label: `start`, change: () => {} },
    { label: `after adding ${opts.added}`, change: () => names.slice(opts.initialBackends).forEach(addBackend) },
    {
      label: `after removing ${opts.removed}`,
      change: () =>
        scenario.removals.forEach((name) => {
          live.delete(name);
          balancer.remove(name);
        }),
    },
  ];

  let connections: Connection[] = [];
  const results: PhaseResult[] = [];
  phases.forEach((phase, phaseIndex) => {
    phase.change();
    const r: PhaseResult = {
      routing,
      phase: phase.label,
      backends: live.size,
      joins: 0,
      joinsOnHolder: 0,
      existingPaths: 0,
      existingOnHolder: 0,
      lostWithBackend: 0,
      brokenByReroute: 0,
      newPerBackend: { min: 0, max: 0 },
    };
    const join = (conn: Connection, addressIndex: number): void => {
      const at = forwardTo(initiationDatagram(routeFor(conn.holder)), scenario.addresses[conn.client]![addressIndex]!);
      r.joins++;
      if (at === conn.holder) {
        r.joinsOnHolder++;
        conn.paths.add(addressIndex);
      }
    };

    // Connections from earlier phases: their paths keep sending, and one secondary path per
    // connection goes down and comes back (a handover), which is a new join.
    const survivors: Connection[] = [];
    for (const conn of connections) {
      if (!live.has(conn.holder)) {
        r.lostWithBackend++;
        continue;
      }
      for (const index of [...conn.paths]) {
        r.existingPaths++;
        const at = forwardTo(dataDatagram(routeFor(conn.holder)), scenario.addresses[conn.client]![index]!);
        if (at === conn.holder) r.existingOnHolder++;
        else conn.paths.delete(index);
      }
      if (conn.paths.size === 0) {
        r.brokenByReroute++;
        continue;
      }
      const back = 1 + (phaseIndex % (opts.addressesPerClient - 1));
      conn.paths.delete(back);
      join(conn, back);
      survivors.push(conn);
    }
    connections = survivors;

    // New connections: the first path from the client's first address (no id yet: hashed),
    // then one join from each other address.
    const opened = new Map<string, number>([...live].map((n) => [n, 0]));
    for (let client = 0; client < scenario.addresses.length; client++) {
      for (let k = 0; k < opts.connectionsPerPhase; k++) {
        const holder = forwardTo(initiationDatagram(null), scenario.addresses[client]![0]!);
        if (holder === null) continue;
        opened.set(holder, opened.get(holder)! + 1);
        const conn: Connection = { holder, client, paths: new Set([0]) };
        for (let a = 1; a < opts.addressesPerClient; a++) join(conn, a);
        connections.push(conn);
      }
    }
    const counts = [...opened.values()];
    r.newPerBackend = { min: Math.min(...counts), max: Math.max(...counts) };
    results.push(r);
  });
  return results;
}

/** Both routings over the same scenario: source hashing first, then the server id. */
export function runScaleOut(opts: ScaleOutOptions): PhaseResult[] {
  const scenario = makeScenario(opts);
  return [...runRouting('source-hash', opts, scenario), ...runRouting('server-id', opts, scenario)];
}
