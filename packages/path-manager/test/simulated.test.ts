/**
 * The path manager driving the real engine in the simulator: interfaces come and go under
 * a running transfer, and every transfer must arrive hash-exact.
 */
import { describe, expect, it } from 'vitest';
import type { LinkOptions } from '@mptun/sim';
import { ndiffports } from '../src/policy.js';
import { World, type SimIface } from './support/world.js';

const SEEDS = process.env['PM_SEED'] ? [Number(process.env['PM_SEED'])] : [1, 2, 3];
const wifiLink: LinkOptions = { rateBps: 40e6, delayMs: 10, queue: { ms: 50 }, loss: 0.001 };
const lteLink: LinkOptions = { rateBps: 20e6, delayMs: 25, queue: { ms: 80 }, loss: 0.002 };
const ethLink: LinkOptions = { rateBps: 60e6, delayMs: 5, queue: { ms: 40 } };
const wifi = (o: Partial<SimIface> = {}): SimIface => ({ name: 'wlan0', host: '10.0.0.2', link: wifiLink, present: true, ...o });
const lte = (o: Partial<SimIface> = {}): SimIface => ({ name: 'wwan0', host: '10.0.1.2', link: lteLink, present: true, ...o });
const eth = (o: Partial<SimIface> = {}): SimIface => ({ name: 'eth0', host: '10.0.2.2', link: ethLink, present: true, ...o });

