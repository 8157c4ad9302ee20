/**
 * Model-based tests (fast-check commands): random sequences of interface additions,
 * removals and flaps, backup and allow toggles, peer announcements, subflow failures and
 * handshakes, and time passing, against a path manager fed by an interface watcher and a
 * fake connection. After every step the invariants below must hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { canonicalHost, hostFamily } from '../src/addresses.js';
import { applyInterfaceChanges } from '../src/interface-sync.js';
import { InterfaceWatcher, interfaceKey } from '../src/interface-watcher.js';
import { PathManager, type PathAction } from '../src/path-manager.js';
import { fullmesh, ndiffports, type PathPolicy } from '../src/policy.js';
import { FakeConnection, FakeHost } from './support/fake-connection.js';

const SEED = Number(process.env['PM_MODEL_SEED'] ?? 0x6d0de1);
const RUNS = 200;
const DEBOUNCE = 300;
const POLL = 100;
const RETRY = { baseMs: 100, factor: 2, maxMs: 2000, jitter: 0.5, maxAttempts: 3 };
const SERVER = { host: '10.9.9.9', port: 443 };

const IFACES = [
  { name: 'a', host: '10.0.0.2' },
  { name: 'b', host: '10.0.1.2' },
  { name: 'c', host: '10.0.2.2' },
  { name: 'd', host: '2001:db8::2' },
].map((i, priority) => ({ ...i, host: canonicalHost(i.host)!, priority, id: interfaceKey({ name: i.name, address: canonicalHost(i.host)! }) }));
const PEER = [
  { addressId: 1, host: '10.9.9.10', port: undefined },
  { addressId: 2, host: '2001:db8::9', port: 4433 },
];

/** What the test knows independently of the path manager: the system's interface list and flags. */
interface Model {
  present: boolean[];
  /** When the presence of each interface last changed in the source. */
  changedAt: number[];
  backup: boolean[];
  allowed: boolean[];
}

/** The path manager, its watcher and a fake connection, on a virtual clock. */
class Real {
  now = 0;
  readonly host = new FakeHost();
  readonly conn = new FakeConnection(this.host);
  readonly pm: PathManager;
  readonly watcher: InterfaceWatcher;
  readonly actions: Array<{ time: number; action: PathAction }> = [];
  /** Joins per address pair since the pair's last success (or since its addresses came back). */
  readonly joinsSince = new Map<string, number>();
  readonly slotsPerPair: number;
  /** The local host of every subflow seen (its path may be released since). */
  readonly subflowHost = new Map<number, string>();

  constructor(
    readonly model: Model,
    readonly policy: PathPolicy,
    seed: number,
  ) {
    this.slotsPerPair = policy.kind === 'ndiffports' ? policy.subflows : 1;
    this.pm = new PathManager({ host: this.host, server: SERVER, random: new SeededRandom(seed), policy, retry: RETRY, releaseDelayMs: 500 });
    this.watcher = new InterfaceWatcher({
      source: () => IFACES.filter((_, i) => model.present[i]).map((i) => ({ name: i.name, address: i.host, internal: false })),
      pollIntervalMs: POLL,
      debounceMs: DEBOUNCE,
    });
    const join = this.conn.join.bind(this.conn);
    this.conn.join = (now, pathId, backup) => {
      const sf = join(now, pathId, backup);
      if (sf) {
        const k = this.pairOf(pathId);
        this.joinsSince.set(k, (this.joinsSince.get(k) ?? 0) + 1);
      }
      return sf;
    };
    this.service();
    const first = this.pm.initialPath();
    if (first === null) throw new Error('no initial address');
    this.conn.start(first);
    this.pm.attach(this.conn);
    this.tick();
  }

  pairOf(pathId: number): string {
    const p = this.host.open.get(pathId);
    return p ? `${p.local.host}>${p.remote.host}:${p.remote.port}` : `?${pathId}`;
  }

  ifaceOf(pathId: number): number {
    const h = this.host.hostOf(pathId);
    return IFACES.findIndex((i) => i.host === h);
  }

