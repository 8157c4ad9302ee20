/**
 * plan()/tick() of the path manager against a fake connection: each policy, backup flags,
 * retries with backoff, make-before-break, address removal and the typed errors.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom, TcpRstReason } from '@mptun/core';
import type { LocalAddressInit } from '../src/addresses.js';
import { PathManagerError } from '../src/errors.js';
import { PathManager, type PathAction, type PathManagerOptions } from '../src/path-manager.js';
import { fullmesh, ndiffports } from '../src/policy.js';
import { FakeConnection, FakeHost } from './support/fake-connection.js';

const SEED = 0x9a7;
const SERVER = { host: '10.9.9.9', port: 443 };
const WIFI: LocalAddressInit = { id: 'wlan0', host: '10.0.0.2' };
const LTE: LocalAddressInit = { id: 'wwan0', host: '10.0.1.2' };
const ETH: LocalAddressInit = { id: 'eth0', host: '10.0.2.2' };

function setup(locals: LocalAddressInit[], opts: Partial<PathManagerOptions> = {}) {
  const host = new FakeHost();
  const conn = new FakeConnection(host);
  const pm = new PathManager({ host, server: SERVER, random: new SeededRandom(SEED), ...opts });
  for (const l of locals) pm.addLocal(l);
  const first = pm.initialPath();
  expect(first).not.toBeNull();
  const initial = conn.start(first!);
  pm.attach(conn);
  return { host, conn, pm, initial };
}

const types = (actions: PathAction[]): string[] => actions.map((a) => a.type);
const joinsOf = (actions: PathAction[]) => actions.filter((a): a is Extract<PathAction, { type: 'join' }> => a.type === 'join');

describe('PathManager: fullmesh', () => {
  console.log('path-manager unit seed', SEED);

  it('starts on the preferred address and joins one subflow from every other allowed address', () => {
    const { pm, conn, host, initial } = setup([{ ...LTE, priority: 1 }, { ...WIFI, priority: 0 }, ETH]);
    expect(host.hostOf(initial.pathId)).toBe(WIFI.host); // lowest priority value wins
    const actions = pm.tick(0);
    expect(joinsOf(actions).map((j) => j.localHost)).toEqual([ETH.host, LTE.host]);
    expect(conn.list).toHaveLength(3);
    // Nothing more to do until something changes: no duplicate per pair.
    expect(pm.tick(1)).toEqual([]);
    conn.establishAll();
    expect(pm.tick(2)).toEqual([]);
    const pairs = conn.list.map((s) => host.hostOf(s.pathId));
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  it('joins the addresses the peer announces, within one address family', () => {
    const { pm, conn, host } = setup([WIFI, LTE, { id: 'v6', host: '2001:db8::2' }]);
    pm.tick(0);
    conn.establishAll();
    conn.peer.push({ addressId: 3, host: '10.9.9.10', port: undefined }, { addressId: 4, host: '2001:db8::9', port: 4433 });
    const joins = joinsOf(pm.tick(10));
    const pairs = joins.map((j) => `${j.localHost}>${j.remote.host}:${j.remote.port}`).sort();
    expect(pairs).toEqual([
      '10.0.0.2>10.9.9.10:443',
      '10.0.1.2>10.9.9.10:443',
      '2001:db8:0:0:0:0:0:2>2001:db8:0:0:0:0:0:9:4433',
    ]);
    // The v6 address has no v4 peer: no subflow from it to 10.9.9.9 was ever tried.
    expect([...host.open.values()].some((p) => p.local.host.includes(':') && !p.remote.host.includes(':'))).toBe(false);
    // The peer withdraws address 3: what ran to it is not rejoined, and its paths are released.
    conn.establishAll();
    for (const sf of [...conn.list]) if (host.open.get(sf.pathId)?.remote.host === '10.9.9.10') conn.fail(sf.id); // the engine closes them
    conn.peer.splice(0, 1);
    const after = pm.tick(20);
    expect(joinsOf(after)).toEqual([]);
    // The local addresses are still up: their paths stay open for releaseDelayMs, then go.
    expect(after.filter((a) => a.type === 'release-path')).toHaveLength(0);
    expect(pm.nextTimeout()).toBe(3020);
    expect(pm.tick(3019)).toEqual([]);
    expect(pm.tick(3020).filter((a) => a.type === 'release-path')).toHaveLength(2);
  });

  it('usePeerAddresses: false leaves announced addresses alone', () => {
    const { pm, conn } = setup([WIFI], { usePeerAddresses: false });
    conn.peer.push({ addressId: 3, host: '10.9.9.10', port: undefined });
    expect(pm.tick(0)).toEqual([]);
  });

  it('closes a duplicate subflow on one pair once the wanted one is up', () => {
    const { pm, conn, initial } = setup([WIFI]);
    const extra = conn.join(0, initial.pathId)!; // as extraPaths would
    conn.establishAll();
    const actions = pm.tick(0);
    expect(actions).toEqual([{ type: 'close', subflowId: extra.id, cause: 'replaced' }]);
    expect(conn.list.map((s) => s.id)).toEqual([initial.id]);
  });
});

describe('PathManager: ndiffports', () => {
  it('keeps exactly n subflows on one pair: the initial one plus n−1 joins on the same path', () => {
    const { pm, conn, initial } = setup([WIFI, { ...LTE, priority: 5 }], { policy: ndiffports(3) });
    const joins = joinsOf(pm.tick(0));
    expect(joins.map((j) => j.localHost)).toEqual([WIFI.host, WIFI.host]);
    expect(conn.list.map((s) => s.pathId)).toEqual([initial.pathId, initial.pathId, initial.pathId]);
    conn.establishAll();
    expect(pm.tick(5)).toEqual([]);
    // One dies: it alone is replaced (after its backoff).
    conn.fail(conn.list[1]!.id);
    expect(pm.tick(10)).toEqual([]);
    const t = pm.nextTimeout()!;
    expect(t).toBeGreaterThan(10);
    expect(joinsOf(pm.tick(t))).toHaveLength(1);
    expect(conn.list).toHaveLength(3);
  });

  it('asks for a path per sibling, so a one-subflow-per-path transport can give each its own', () => {
    const { pm, conn, host } = setup([WIFI], { policy: ndiffports(3) });
    host.perIndex = true;
    conn.onePerPath = true;
    pm.tick(0);
    expect(new Set(conn.list.map((s) => s.pathId)).size).toBe(3);
    expect(host.open.size).toBe(3);
  });

  it('a join the engine refuses with RangeError (no port left on the path) is a failed attempt, not a crash', () => {
    const { pm, conn } = setup([WIFI], { policy: ndiffports(2), retry: { baseMs: 100, jitter: 0, maxAttempts: 2 } });
    conn.onePerPath = true; // but the host hands out one shared path
    expect(types(pm.tick(0))).toEqual(['join']);
    expect(conn.list).toHaveLength(1);
    expect(pm.status().find((s) => s.index === 1)).toMatchObject({ failures: 1, retryAt: 100 });
    // Any other exception is a bug and is not swallowed.
    const { pm: pm2, conn: conn2 } = setup([WIFI], { policy: ndiffports(2) });
    conn2.join = () => {
      throw new TypeError('bug');
    };
    expect(() => pm2.tick(0)).toThrow(TypeError);
  });

  it('a backup address gets one standby subflow with the B flag', () => {
    const { pm, conn, host } = setup([WIFI, { ...LTE, backup: true }], { policy: ndiffports(2) });
    const joins = joinsOf(pm.tick(0));
    expect(joins.map((j) => [j.localHost, j.backup])).toEqual([
      [WIFI.host, false],
      [LTE.host, true],
    ]);
    expect(conn.onHost(LTE.host).map((s) => s.backup)).toEqual([true]);
    expect(conn.list.filter((s) => host.hostOf(s.pathId) === WIFI.host)).toHaveLength(2);
  });

  it('with only backup addresses, the pair runs on the best backup address, flagged', () => {
    const { pm, conn, initial } = setup([{ ...LTE, backup: true }], { policy: ndiffports(2) });
    const actions = pm.tick(0);
    // The initial subflow could not carry the B flag in MP_CAPABLE: MP_PRIO sets it.
    expect(actions).toContainEqual({ type: 'set-backup', subflowId: initial.id, backup: true });
    expect(joinsOf(actions).map((j) => j.backup)).toEqual([true]);
    expect(conn.list.every((s) => s.backup)).toBe(true);
  });

  it('make-before-break: a preferred address gets the pair, the old subflows close only once the new are up', () => {
    const { pm, conn, host, initial } = setup([{ ...LTE, priority: 1 }], { policy: ndiffports(2) });
    pm.tick(0);
    conn.establishAll();
    expect(conn.list).toHaveLength(2);
    const old = conn.list.map((s) => s.id);
    pm.addLocal({ ...WIFI, priority: 0 });
    const handover = pm.tick(100);
    expect(types(handover)).toEqual(['join', 'join']);
    expect(joinsOf(handover).every((j) => j.localHost === WIFI.host)).toBe(true);
    // One of the two new ones is up: still not settled, the old pair stays.
    const fresh = conn.onHost(WIFI.host);
    conn.establish(fresh[0]!.id);
    expect(pm.tick(150)).toEqual([]);
    conn.establish(fresh[1]!.id);
    const done = pm.tick(200);
    expect(done.filter((a) => a.type === 'close')).toEqual(old.map((id) => ({ type: 'close', subflowId: id, cause: 'replaced' })));
    // LTE is still up: its path is kept a while so the resets can be completed (RFC 5961).
    expect(pm.tick(3199)).toEqual([]);
    expect(pm.tick(3200)).toEqual([{ type: 'release-path', pathId: initial.pathId }]);
    expect(done.some((a) => a.type === 'withdraw')).toBe(false); // the old address is still usable
    expect(conn.list.every((s) => host.hostOf(s.pathId) === WIFI.host)).toBe(true);
  });

  it('when the preferred address never connects, the pair goes back to the next one', () => {
    const { pm, conn, host } = setup([{ ...LTE, priority: 1 }], { policy: ndiffports(1), retry: { maxAttempts: 2, baseMs: 100, jitter: 0 } });
    pm.tick(0);
    pm.addLocal({ ...WIFI, priority: 0 });
    pm.tick(10);
    for (let i = 0; i < 2; i++) {
      const attempt = conn.onHost(WIFI.host)[0]!;
      conn.fail(attempt.id);
      pm.tick(1000 * (i + 1));
      const t = pm.nextTimeout();
      if (t !== null) pm.tick(t);
    }
    // Both attempts spent: the Wi-Fi pair is exhausted, LTE's subflow was never closed.
    expect(conn.onHost(WIFI.host)).toHaveLength(0);
    expect(conn.onHost(LTE.host)).toHaveLength(1);
    expect(pm.status().find((s) => s.localId === WIFI.id)?.exhausted).toBe(true);
    expect(pm.tick(10_000).filter((a) => a.type === 'join')).toEqual([]);
    // The Wi-Fi path is no longer wanted: released; LTE's is kept.
    expect(host.released.map((id) => host.open.get(id))).toEqual([undefined]);
    expect([...host.open.values()].map((p) => p.local.host)).toEqual([LTE.host]);
  });
});

describe('PathManager: backup flags', () => {
  it('joins a backup address with B and follows flag changes with MP_PRIO', () => {
    const { pm, conn } = setup([WIFI, { ...LTE, backup: true }]);
    expect(joinsOf(pm.tick(0)).map((j) => j.backup)).toEqual([true]);
    conn.establishAll();
    pm.setBackup(LTE.id, false);
    pm.setBackup(WIFI.id, true);
    const actions = pm.tick(10);
    expect(actions.filter((a) => a.type === 'set-backup')).toHaveLength(2);
    expect(conn.onHost(WIFI.host).map((s) => s.backup)).toEqual([true]);
    expect(conn.onHost(LTE.host).map((s) => s.backup)).toEqual([false]);
    expect(pm.tick(11)).toEqual([]);
  });
});

describe('PathManager: retries', () => {
  it('a failing join is retried with exponential backoff, a bounded number of times', () => {
    const retry = { baseMs: 200, factor: 2, maxMs: 5000, jitter: 0.5, maxAttempts: 4 };
    const { pm, conn } = setup([WIFI, LTE], { retry });
    pm.tick(0);
    const times: number[] = [];
    let now = 0;
    const lteSlot = () => pm.status().find((s) => s.localId === LTE.id)!;
    for (let i = 0; i < 10; i++) {
      const attempt = conn.onHost(LTE.host)[0];
      if (!attempt) break;
      now += 50; // the handshake fails after a while
      conn.fail(attempt.id);
      pm.tick(now);
      if (lteSlot().exhausted) break;
      const t = pm.nextTimeout()!;
      expect(t).toBe(lteSlot().retryAt);
      expect(pm.tick(t - 1).some((a) => a.type === 'join')).toBe(false); // not early
      times.push(t - now);
      now = t;
      expect(joinsOf(pm.tick(now))).toHaveLength(1);
    }
    expect(conn.joins).toBe(4); // 4 attempts: the first and three retries
    expect(times).toHaveLength(3);
    times.forEach((d, i) => {
      const ceiling = 200 * 2 ** i;
      expect(d).toBeLessThanOrEqual(ceiling);
      expect(d).toBeGreaterThan(ceiling / 2);
    });
    expect(lteSlot()).toMatchObject({ exhausted: true, failures: 4 });
    // Given up: the only timer left is the release of its path.
    expect(conn.list).toHaveLength(1);
    expect(pm.nextTimeout()).toBe(now + 3000);
    expect(pm.tick(now + 3000).map((a) => a.type)).toEqual(['release-path']);
    expect(pm.nextTimeout()).toBeNull();
  });

  it('success resets the count: a subflow that was up and dies gets the first delay again', () => {
    const { pm, conn } = setup([WIFI, LTE], { retry: { baseMs: 100, jitter: 0, maxAttempts: 3 } });
    pm.tick(0);
    conn.fail(conn.onHost(LTE.host)[0]!.id);
    pm.tick(10);
    expect(pm.nextTimeout()).toBe(110);
    pm.tick(110);
    conn.fail(conn.onHost(LTE.host)[0]!.id);
    pm.tick(120);
    expect(pm.nextTimeout()).toBe(320); // second failure: 200 ms
    pm.tick(320);
    conn.establishAll();
    pm.tick(330);
    expect(pm.status().find((s) => s.localId === LTE.id)?.failures).toBe(0);
    conn.fail(conn.onHost(LTE.host)[0]!.id);
    pm.tick(5000);
    expect(pm.nextTimeout()).toBe(5100);
  });

  it('events tell an attempt that came up and died between two ticks from one that never came up', () => {
    const { pm, conn } = setup([WIFI, LTE], { retry: { baseMs: 100, jitter: 0, maxAttempts: 3 } });
    pm.tick(0);
    const sf = conn.onHost(LTE.host)[0]!;
    // Two failures first.
    for (const t of [10, 200]) {
      conn.fail(conn.onHost(LTE.host)[0]!.id);
      pm.tick(t);
      pm.tick(pm.nextTimeout()!);
    }
    const third = conn.onHost(LTE.host)[0]!;
    expect(third.id).not.toBe(sf.id);
    expect(pm.handleEvent(500, { type: 'subflow-up', connection: conn, subflowId: third.id })).toBe(true);
    conn.fail(third.id);
    expect(pm.handleEvent(510, { type: 'subflow-down', connection: conn, subflowId: third.id })).toBe(true);
    // Not exhausted: it had come up, so this is the first failure of a new round.
    expect(pm.status().find((s) => s.localId === LTE.id)).toMatchObject({ failures: 1, exhausted: false, retryAt: 610 });
    expect(pm.handleEvent(0, { type: 'subflow-up', connection: {}, subflowId: 1 })).toBe(false);
  });

  for (const transient of [false, true]) {
    it(`a subflow the peer reset with MP_TCPRST T=${transient ? 1 : 0} ${transient ? 'is tried again after the usual delay' : 'is not tried again (RFC 8684 §3.6)'}`, () => {
      const { pm, conn } = setup([WIFI, LTE], { retry: { baseMs: 100, jitter: 0, maxAttempts: 5 } });
      pm.tick(0);
      const sf = conn.onHost(LTE.host)[0]!;
      expect(pm.handleEvent(5, { type: 'subflow-up', connection: conn, subflowId: sf.id })).toBe(true);
      conn.fail(sf.id);
      expect(pm.handleEvent(10, { type: 'subflow-down', connection: conn, subflowId: sf.id, peerReset: { reason: 5, transient } })).toBe(true);
      const slot = () => pm.status().find((s) => s.localId === LTE.id);
      expect(slot()).toMatchObject(transient ? { exhausted: false, retryAt: 110 } : { exhausted: true });
      pm.tick(10_000);
      expect(conn.onHost(LTE.host).some((s) => s.id !== sf.id), 'a new attempt on that path').toBe(transient);
    });
  }

  it('a path that cannot be opened or a join the engine refuses counts as a failed attempt', () => {
    const { pm, conn, host } = setup([WIFI, LTE], { retry: { baseMs: 100, jitter: 0, maxAttempts: 2 } });
    host.refuse.add(LTE.host);
    pm.tick(0);
    expect(pm.nextTimeout()).toBe(100);
    host.refuse.clear();
    conn.refuseJoins = true;
    pm.tick(100);
    expect(pm.status().find((s) => s.localId === LTE.id)).toMatchObject({ exhausted: true, failures: 2 });
    expect(pm.nextTimeout()).toBe(3100); // only the release of the LTE path is left
    expect(conn.list).toHaveLength(1);
  });
});

describe('PathManager: addresses that go away', () => {
  it('a removed address: its subflow closes, REMOVE_ADDR names it, its path is released', () => {
    const { pm, conn, host } = setup([WIFI, LTE]);
    pm.tick(0);
    conn.establishAll();
    const lte = conn.onHost(LTE.host)[0]!;
    const lteId = lte.localAddressId;
    expect(pm.removeLocal(LTE.id)).toBe(true);
    const actions = pm.tick(50);
    expect(actions).toEqual([
      { type: 'close', subflowId: lte.id, cause: 'address-gone' },
      { type: 'withdraw', addressIds: [lteId] },
      { type: 'release-path', pathId: lte.pathId },
    ]);
    expect(conn.closed).toEqual([{ id: lte.id, reason: TcpRstReason.UNSPECIFIED }]);
    expect(host.released).toEqual([lte.pathId]);
    expect(pm.tick(60)).toEqual([]); // withdrawn once
  });

  it('the initial address goes: address id 0 is withdrawn', () => {
    const { pm, conn, initial } = setup([WIFI, LTE]);
    pm.tick(0);
    conn.establishAll();
    pm.removeLocal(WIFI.id);
    const actions = pm.tick(10);
    expect(actions).toContainEqual({ type: 'close', subflowId: initial.id, cause: 'address-gone' });
    expect(actions).toContainEqual({ type: 'withdraw', addressIds: [0] });
  });

  it('break-before-make: the last subflow is kept when its address goes, until a new address brings another', () => {
    const { pm, conn, initial } = setup([WIFI]);
    pm.removeLocal(WIFI.id);
    expect(pm.tick(0)).toEqual([]);
    expect(conn.list.map((s) => s.id)).toEqual([initial.id]);
    pm.addLocal(LTE);
    expect(types(pm.tick(100))).toEqual(['join']);
    expect(pm.tick(120)).toEqual([]); // the new one is not up yet
    conn.establishAll();
    const actions = pm.tick(150);
    expect(actions[0]).toEqual({ type: 'close', subflowId: initial.id, cause: 'address-gone' });
    expect(actions).toContainEqual({ type: 'withdraw', addressIds: [0] });
  });

  it('keepLastSubflow: false closes it at once', () => {
    const { pm, initial } = setup([WIFI], { keepLastSubflow: false });
    pm.removeLocal(WIFI.id);
    expect(pm.tick(0)[0]).toEqual({ type: 'close', subflowId: initial.id, cause: 'address-gone' });
  });

  it('TCP_MULTIPATH_REMOVE: alternatives first, then the address is closed (ADMIN_PROHIBITED) and withdrawn', () => {
    const { pm, conn, initial } = setup([WIFI, LTE]);
    pm.tick(0); // LTE joined, not up yet
    pm.setAllowed(WIFI.id, false);
    expect(pm.tick(10)).toEqual([]); // LTE is still in its handshake: Wi-Fi stays
    conn.establishAll();
    const actions = pm.tick(20);
    expect(actions).toEqual([
      { type: 'close', subflowId: initial.id, cause: 'address-disallowed' },
      { type: 'withdraw', addressIds: [0] },
    ]);
    expect(conn.closed).toEqual([{ id: initial.id, reason: TcpRstReason.ADMIN_PROHIBITED }]);
    expect(pm.tick(3020)).toEqual([{ type: 'release-path', pathId: initial.pathId }]);
    // TCP_MULTIPATH_ADD again: it is joined again.
    pm.setAllowed(WIFI.id, true);
    expect(joinsOf(pm.tick(3030)).map((j) => j.localHost)).toEqual([WIFI.host]);
  });

  it('a flap of an address re-added under the same id and host keeps its subflow', () => {
    const { pm, conn } = setup([WIFI, LTE]);
    pm.tick(0);
    conn.establishAll();
    const before = conn.list.map((s) => s.id);
    pm.removeLocal(LTE.id);
    pm.addLocal(LTE); // no tick in between: nothing happened as far as the connection goes
    expect(pm.tick(10)).toEqual([]);
    expect(conn.list.map((s) => s.id)).toEqual(before);
  });
});

describe('PathManager: connection states and input checks', () => {
  it('does nothing before it is attached or while the connection is connecting or in fallback', () => {
    const host = new FakeHost();
    const conn = new FakeConnection(host);
    const pm = new PathManager({ host, server: SERVER, random: new SeededRandom(SEED) });
    pm.addLocal(WIFI);
    pm.addLocal(LTE);
    expect(pm.tick(0)).toEqual([]);
    const p = pm.initialPath()!;
    pm.attach(conn);
    expect(pm.tick(0)).toEqual([]); // connecting
    conn.start(p);
    conn.fallback = true;
    expect(pm.tick(1)).toEqual([]);
    expect(pm.nextTimeout()).toBeNull();
  });

  it('releases every path once the connection is closed', () => {
    const { pm, conn, host } = setup([WIFI, LTE]);
    pm.tick(0);
    conn.state = 'closed';
    conn.list.length = 0;
    const actions = pm.tick(10);
    expect(actions.map((a) => a.type)).toEqual(['release-path', 'release-path']);
    expect(host.open.size).toBe(0);
    expect(pm.tick(20)).toEqual([]);
  });

  it('refuses bad input with typed errors', () => {
    const host = new FakeHost();
    const pm = new PathManager({ host, server: SERVER, random: new SeededRandom(SEED), policy: fullmesh() });
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(PathManagerError);
        return (e as PathManagerError).code;
      }
      return 'no error';
    };
    expect(code(() => pm.addLocal({ id: 'x', host: 'wlan0.local' }))).toBe('ERR_PM_BAD_ADDRESS');
    expect(code(() => pm.addLocal({ id: '', host: '10.0.0.1' }))).toBe('ERR_PM_BAD_ADDRESS');
    pm.addLocal({ id: 'a', host: '10.0.0.1' });
    expect(code(() => pm.addLocal({ id: 'b', host: '10.0.0.1' }))).toBe('ERR_PM_BAD_ADDRESS');
    expect(code(() => pm.addLocal({ id: 'c', host: '10.0.0.3', priority: NaN }))).toBe('ERR_PM_BAD_OPTION');
    expect(code(() => ndiffports(0))).toBe('ERR_PM_BAD_OPTION');
    expect(code(() => ndiffports(33))).toBe('ERR_PM_BAD_OPTION');
    expect(code(() => new PathManager({ host, server: { host: '10.0.0.9', port: 70000 }, random: new SeededRandom(1) }))).toBe('ERR_PM_BAD_ADDRESS');
    const conn = new FakeConnection(host);
    pm.attach(conn);
    expect(code(() => pm.attach(conn))).toBe('ERR_PM_ATTACHED');
    expect(pm.setAllowed('nope', false)).toBe(false);
    expect(pm.removeLocal('nope')).toBe(false);
  });
});

describe('PathManager: a host still opening a path', () => {
  it("'pending' counts no failure: the join waits and goes out at the first tick after the path is up", () => {
    const { pm, conn, host } = setup([WIFI]);
    host.opening.add(LTE.host);
    pm.addLocal(LTE);
    for (let t = 0; t < 5000; t += 100) expect(joinsOf(pm.tick(t)).every((j) => j.localHost === LTE.host)).toBe(true);
    expect(conn.joins).toBe(0);
    const lte = pm.status().find((s) => s.localId === LTE.id)!;
    expect(lte).toMatchObject({ subflowId: null, failures: 0, exhausted: false });
    expect(pm.nextTimeout()).toBeNull(); // no retry timer: the host ticks when the path is ready
    host.opening.delete(LTE.host);
    pm.tick(5000);
    expect(conn.joins).toBe(1);
    expect(host.hostOf(conn.list.at(-1)!.pathId)).toBe(LTE.host);
  });

  it('a path the host lost is asked for again rather than joined on', () => {
    const { pm, conn, host } = setup([WIFI, LTE]);
    pm.tick(0);
    conn.establishAll();
    pm.tick(10);
    const lteSf = conn.list.find((s) => host.hostOf(s.pathId) === LTE.host)!;
    const lost = lteSf.pathId;
    host.open.delete(lost); // the link closed under it
    conn.list.splice(conn.list.indexOf(lteSf), 1);
    const calls = host.ensureCalls;
    for (let t = 20; t < 60_000 && conn.joins < 2; t += 100) pm.tick(t);
    expect(host.ensureCalls).toBeGreaterThan(calls);
    const again = conn.list.find((s) => host.hostOf(s.pathId) === LTE.host)!;
    expect(again.pathId).not.toBe(lost);
  });
});