describe('path manager on the engine, in the simulator', () => {
  it('the Wi-Fi address disappears mid-transfer: its subflow is closed, the transfer completes on LTE', () => {
    for (const seed of SEEDS) {
      const w = new World({
        seed,
        ifaces: [wifi(), lte()],
        upload: 3_000_000,
        download: 3_000_000,
        script: [{ at: 400, run: (x) => x.ifaceDown('wlan0') }],
      });
      let wifiAfter = 0;
      w.onPayload = (iface, n, t) => {
        if (iface === 'wlan0' && t > 400) wifiAfter += n;
      };
      const r = w.run();
      console.log(w.describe(r));
      expect(r.ok, w.describe(r)).toBe(true);
      const closes = w.actions.filter((a) => a.action.type === 'close');
      expect(closes.map((a) => a.action)).toMatchObject([{ type: 'close', cause: 'address-gone' }]);
      // Closed after the debounce (200 ms), not before.
      expect(closes[0]!.time).toBeGreaterThanOrEqual(600);
      expect(w.actions.some((a) => a.action.type === 'withdraw')).toBe(true);
      expect(w.subflowsOn('wlan0')).toEqual([]);
      expect(wifiAfter).toBe(0);
      expect(w.payload.get('wwan0')).toBeGreaterThan(1_000_000);
    }
  });

  it('the Wi-Fi address flaps for 100 ms: the debounce keeps its subflow, which carries on afterwards', () => {
    for (const seed of SEEDS) {
      let wifiAfter = 0;
      const ids: number[][] = [];
      const w = new World({
        seed,
        ifaces: [wifi(), lte()],
        upload: 4_000_000,
        download: 4_000_000,
        script: [
          { at: 299, run: (x) => ids.push(x.subflowsOn('wlan0').map((s) => s.id)) },
          { at: 800, run: (x) => ids.push(x.subflowsOn('wlan0').map((s) => s.id)) },
          { at: 300, run: (x) => x.ifaceDown('wlan0') },
          { at: 400, run: (x) => x.ifaceUp('wlan0') },
          // The links come back too (ifaceDown took them down with the address).
          { at: 400, run: (x) => x.host.meshPaths.filter((p) => p.iface.name === 'wlan0').forEach((p) => p.links.forEach((l) => l.setUp(true))) },
        ],
      });
      w.onPayload = (iface, n, t) => {
        if (iface === 'wlan0' && t > 600) wifiAfter += n;
      };
      const r = w.run();
      console.log(w.describe(r), 'Wi-Fi bytes after the flap', wifiAfter);
      expect(r.ok, w.describe(r)).toBe(true);
      expect(w.actions.filter((a) => a.action.type === 'close' || a.action.type === 'withdraw')).toEqual([]);
      // The same Wi-Fi subflow before the flap and well after the debounce.
      expect(ids[0]).toHaveLength(1);
      expect(ids[1]).toEqual(ids[0]);
      expect(wifiAfter).toBeGreaterThan(1_000_000);
    }
  });

  it('a new address appears mid-transfer: a subflow is added from it and carries bytes', () => {
    for (const seed of SEEDS) {
      const w = new World({
        seed,
        ifaces: [lte(), eth({ present: false })],
        upload: 4_000_000,
        download: 4_000_000,
        script: [{ at: 300, run: (x) => x.ifaceUp('eth0') }],
      });
      const r = w.run();
      console.log(w.describe(r));
      expect(r.ok, w.describe(r)).toBe(true);
      const joins = w.actions.filter((a) => a.action.type === 'join');
      expect(joins.map((a) => a.action)).toMatchObject([{ type: 'join', localHost: '10.0.2.2' }]);
      expect(joins[0]!.time).toBeGreaterThanOrEqual(500); // after the debounce
      expect(w.payload.get('eth0')).toBeGreaterThan(1_000_000);
      expect(w.actions.some((a) => a.action.type === 'close')).toBe(false);
    }
  });

  it('make-before-break handover (ndiffports(1)): the old subflow closes only once the new one is up; nothing is lost', () => {
    for (const seed of SEEDS) {
      let minUp = Infinity;
      let started = false;
      const w = new World({
        seed,
        policy: ndiffports(1),
        ifaces: [lte({ priority: 1 }), wifi({ present: false, priority: 0 })],
        upload: 4_000_000,
        download: 4_000_000,
        script: [{ at: 300, run: (x) => x.ifaceUp('wlan0') }],
        onPass: (x) => {
          const conn = x.conn;
          if (!conn || conn.state !== 'established') return;
          started = true;
          // Until the data is all through, some subflow is always established.
          if (x.payloadTotal() < 8_000_000) minUp = Math.min(minUp, conn.subflows().filter((s) => s.state === 'established').length);
        },
      });
      const r = w.run();
      console.log(w.describe(r), 'fewest established subflows during the transfer', minUp);
      expect(r.ok, w.describe(r)).toBe(true);
      expect(started).toBe(true);
      expect(minUp).toBeGreaterThanOrEqual(1);
      const join = w.actions.find((a) => a.action.type === 'join')!;
      const close = w.actions.find((a) => a.action.type === 'close')!;
      expect(join.action).toMatchObject({ localHost: '10.0.0.2' });
      expect(close.action).toMatchObject({ cause: 'replaced' });
      // The new subflow came up between the join and the close.
      const upAt = w.clientEvents.find((e) => e.ev.type === 'subflow-up' && e.time >= join.time)!.time;
      expect(upAt).toBeLessThanOrEqual(close.time);
      expect(close.time).toBeGreaterThan(join.time);
      expect(w.subflowsOn('wwan0')).toEqual([]);
      expect(w.payload.get('wlan0')).toBeGreaterThan(3_000_000);
    }
  });

  it('a backup address carries < 1% of the bytes while the primary is healthy; MP_PRIO makes it regular', () => {
    for (const seed of SEEDS) {
      const w = new World({ seed, ifaces: [wifi(), lte({ backup: true })], upload: 4_000_000, download: 4_000_000 });
      const r = w.run();
      const total = w.payloadTotal();
      const share = (w.payload.get('wwan0') ?? 0) / total;
      console.log(w.describe(r), `backup share ${(share * 100).toFixed(3)}%`);
      expect(r.ok, w.describe(r)).toBe(true);
      expect(w.actions.filter((a) => a.action.type === 'join').map((a) => a.action)).toMatchObject([{ localHost: '10.0.1.2', backup: true }]);
      expect(w.clientEvents.some((e) => e.ev.type === 'subflow-up')).toBe(true);
      expect(share).toBeLessThan(0.01);
    }
    // The same, with the flag cleared mid-transfer: MP_PRIO tells the server, LTE is used.
    const seed = SEEDS[0]!;
    let lteAfter = 0;
    let peerSawRegular = false;
    const w = new World({
      seed,
      ifaces: [wifi(), lte({ backup: true })],
      upload: 6_000_000,
      download: 6_000_000,
      script: [{ at: 500, run: (x) => x.pm.setBackup('wwan0/10.0.1.2', false) }],
      onPass: (x) => {
        if (x.serverConn?.subflows().some((s) => s.pathId !== x.serverConn!.subflows()[0]!.pathId && s.state === 'established' && !s.peerBackup)) peerSawRegular = true;
      },
    });
    w.onPayload = (iface, n, t) => {
      if (iface === 'wwan0' && t > 600) lteAfter += n;
    };
    const r = w.run();
    console.log(w.describe(r), 'LTE bytes after MP_PRIO', lteAfter);
    expect(r.ok).toBe(true);
    expect(w.actions.some((a) => a.action.type === 'set-backup' && !a.action.backup)).toBe(true);
    expect(peerSawRegular).toBe(true);
    expect(lteAfter).toBeGreaterThan(200_000); // it carried nothing while it was a backup
  });

  it('the backup takes over when the primary address goes away', () => {
    const seed = SEEDS[0]!;
    const w = new World({
      seed,
      ifaces: [wifi(), lte({ backup: true })],
      upload: 3_000_000,
      download: 3_000_000,
      script: [{ at: 300, run: (x) => x.ifaceDown('wlan0') }],
    });
    const r = w.run();
    console.log(w.describe(r));
    expect(r.ok, w.describe(r)).toBe(true);
    expect(w.payload.get('wwan0')).toBeGreaterThan(1_000_000);
  });

  it('ndiffports(4): four subflows over one address pair, each with its own port, all carrying data', () => {
    const seed = SEEDS[0]!;
    const perSubflow = new Map<number, { port: number; sent: number }>();
    const w = new World({
      seed,
      policy: ndiffports(4),
      ifaces: [wifi()],
      upload: 4_000_000,
      download: 0,
      onPass: (x) => {
        for (const sf of x.conn?.subflows() ?? []) perSubflow.set(sf.id, { port: sf.localPort, sent: sf.stats.bytesSent });
      },
    });
    const r = w.run();
    console.log(w.describe(r), 'bytes sent per subflow', [...perSubflow.values()].map((v) => v.sent).join(' '));
    expect(r.ok, w.describe(r)).toBe(true);
    expect(perSubflow.size).toBe(4);
    expect(new Set([...perSubflow.values()].map((v) => v.port)).size).toBe(4);
    for (const v of perSubflow.values()) expect(v.sent).toBeGreaterThan(100_000);
    expect(w.actions.filter((a) => a.action.type === 'join')).toHaveLength(3);
    const up = w.clientEvents.filter((e) => e.ev.type === 'subflow-up');
    expect(up).toHaveLength(4);
    expect(new Set(w.host.meshPaths.map((p) => p.clientPathId)).size).toBe(1); // one path
  });

  it('ndiffports(3) over one-subflow-per-path transports (tcp-in-udp ports): a path per subflow', () => {
    const seed = SEEDS[0]!;
    const w = new World({ seed, policy: ndiffports(3), fixedPorts: true, ifaces: [wifi()], upload: 3_000_000, download: 1_000_000 });
    const r = w.run();
    console.log(w.describe(r));
    expect(r.ok, w.describe(r)).toBe(true);
    expect(w.clientEvents.filter((e) => e.ev.type === 'subflow-up')).toHaveLength(3);
    expect(new Set(w.host.meshPaths.map((p) => p.clientPathId)).size).toBe(3);
    expect(w.host.meshPaths.map((p) => p.index)).toEqual([0, 1, 2]);
  });

  it('the server announces a second address (ADD_ADDR): the client joins it and uses it', () => {
    const seed = SEEDS[0]!;
    const w = new World({ seed, ifaces: [wifi()], announce: [{ addressId: 1, host: '10.9.9.10' }], upload: 4_000_000, download: 4_000_000 });
    const r = w.run();
    const toSecond = w.payloadByRemote.get('10.9.9.10') ?? 0;
    console.log(w.describe(r), 'payload via 10.9.9.10', toSecond);
    expect(r.ok, w.describe(r)).toBe(true);
    expect(w.host.meshPaths.filter((p) => p.remote.host === '10.9.9.10')).toHaveLength(1);
    expect(toSecond).toBeGreaterThan(1_000_000);
    expect(w.actions.filter((a) => a.action.type === 'join').map((a) => a.action)).toMatchObject([{ remote: { addressId: 1, host: '10.9.9.10', port: 443 } }]);
  });

  it('the server withdraws its announced address (REMOVE_ADDR): the subflow to it ends and is not rejoined', () => {
    const seed = SEEDS[0]!;
    let after = 0;
    let before = 0;
    const w = new World({
      seed,
      ifaces: [wifi()],
      announce: [{ addressId: 1, host: '10.9.9.10' }],
      upload: 6_000_000,
      download: 6_000_000,
      script: [{ at: 500, run: (x) => x.announcer.remove(1) }],
    });
    w.onPayload = (_iface, n, t, remote) => {
      if (remote !== '10.9.9.10') return;
      if (t < 500) before += n;
      else if (t > 700) after += n;
    };
    const r = w.run();
    console.log(w.describe(r), 'via 10.9.9.10 before/after the withdrawal', before, after);
    expect(r.ok, w.describe(r)).toBe(true);
    expect(before).toBeGreaterThan(200_000);
    expect(after).toBe(0);
    expect(w.actions.filter((a) => a.action.type === 'join')).toHaveLength(1);
    expect(w.pm.remotes().map((x) => x.host)).toEqual(['10.9.9.9']);
  });

  it('a server behind a balancer sets the C bit and announces its own address: every join goes there, none to the first address, the first subflow stays', () => {
    for (const seed of SEEDS) {
      const w = new World({
        seed,
        ifaces: [wifi(), lte()],
        announce: [{ addressId: 1, host: '10.9.9.10' }],
        serverConfig: { refuseJoinsToInitialAddress: true },
        upload: 3_000_000,
        download: 3_000_000,
      });
      const r = w.run();
      console.log(w.describe(r), 'payload by server address', Object.fromEntries(w.payloadByRemote));
      expect(r.ok, w.describe(r)).toBe(true);
      expect(w.conn!.joinsToInitialAddressRefused).toBe(true);
      const joins = w.actions.filter((a) => a.action.type === 'join').map((a) => a.action);
      expect(joins).toHaveLength(2);
      for (const j of joins) expect(j).toMatchObject({ remote: { addressId: 1, host: '10.9.9.10' } });
      expect(w.actions.some((a) => a.action.type === 'close')).toBe(false); // the first subflow is not "replaced"
      expect(w.host.meshPaths.filter((p) => p.remote.host === '10.9.9.9').map((p) => p.iface.name)).toEqual(['wlan0']);
      expect(w.payloadByRemote.get('10.9.9.10')).toBeGreaterThan(1_000_000);
    }
  });

  it('with the C bit and nothing announced, a second interface opens no subflow at all', () => {
    const seed = SEEDS[0]!;
    const w = new World({ seed, ifaces: [wifi(), lte()], serverConfig: { refuseJoinsToInitialAddress: true }, upload: 1_000_000, download: 1_000_000 });
    const r = w.run();
    console.log(w.describe(r));
    expect(r.ok, w.describe(r)).toBe(true);
    expect(w.actions.filter((a) => a.action.type === 'join')).toEqual([]);
    expect(w.payload.get('wwan0') ?? 0).toBe(0);
    expect(w.pm.remotes()).toEqual([]);
  });
});