  /** Poll the watcher when due, feed the manager, tick. */
  service(): void {
    if (this.watcher.nextTimeout() <= this.now) {
      const changes = this.watcher.poll(this.now);
      for (const c of changes) if (c.type === 'added') this.forgetJoins(c.address);
      applyInterfaceChanges(this.pm, changes, {
        settings: (c) => {
          const i = IFACES.findIndex((x) => x.name === c.name);
          return { backup: this.model.backup[i]!, allowed: this.model.allowed[i]!, priority: IFACES[i]!.priority };
        },
      });
    }
    if (this.pm.connection) this.tick();
  }

  tick(): void {
    for (const sf of this.conn.list) this.subflowHost.set(sf.id, this.host.hostOf(sf.pathId) ?? '?');
    const upBefore = this.conn.list.filter((s) => s.state === 'established').length;
    for (const action of this.pm.tick(this.now)) this.actions.push({ time: this.now, action });
    const upAfter = this.conn.list.filter((s) => s.state === 'established').length;
    // Make-before-break / break-before-make: the manager never closes the last established subflow.
    if (upBefore > 0 && upAfter === 0) throw new Error(`t=${this.now}: the manager closed the last established subflow`);
  }

  advance(ms: number): void {
    const target = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const next = Math.min(this.watcher.nextTimeout(), this.pm.nextTimeout() ?? Infinity);
      if (next > target) break;
      this.now = Math.max(this.now, next);
      this.service();
    }
    this.now = target;
    this.service();
  }

  establish(ids: number[]): void {
    for (const id of ids) {
      const sf = this.conn.list.find((s) => s.id === id);
      if (!sf || sf.state === 'established') continue;
      this.conn.establish(id);
      this.joinsSince.delete(this.pairOf(sf.pathId));
    }
    this.tick();
  }

  forgetJoins(localHost: string): void {
    for (const k of [...this.joinsSince.keys()]) if (k.startsWith(`${localHost}>`)) this.joinsSince.delete(k);
  }
}

type Cmd = fc.Command<Model, Real>;

function setPresent(m: Model, r: Real, i: number, present: boolean): void {
  if (m.present[i] === present) return;
  m.present[i] = present;
  m.changedAt[i] = r.now;
}

class AddIface implements Cmd {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>): boolean => !m.present[this.i];
  run(m: Model, r: Real): void {
    setPresent(m, r, this.i, true);
    r.service();
  }
  toString = (): string => `add(${IFACES[this.i]!.name})`;
}

class RemoveIface implements Cmd {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>): boolean => m.present[this.i]!;
  run(m: Model, r: Real): void {
    setPresent(m, r, this.i, false);
    r.service();
  }
  toString = (): string => `remove(${IFACES[this.i]!.name})`;
}

/** Gone for less than the debounce, then back: nothing on it may be closed for that. */
class Flap implements Cmd {
  constructor(
    readonly i: number,
    readonly ms: number,
  ) {}
  check = (m: Readonly<Model>): boolean => m.present[this.i]!;
  run(m: Model, r: Real): void {
    const before = r.actions.length;
    setPresent(m, r, this.i, false);
    r.advance(this.ms);
    setPresent(m, r, this.i, true);
    r.advance(DEBOUNCE + POLL);
    const host = IFACES[this.i]!.host;
    const goneOnIface = r.actions.slice(before).filter((a) => a.action.type === 'close' && a.action.cause === 'address-gone' && r.subflowHost.get(a.action.subflowId) === host);
    expect(goneOnIface, `flap of ${IFACES[this.i]!.name} closed a subflow`).toEqual([]);
  }
  toString = (): string => `flap(${IFACES[this.i]!.name}, ${this.ms}ms)`;
}

class ToggleBackup implements Cmd {
  constructor(readonly i: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    m.backup[this.i] = !m.backup[this.i];
    r.pm.setBackup(IFACES[this.i]!.id, m.backup[this.i]!);
    r.tick();
  }
  toString = (): string => `backup(${IFACES[this.i]!.name})`;
}

class ToggleAllowed implements Cmd {
  constructor(readonly i: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    m.allowed[this.i] = !m.allowed[this.i];
    if (r.pm.setAllowed(IFACES[this.i]!.id, m.allowed[this.i]!) && m.allowed[this.i]) r.forgetJoins(IFACES[this.i]!.host);
    r.tick();
  }
  toString = (): string => `allowed(${IFACES[this.i]!.name})`;
}

