import { describe, it, expect } from 'vitest';
import { linkProfiles } from '@mptun/sim';
import { parseHostPort, parsePathEndpoints } from '../src/address.js';
import { resolveConfig } from '../src/config.js';
import { LinkemError } from '../src/errors.js';
import { parsePathPatch, PatchBuilder } from '../src/link-spec.js';
import { parseScript } from '../src/script.js';
import { parseByteSize, parseDuration, parseProbability, parseRate } from '../src/units.js';

/** The error `fn` throws, checked to be a LinkemError. */
function errorOf(fn: () => unknown): LinkemError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LinkemError);
    return err as LinkemError;
  }
  throw new Error('expected a LinkemError, nothing was thrown');
}

describe('units', () => {
  it('refuses values of the wrong JSON type with a LinkemError, never a TypeError (found by fuzz-config)', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const path = '"listen":"127.0.0.2:7000","target":"127.0.0.1:1"';
    for (const text of [
      '{"x":{"toString":1}}',
      `{"x":${deep}}`,
      `{"paths":[{${path},"idleTimeout":true}]}`,
      `{"paths":[{${path},"idleTimeout":null}]}`,
      `{"paths":[{${path},"maxClients":{"toString":1}}]}`,
      `{"paths":[{${path}}],"seed":{"toString":1}}`,
      `{"paths":[{${path}}],"control":{"port":[[1]]}}`,
    ]) {
      expect(() => resolveConfig(JSON.parse(text)), text.slice(0, 60)).toThrow(LinkemError);
    }
  });

  it('reads rates in bits per second', () => {
    expect(parseRate('20mbit', '--rate')).toBe(20e6);
    expect(parseRate('1.5Gbit', '--rate')).toBe(1.5e9);
    expect(parseRate('500kbit', '--rate')).toBe(500e3);
    expect(parseRate('64000', '--rate')).toBe(64000);
    expect(parseRate('unlimited', '--rate')).toBe(Infinity);
    expect(parseRate(2e6, 'rate')).toBe(2e6);
  });

  it('refuses ambiguous or malformed rates, naming the flag', () => {
    const amb = errorOf(() => parseRate('20mbps', '--up-rate'));
    expect(amb.code).toBe('ERR_LINKEM_BAD_OPTION');
    expect(amb.message).toMatch(/^--up-rate: "20mbps" is ambiguous.*20mbit/);
    for (const bad of ['fast', '-5mbit', '0', '20 megabits', '']) {
      const e = errorOf(() => parseRate(bad, '--rate'));
      expect(e.message).toMatch(/^--rate: expected a rate like 20mbit/);
    }
  });

  it('reads durations, sizes and probabilities', () => {
    expect(parseDuration('30ms', '--delay')).toBe(30);
    expect(parseDuration('1.5s', '--delay')).toBe(1500);
    expect(parseDuration('250us', '--delay')).toBe(0.25);
    expect(parseDuration('2min', '--delay')).toBe(120_000);
    expect(parseDuration('40', '--delay')).toBe(40);
    expect(() => parseDuration('40', 'time', true)).toThrow(/time: expected a time with a unit/);
    expect(() => parseDuration('3 hours', '--delay')).toThrow(/--delay: expected a duration/);
    expect(parseByteSize('64kb', '--queue')).toBe(64_000);
    expect(parseByteSize('1mib', '--queue')).toBe(1024 * 1024);
    expect(parseProbability('1%', '--loss')).toBe(0.01);
    expect(parseProbability('0.25', '--loss')).toBe(0.25);
    expect(() => parseProbability('5', '--loss')).toThrow(/--loss: expected a probability like 1%/);
    expect(() => parseProbability('150%', '--loss')).toThrow(/--loss/);
  });

  it('reads addresses and path specs', () => {
    expect(parseHostPort('127.0.0.2:7000', 'x', false)).toEqual({ host: '127.0.0.2', port: 7000 });
    expect(parseHostPort('[::1]:443', 'x', false)).toEqual({ host: '::1', port: 443 });
    expect(parseHostPort('localhost:0', 'x', true)).toEqual({ host: 'localhost', port: 0 });
    expect(() => parseHostPort('127.0.0.1:0', '--udp', false)).toThrow(/--udp: expected HOST:PORT.*port from 1 to 65535/);
    expect(() => parseHostPort('::1:80', '--udp', false)).toThrow(/put an IPv6 address in \[\]/);
    expect(() => parseHostPort('127.0.0.1:70000', '--udp', true)).toThrow(/--udp/);
    expect(parsePathEndpoints('wifi@127.0.0.2:7000=127.0.0.1:7001', '--udp')).toEqual({
      name: 'wifi',
      listen: { host: '127.0.0.2', port: 7000 },
      target: { host: '127.0.0.1', port: 7001 },
    });
    expect(() => parsePathEndpoints('127.0.0.2:7000', '--udp')).toThrow(/--udp: expected \[NAME@\]LISTEN=TARGET/);
    expect(() => parsePathEndpoints('wi fi@127.0.0.2:1=127.0.0.1:2', '--udp')).toThrow(/path name/);
  });
});

