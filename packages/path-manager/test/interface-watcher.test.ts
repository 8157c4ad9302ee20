/** The interface watcher: debounce in virtual time, filters, a failing source, the Node adapter. */
import { describe, expect, it } from 'vitest';
import { PathManagerError } from '../src/errors.js';
import { interfaceFilter, type InterfaceEntry } from '../src/interface-filter.js';
import { InterfaceWatcher, interfaceKey } from '../src/interface-watcher.js';
import { nodeInterfaces } from '../src/node-interfaces.js';

const lo: InterfaceEntry = { name: 'lo', address: '127.0.0.1', family: 'IPv4', internal: true };
const wifi: InterfaceEntry = { name: 'wlan0', address: '192.168.1.20', family: 'IPv4', internal: false };
const lte: InterfaceEntry = { name: 'wwan0', address: '10.64.3.7', family: 'IPv4', internal: false };
const v6: InterfaceEntry = { name: 'wlan0', address: '2001:db8::20', family: 'IPv6', internal: false };
const linkLocal: InterfaceEntry = { name: 'wlan0', address: 'fe80::1', family: 'IPv6', internal: false };

/** A source whose list the test edits. */
function editable(initial: InterfaceEntry[]) {
  const list = [...initial];
  return {
    list,
    source: () => list,
    drop: (e: InterfaceEntry) => list.splice(list.indexOf(e), 1),
    add: (e: InterfaceEntry) => list.push(e),
  };
}

describe('InterfaceWatcher: debounce', () => {
  it('reports the first sample at once, then a removal only after it held for debounceMs', () => {
    const src = editable([lo, wifi, lte]);
    const w = new InterfaceWatcher({ source: src.source, pollIntervalMs: 100, debounceMs: 500 });
    expect(w.nextTimeout()).toBe(-Infinity);
    expect(w.poll(0).map((c) => `${c.type} ${c.name} ${c.address}`)).toEqual(['added wlan0 192.168.1.20', 'added wwan0 10.64.3.7']);
    expect(w.nextTimeout()).toBe(100);
    src.drop(wifi);
    expect(w.poll(100)).toEqual([]); // first seen missing at 100
    expect(w.nextTimeout()).toBe(200);
    for (let t = 200; t < 600; t += 100) expect(w.poll(t)).toEqual([]);
    expect(w.poll(600)).toEqual([{ type: 'removed', name: 'wlan0', address: '192.168.1.20', family: 4 }]);
    expect(w.current().map(interfaceKey)).toEqual(['wwan0/10.64.3.7']);
  });

  it('a flap shorter than debounceMs is never reported', () => {
    const src = editable([wifi]);
    const w = new InterfaceWatcher({ source: src.source, pollIntervalMs: 50, debounceMs: 300 });
    w.poll(0);
    src.drop(wifi);
    expect(w.poll(50)).toEqual([]);
    expect(w.poll(100)).toEqual([]);
    src.add(wifi); // back after ~100 ms
    expect(w.poll(150)).toEqual([]);
    for (let t = 200; t <= 1000; t += 50) expect(w.poll(t)).toEqual([]);
    expect(w.current()).toHaveLength(1);
    // A new address that blinks in and out is not reported either.
    src.add(lte);
    expect(w.poll(1050)).toEqual([]);
    src.drop(lte);
    expect(w.poll(1100)).toEqual([]);
    expect(w.poll(1500)).toEqual([]);
  });

  it('nextTimeout brings the poll forward to when a pending change matures', () => {
    const src = editable([wifi]);
    const w = new InterfaceWatcher({ source: src.source, pollIntervalMs: 1000, debounceMs: 250 });
    w.poll(0);
    src.add(lte);
    w.poll(1000);
    expect(w.nextTimeout()).toBe(1250);
    expect(w.poll(1250).map((c) => c.type)).toEqual(['added']);
    expect(w.nextTimeout()).toBe(2250);
  });

  it('without reportInitial, the first sample is debounced too', () => {
    const src = editable([wifi]);
    const w = new InterfaceWatcher({ source: src.source, pollIntervalMs: 100, debounceMs: 200, reportInitial: false });
    expect(w.poll(0)).toEqual([]);
    expect(w.poll(100)).toEqual([]);
    expect(w.poll(200).map((c) => c.name)).toEqual(['wlan0']);
  });

  it('a source that throws or returns junk changes nothing', () => {
    let fail = false;
    let junk = false;
    const w = new InterfaceWatcher({
      source: () => {
        if (fail) throw new Error('uv_interface_addresses failed');
        if (junk) return 'nope' as unknown as InterfaceEntry[];
        return [wifi, null as unknown as InterfaceEntry, { name: 'x', address: 'not an address', internal: false }];
      },
      pollIntervalMs: 10,
      debounceMs: 0,
    });
    expect(w.poll(0)).toHaveLength(1);
    fail = true;
    expect(w.poll(10)).toEqual([]);
    fail = false;
    junk = true;
    expect(w.poll(20)).toEqual([]);
    expect(w.sourceErrors).toBe(2);
    expect(w.current()).toHaveLength(1);
  });

  it('takes at most maxAddresses from one sample', () => {
    const many: InterfaceEntry[] = Array.from({ length: 1000 }, (_, i) => ({ name: `veth${i}`, address: `10.1.${i >> 8}.${i & 255}`, internal: false }));
    const w = new InterfaceWatcher({ source: () => many, maxAddresses: 16 });
    expect(w.poll(0)).toHaveLength(16);
  });

  it('refuses bad options', () => {
    for (const o of [{ pollIntervalMs: 0 }, { debounceMs: -1 }, { maxAddresses: 0 }, { pollIntervalMs: Infinity }]) {
      expect(() => new InterfaceWatcher({ source: () => [], ...o })).toThrow(PathManagerError);
    }
  });
});