class FailSubflow implements Cmd {
  constructor(readonly k: number) {}
  check = (): boolean => true;
  run(_m: Model, r: Real): void {
    const sf = r.conn.list[this.k % Math.max(1, r.conn.list.length)];
    if (sf) r.conn.fail(sf.id);
    r.tick();
  }
  toString = (): string => `fail(#${this.k})`;
}

class EstablishSome implements Cmd {
  constructor(readonly mask: number) {}
  check = (): boolean => true;
  run(_m: Model, r: Real): void {
    r.establish(r.conn.list.filter((_, j) => (this.mask >> j) & 1).map((s) => s.id));
  }
  toString = (): string => `establish(${this.mask.toString(2)})`;
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(_m: Model, r: Real): void {
    r.advance(this.ms);
  }
  toString = (): string => `advance(${this.ms})`;
}

class Announce implements Cmd {
  constructor(readonly k: number) {}
  check = (): boolean => true;
  run(_m: Model, r: Real): void {
    const a = PEER[this.k]!;
    const i = r.conn.peer.findIndex((p) => p.addressId === a.addressId);
    if (i >= 0) {
      r.conn.peer.splice(i, 1);
      // The engine closes subflows to a withdrawn address itself (RFC 8684 §3.4.2).
      for (const sf of [...r.conn.list]) if (r.host.open.get(sf.pathId)?.remote.host === canonicalHost(a.host) && r.conn.list.length > 1) r.conn.fail(sf.id);
    } else {
      r.conn.peer.push({ ...a });
    }
    r.tick();
  }
  toString = (): string => `announce-toggle(${PEER[this.k]!.addressId})`;
}

/** Every handshake completes and time runs through the pending retries: what is wanted must exist. */
class Settle implements Cmd {
  check = (): boolean => true;
  run(_m: Model, r: Real): void {
    for (let i = 0; i < 30; i++) {
      r.establish(r.conn.list.map((s) => s.id));
      const t = r.pm.nextTimeout();
      if (t === null) break;
      r.advance(Math.max(0, t - r.now));
    }
    r.establish(r.conn.list.map((s) => s.id));
    checkSettled(r);
  }
  toString = (): string => 'settle';
}

function usablePairs(r: Real): Array<{ local: string; localId: string; backup: boolean; remote: { addressId: number; host: string; port: number } }> {
  const remotes = r.pm.remotes().sort((a, b) => a.addressId - b.addressId);
  const out = [];
  for (const l of r.pm.locals().filter((x) => x.allowed).sort((a, b) => a.priority - b.priority)) {
    for (const rem of remotes) if (hostFamily(l.host) === hostFamily(rem.host)) out.push({ local: l.host, localId: l.id, backup: l.backup, remote: rem });
  }
  return out;
}

const pairKeyOf = (p: { local: string; remote: { host: string; port: number } }): string => `${p.local}>${p.remote.host}:${p.remote.port}`;

function exhaustedSlots(r: Real, localId: string, remoteId: number): number {
  return r.pm.status().filter((s) => s.localId === localId && s.remoteId === remoteId && s.exhausted).length;
}

function liveByPair(r: Real): Map<string, number> {
  const out = new Map<string, number>();
  for (const sf of r.conn.list) out.set(r.pairOf(sf.pathId), (out.get(r.pairOf(sf.pathId)) ?? 0) + 1);
  return out;
}

/** After Settle: every wanted subflow exists (or its retries are spent). */
function checkSettled(r: Real): void {
  const live = liveByPair(r);
  const pairs = usablePairs(r);
  if (r.policy.kind === 'fullmesh') {
    for (const p of pairs) {
      const want = 1 - exhaustedSlots(r, p.localId, p.remote.addressId);
      expect(live.get(pairKeyOf(p)) ?? 0, `fullmesh pair ${pairKeyOf(p)}`).toBe(want);
    }
    return;
  }
  const n = r.slotsPerPair;
  // The pair: the preferred regular address (else backup) with the first peer address of its family, unless spent.
  const firstPeer = new Map<string, (typeof pairs)[number]>();
  for (const p of pairs) if (!firstPeer.has(p.localId)) firstPeer.set(p.localId, p);
  const ordered = [...firstPeer.values()].sort((a, b) => Number(a.backup) - Number(b.backup));
  const main = ordered.find((p) => exhaustedSlots(r, p.localId, p.remote.addressId) < n);
  if (main) expect(live.get(pairKeyOf(main)) ?? 0, `ndiffports pair ${pairKeyOf(main)}`).toBe(n - exhaustedSlots(r, main.localId, main.remote.addressId));
}