describe('link settings', () => {
  it('builds both directions from a profile, shared keys and per-direction keys', () => {
    const p = parsePathPatch({ profile: 'lte', loss: '1%', up: { rate: '5mbit' }, down: { delay: '40ms', profile: 'wifi' } }, 'patch');
    expect(p.up).toEqual({ ...linkProfiles.lte, queue: { ...linkProfiles.lte.queue }, loss: 0.01, rateBps: 5e6 });
    // down: lte, then loss for both, then the down object's own profile and keys.
    expect(p.down.rateBps).toBe(linkProfiles.wifi.rateBps);
    expect(p.down.delayMs).toBe(40);
    expect(p.down.loss).toBe(linkProfiles.wifi.loss);
    expect(p.datagramOnly).toEqual(['patch.loss']);
  });

  it('accepts the simulator field names and plain numbers', () => {
    const p = parsePathPatch({ rateBps: 1e6, delayMs: 5, queue: { bytes: 3000 }, gilbertElliott: { pGoodToBad: 0.1, pBadToGood: 0.5 } }, 'p');
    expect(p.up).toEqual({ rateBps: 1e6, delayMs: 5, queue: { bytes: 3000 }, gilbertElliott: { pGoodToBad: 0.1, pBadToGood: 0.5, lossInGood: 0, lossInBad: 1 } });
  });

  it('reads queue, burst and reorder strings', () => {
    const b = new PatchBuilder()
      .set('both', 'queue', '50ms', 'q')
      .set('up', 'queue', '64kb', 'q')
      .set('both', 'burst', 'enter=1%,exit=30%,bad=80%', 'b')
      .set('both', 'reorder', '5%,10ms', 'r')
      .build('x');
    expect(b.down.queue).toEqual({ ms: 50 });
    expect(b.up.queue).toEqual({ bytes: 64_000 });
    expect(b.up.gilbertElliott).toEqual({ pGoodToBad: 0.01, pBadToGood: 0.3, lossInGood: 0, lossInBad: 0.8 });
    expect(b.up.reorder).toEqual({ probability: 0.05, extraDelayMs: 10 });
    expect(new PatchBuilder().set('both', 'burst', 'off', 'b').build('x').up.gilbertElliott).toBeNull();
  });

  it('names the key at fault', () => {
    expect(errorOf(() => parsePathPatch({ down: { delay: 'soon' } }, 'paths[1]')).message).toMatch(/^paths\[1\]\.down\.delay: expected a duration/);
    expect(errorOf(() => parsePathPatch({ rtt: '5ms' }, 'patch')).message).toMatch(/^patch\.rtt: unknown setting "rtt"/);
    expect(errorOf(() => parsePathPatch({ profile: 'dialup' }, 'patch')).message).toMatch(/^patch\.profile: expected one of the profiles wifi, lte/);
    expect(errorOf(() => parsePathPatch({ burst: 'enter=1%' }, 'patch')).message).toMatch(/^patch\.burst: expected burst loss as enter=/);
    expect(errorOf(() => parsePathPatch({ queue: '100' }, 'patch')).message).toMatch(/^patch\.queue: expected a queue bound/);
    expect(errorOf(() => parsePathPatch({ jitter: -1 }, 'patch')).message).toMatch(/^patch\.jitter/);
  });
});