describe('interface filter', () => {
  const names = (f: Parameters<typeof interfaceFilter>[0], list: InterfaceEntry[]): string[] =>
    list.map(interfaceFilter(f)).filter((a) => a !== null).map((a) => `${a.name}/${a.address}`);
  const all = [lo, wifi, lte, v6, linkLocal, { ...lte, name: 'wwan1', address: '10.64.9.9', up: false }];

  it('by default: up, non-internal, not link-local, both families', () => {
    expect(names({}, all)).toEqual(['wlan0/192.168.1.20', 'wwan0/10.64.3.7', 'wlan0/2001:db8:0:0:0:0:0:20']);
  });

  it('family, internal, link-local, names, excluded names, address allow list', () => {
    expect(names({ family: 'ipv4' }, all)).toEqual(['wlan0/192.168.1.20', 'wwan0/10.64.3.7']);
    expect(names({ family: 'ipv6', includeLinkLocal: true }, all)).toEqual(['wlan0/2001:db8:0:0:0:0:0:20', 'wlan0/fe80:0:0:0:0:0:0:1']);
    expect(names({ includeInternal: true, family: 'ipv4' }, all)).toContain('lo/127.0.0.1');
    expect(names({ names: [/^wl/] }, all)).toEqual(['wlan0/192.168.1.20', 'wlan0/2001:db8:0:0:0:0:0:20']);
    expect(names({ excludeNames: ['wlan0'] }, all)).toEqual(['wwan0/10.64.3.7']);
    expect(names({ addresses: ['2001:db8:0::20', '10.64.3.7', 'garbage'] }, all)).toEqual(['wwan0/10.64.3.7', 'wlan0/2001:db8:0:0:0:0:0:20']);
    expect(names({ includeLinkLocal: true, family: 'ipv4' }, [{ name: 'e', address: '169.254.3.4', internal: false }])).toEqual(['e/169.254.3.4']);
    expect(names({ family: 'ipv4' }, [{ name: 'e', address: '169.254.3.4', internal: false }])).toEqual([]);
  });
});

describe('node-interfaces adapter', () => {
  it('flattens os.networkInterfaces() into well-formed entries the watcher accepts', () => {
    const list = nodeInterfaces();
    for (const e of list) {
      expect(typeof e.name).toBe('string');
      expect(typeof e.address).toBe('string');
      expect(typeof e.internal).toBe('boolean');
    }
    const w = new InterfaceWatcher({ source: nodeInterfaces, includeInternal: true, includeLinkLocal: true });
    const added = w.poll(0);
    // Every listed address parses, so every one is reported (up to the cap).
    expect(added).toHaveLength(Math.min(new Set(list.map((e) => `${e.name}/${e.address}`)).size, 256));
    console.log('this machine lists', added.map((c) => interfaceKey(c)).join(', '));
  });
});