/** The invariants that hold after every step. */
function checkInvariants(m: Model, r: Real): void {
  const locals = new Map(r.pm.locals().map((l) => [l.host, l]));
  const healthyUp = r.conn.list.filter((sf) => sf.state === 'established' && locals.has(r.host.hostOf(sf.pathId) ?? ''));
  for (const sf of r.conn.list) {
    // Every subflow rides a path that is open.
    expect(r.host.open.has(sf.pathId), `subflow ${sf.id} on a released path`).toBe(true);
    const i = r.ifaceOf(sf.pathId);
    // No subflow on an address that has been gone for longer than the debounce (and a poll),
    // unless it is the only thing keeping the connection up (break-before-make).
    if (!m.present[i] && r.now >= m.changedAt[i]! + DEBOUNCE + POLL) {
      expect(healthyUp.filter((o) => o.id !== sf.id), `subflow ${sf.id} on removed ${IFACES[i]!.name} at t=${r.now}`).toEqual([]);
    }
    // Backup flags follow the address's (MP_PRIO).
    const local = locals.get(r.host.hostOf(sf.pathId)!);
    if (local) expect(sf.backup, `B flag of subflow ${sf.id} on ${local.id}`).toBe(local.backup);
  }
  for (const [pair, n] of liveByPair(r)) {
    // fullmesh: at most one subflow per pair; ndiffports: at most n.
    expect(n, `subflows on ${pair}`).toBeLessThanOrEqual(r.slotsPerPair);
  }
  // Retries are bounded.
  for (const [pair, joins] of r.joinsSince) expect(joins, `joins on ${pair} since its last success`).toBeLessThanOrEqual(r.slotsPerPair * RETRY.maxAttempts);
}

const ifaceIdx = fc.integer({ min: 0, max: IFACES.length - 1 });
const commands = fc.commands(
  [
    ifaceIdx.map((i) => new AddIface(i)),
    ifaceIdx.map((i) => new RemoveIface(i)),
    fc.tuple(ifaceIdx, fc.integer({ min: 10, max: DEBOUNCE - 10 })).map(([i, ms]) => new Flap(i, ms)),
    ifaceIdx.map((i) => new ToggleBackup(i)),
    ifaceIdx.map((i) => new ToggleAllowed(i)),
    fc.nat(15).map((k) => new FailSubflow(k)),
    fc.integer({ min: 0, max: 0xffff }).map((mask) => new EstablishSome(mask)),
    fc.integer({ min: 1, max: 3000 }).map((ms) => new Advance(ms)),
    fc.integer({ min: 0, max: PEER.length - 1 }).map((k) => new Announce(k)),
    fc.constant(new Settle()),
  ],
  { maxCommands: 60, size: 'large' },
);

function runModel(policy: PathPolicy): void {
  fc.assert(
    fc.property(commands, fc.integer({ min: 1, max: 1 << 30 }), fc.subarray([1, 2, 3]), (cmds, seed, startWith) => {
      const model: Model = {
        present: IFACES.map((_, i) => i === 0 || startWith.includes(i)),
        changedAt: IFACES.map(() => 0),
        backup: IFACES.map(() => false),
        allowed: IFACES.map(() => true),
      };
      const real = new Real(model, policy, seed);
      fc.modelRun(
        () => ({ model, real }),
        [...cmds].map((c) => wrap(c)),
      );
    }),
    { seed: SEED, numRuns: RUNS },
  );
}

/** Each command followed by the invariants. */
function wrap(c: Cmd): Cmd {
  return {
    check: (m) => c.check(m),
    run: (m, r) => {
      c.run(m, r);
      checkInvariants(m, r);
    },
    toString: () => c.toString(),
  };
}

describe('path manager model (fast-check commands)', () => {
  console.log(`path manager model: fast-check seed ${SEED} (set PM_MODEL_SEED to replay), ${RUNS} runs per policy`);
  it('fullmesh', () => runModel(fullmesh()));
  it('ndiffports(2)', () => runModel(ndiffports(2)));
  it('ndiffports(1) (single path with handover)', () => runModel(ndiffports(1)));
});