describe('scripts', () => {
  it('reads absolute and relative steps with states and settings', () => {
    const steps = parseScript('10s down; 12s up; 20s rate=5mbit down-delay=80ms; +500ms profile=3g up', '--script');
    expect(steps.map((s) => [s.atMs, s.state])).toEqual([
      [10_000, 'down'],
      [12_000, 'up'],
      [20_000, null],
      [20_500, 'up'],
    ]);
    expect(steps[0]!.patch).toBeNull();
    expect(steps[2]!.patch!.up).toEqual({ rateBps: 5e6 });
    expect(steps[2]!.patch!.down).toEqual({ rateBps: 5e6, delayMs: 80 });
    expect(steps[3]!.patch!.up.rateBps).toBe(linkProfiles['3g'].rateBps);
  });

  it('explains what is wrong and where', () => {
    expect(() => parseScript('10 down', '--script')).toThrow(/--script step 1 \("10 down"\) time: expected a time with a unit/);
    expect(() => parseScript('10s down; 5s up', '--script')).toThrow(/step 2 .*time order/);
    expect(() => parseScript('10s sideways', '--script')).toThrow(/step 1 .*expected down, up or KEY=VALUE, got "sideways"/);
    expect(() => parseScript('10s rate=fast', '--script')).toThrow(/--script step 1 \("10s rate=fast"\) rate: expected a rate/);
    expect(() => parseScript('10s', '--script')).toThrow(/expected down, up or KEY=VALUE after the time/);
    expect(() => parseScript('1s down up', '--script')).toThrow(/at most one of down \/ up/);
  });
});

describe('resolveConfig', () => {
  it('fills in names, defaults and the upstream address for loopback paths', () => {
    const c = resolveConfig({
      seed: 3,
      control: 9470,
      paths: [
        { listen: '127.0.0.2:7000', target: '127.0.0.1:7000', profile: 'wifi' },
        { name: 'ws', protocol: 'tcp', listen: '127.0.0.3:0', target: 'localhost:8443', profile: 'lte', resetOnDown: true },
      ],
    });
    expect(c.seed).toBe(3);
    expect(c.control).toEqual({ host: '127.0.0.1', port: 9470 });
    expect(c.paths[0]!.name).toBe('udp-127.0.0.2-7000');
    expect(c.paths[0]!.upstreamHost).toBe('127.0.0.2');
    expect(c.paths[0]!.up.loss).toBe(linkProfiles.wifi.loss);
    const ws = c.paths[1]!;
    expect(ws.upstreamHost).toBeNull(); // the target is a name: the OS picks the source
    expect(ws.resetOnDown).toBe(true);
    expect(ws.up.loss).toBeUndefined(); // a profile's loss is left out of a byte stream
    expect(ws.up.rateBps).toBe(linkProfiles.lte.rateBps);
  });

  it('refuses datagram-only settings on a TCP path, naming them', () => {
    const e = errorOf(() =>
      resolveConfig({ paths: [{ protocol: 'tcp', listen: '127.0.0.2:1', target: '127.0.0.1:2', loss: '1%', script: '1s reorder=5%,1ms' }] }),
    );
    expect(e.message).toMatch(/^config\.paths\[0\]\.loss, config\.paths\[0\]\.script step 1 \("1s reorder=5%,1ms"\) reorder: /);
    expect(e.message).toMatch(/does not apply to a TCP path/);
  });

  it('refuses malformed configurations with the key at fault', () => {
    expect(errorOf(() => resolveConfig({ paths: [] })).code).toBe('ERR_LINKEM_BAD_CONFIG');
    expect(errorOf(() => resolveConfig({ paths: [], extra: 1 })).message).toMatch(/^config\.extra: expected one of the keys/);
    expect(errorOf(() => resolveConfig({ paths: [{ listen: '127.0.0.2:1' }] })).message).toMatch(/^config\.paths\[0\]\.target/);
    expect(errorOf(() => resolveConfig({ paths: [{ protocol: 'sctp', listen: 'a:1', target: 'b:2' }] })).message).toMatch(/protocol: expected "udp" or "tcp"/);
    const twice = { listen: '127.0.0.2:1', target: '127.0.0.1:2', name: 'a' };
    expect(errorOf(() => resolveConfig({ paths: [twice, twice] })).message).toMatch(/two paths are named "a"/);
    expect(errorOf(() => resolveConfig({ paths: [{ ...twice, resetOnDown: true }] })).message).toMatch(/resetOnDown only on a tcp path/);
    expect(errorOf(() => resolveConfig({ paths: [twice], seed: -1 })).message).toMatch(/^config\.seed/);
  });
});
