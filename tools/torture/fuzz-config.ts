/**
 * `fuzz-config`: the config loaders, each fed a file: mptun-server's loadServerConfig,
 * mptun-client's loadClientConfig (both refuse with ConfigError from packages/tunnel-common) and the
 * link emulator's readConfigFile + resolveConfig (LinkemError).
 *
 * Inputs are JSON: random trees (objects, arrays, strings, numbers, booleans, null; the
 * loaders' own keys beside unknown ones and names that live on Object.prototype; numbers
 * at the extremes; strings that look like numbers, durations and addresses), valid configs
 * with a value replaced, removed, added, wrapped or nested deeper, valid files with their
 * text mutated as bytes (mostly no longer JSON), deeply nested documents and huge strings.
 * All go through ONE temporary file whose directory is removed at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@mptun/tunnel-common';
import type { SeededRandom } from '@mptun/core';
import { loadClientConfig } from '../../apps/client/src/config.js';
import { loadServerConfig } from '../../apps/server/src/config.js';
import { LinkemError, readConfigFile, resolveConfig } from '@mptun/linkem';
import type { TortureCheck } from './types.js';
import { mutate, runFuzzTargets, type ByteSeed, type FuzzCheckOptions, type FuzzTarget } from './fuzz-harness.js';

/** Inputs per loader in CI mode (each writes and reads a file). */
export const CONFIG_CI_INPUTS = 20_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const KEY = 'P0oW6mVbYbV9PmpRfO7yL0h1pK8cSxCgXg3tN5hVj2U=';
const KEY2 = 'nq1Jd9bGc7X2r3t4Yv5u6W8a0zQxLkMhPoIuYtReWq0=';

/** A valid file for each loader, to mutate. */
export function validConfigs(): { server: Json[]; client: Json[]; linkem: Json[] } {
  return {
    server: [
      { listen: ['udp://127.0.0.1:4433'], privateKey: KEY, authorizedKeys: [KEY2], allow: ['127.0.0.1:8080'] },
      {
        listen: ['udp://0.0.0.0:4433', 'ws://[::1]:8080/mptun', 'udp-plain://127.0.0.1:5000'],
        insecurePlainUdp: true,
        key: 'server.key',
        authorizedKeysFile: 'clients.txt',
        allow: ['10.0.0.0/8:80,443', '[2001:db8::]/32:1-1024', 'example.com', '::1'],
        metrics: '127.0.0.1:9090',
        limits: { maxConnections: 100, maxConnectionsPerClient: 10, idleTimeout: '5m', connectTimeout: '3s', headerTimeout: '2s', maxBufferedBytes: '1MiB' },
        drain: '30s',
        scheduler: 'minrtt',
        cc: 'cubic',
        logLevel: 'debug',
        logFormat: 'json',
      },
      { listen: ['wss://0.0.0.0:443/t'], privateKey: KEY, authorizedKeys: [KEY2], tls: { cert: 'c.pem', key: 'k.pem' }, allow: [] },
    ],
    client: [
      { server: '127.0.0.1:4433', serverKey: KEY, key: 'client.key' },
      {
        server: '[::1]:4433',
        serverKey: KEY,
        key: '/etc/mptun/client.key',
        transport: 'auto',
        wsUrl: 'wss://vpn.example.net/mptun',
        tlsInsecure: false,
        paths: ['127.0.0.2', 'wlan0'],
        backup: ['127.0.0.3'],
        scheduler: 'blest',
        cc: 'lia',
        profile: 'default',
        socks: '127.0.0.1:1080',
        socksUser: 'user',
        socksPass: 'pass',
        forwards: ['8080:example.com:80', '127.0.0.1:2222:10.0.0.5:22'],
        status: '127.0.0.1:9000',
        logLevel: 'warn',
        connectTimeout: '5s',
        handshakeTimeout: '1500ms',
        logFormat: 'json',
      },
      { server: 'example.com:443', serverKey: KEY, transport: 'udp-plain', socks: 'off', paths: ['auto'] },
    ],
    linkem: [
      { paths: [{ listen: '127.0.0.2:7000', target: '127.0.0.1:4433', profile: 'wifi' }] },
      {
        seed: 42,
        control: '127.0.0.1:9470',
        paths: [
          { name: 'wifi', protocol: 'udp', listen: '127.0.0.2:0', target: '127.0.0.1:4433', rate: '50mbit', delay: '10ms', jitter: '2ms', loss: '0.1%', queue: '50ms', script: '10s down; 12s up' },
          { name: 'lte', protocol: 'tcp', listen: { host: '127.0.0.3', port: 0 }, target: { host: '127.0.0.1', port: 8080 }, up: { rate: '5mbit' }, down: { profile: 'lte', delay: '40ms' }, resetOnDown: true, upstreamHost: null },
          { listen: '127.0.0.4:7001', target: '127.0.0.1:4433', idleTimeout: '30s', maxClients: 16, reorder: null, duplicate: '1%', mtu: 1400 },
        ],
      },
      { control: 9470, paths: [{ listen: '127.0.0.2:7000', target: '127.0.0.1:4433', script: ['1s rate=5mbit', '2s down'] }] },
    ],
  };
}

/** Keys the loaders know, and keys that are traps (prototype names, empty, long, non-ASCII). */
const KEYS = [
  'listen', 'key', 'privateKey', 'authorizedKeys', 'authorizedKeysFile', 'allow', 'tls', 'cert', 'metrics', 'limits',
  'maxConnections', 'idleTimeout', 'maxBufferedBytes', 'drain', 'scheduler', 'cc', 'logLevel', 'logFormat',
  'server', 'serverKey', 'transport', 'wsUrl', 'paths', 'backup', 'socks', 'socksUser', 'socksPass', 'forwards', 'status',
  'connectTimeout', 'handshakeTimeout', 'profile', 'seed', 'control', 'name', 'protocol', 'target', 'host', 'port', 'script', 'up', 'down',
  'rate', 'delay', 'jitter', 'loss', 'queue', 'burst', 'reorder', 'mtu', 'resetOnDown', 'upstreamHost', 'maxClients',
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'toJSON', '', ' ', 'ünï', 'k'.repeat(300),
];

const NUMBERS = [0, -0, 1, -1, 0.5, -0.5, 7, 100, 1023, 1024, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, -1e308, 5e-324, 1e-7, 3600001];

const STRINGS = [
  '', ' ', 'NaN', 'Infinity', '-Infinity', '-1', '0', '1e999', '-0', '0x10', '1_000', '30s', '-5s', '0ms', '1.5kB', '64MiB',
  '99999999999999999999999ms', '1e3s', '5 m', '10%', '101%', 'unlimited', '20mbps', '20mbit', 'off', 'auto', 'wifi', 'lte',
  'minrtt', 'cubic', 'nope', 'udp://127.0.0.1:0', 'udp://127.0.0.1:99999', 'ws://[::1]:8080/x y', 'wss://a', '127.0.0.1:99999',
  '127.0.0.1:0', '[::1]:1', '[:::1', 'host:', ':80', '0.0.0.0:1', '10.0.0.0/33:80', '*:*', '1-2,3-', '8080:a:b:c:80', '\u0000',
  '\ud800', '../../../etc/passwd', KEY, KEY.slice(1), '10s down; 12s up', '0s rate=-1mbit', 'x'.repeat(256), 'é'.repeat(200),
];

function defineKey(o: { [key: string]: Json }, k: string, v: Json): void {
  // defineProperty, so that "__proto__" is an own key (as JSON.parse makes it), not the prototype.
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function randomString(rng: SeededRandom): string {
  const r = rng.next();
  if (r < 0.7) return STRINGS[rng.int(STRINGS.length)]!;
  if (r < 0.995) {
    let s = '';
    const n = rng.int(24);
    for (let i = 0; i < n; i++) s += String.fromCharCode(rng.next() < 0.9 ? 0x20 + rng.int(95) : rng.int(0x3000));
    return s;
  }
  return 'z'.repeat(1000 + rng.int(50_000)); // huge
}

function randomNumber(rng: SeededRandom): number {
  const r = rng.next();
  if (r < 0.6) return NUMBERS[rng.int(NUMBERS.length)]!;
  if (r < 0.9) return rng.int(200_000) - 100_000;
  return (rng.next() - 0.5) * 10 ** rng.int(40);
}

export function randomJson(rng: SeededRandom, depth: number): Json {
  const r = rng.next();
  if (depth <= 0 || r < 0.35) {
    const s = rng.int(5);
    return s === 0 ? null : s === 1 ? rng.next() < 0.5 : s === 2 ? randomNumber(rng) : randomString(rng);
  }
  if (r < 0.6) return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1));
  const o: { [key: string]: Json } = {};
  const n = rng.int(6);
  for (let i = 0; i < n; i++) defineKey(o, KEYS[rng.int(KEYS.length)]!, randomJson(rng, depth - 1));
  return o;
}

function clone(v: Json): Json {
  if (Array.isArray(v)) return v.map(clone);
  if (v !== null && typeof v === 'object') {
    const o: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) defineKey(o, k, clone(x));
    return o;
  }
  return v;
}

/** Every container in `v` with its keys (or indexes): the places a mutation can land. */
function containers(v: Json, out: Array<{ [key: string]: Json } | Json[]> = []): Array<{ [key: string]: Json } | Json[]> {
  if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) containers(x, out);
  } else if (v !== null && typeof v === 'object') {
    out.push(v);
    for (const x of Object.values(v)) containers(x, out);
  }
  return out;
}

/** One structural change somewhere in `doc` (changed in place; returns the new root). */
export function mutateJson(rng: SeededRandom, doc: Json): Json {
  const places = containers(doc);
  if (places.length === 0 || rng.next() < 0.03) return randomJson(rng, 3);
  const place = places[rng.int(places.length)]!;
  const keys: Array<string | number> = Array.isArray(place) ? place.map((_, i) => i) : Object.keys(place);
  const get = (k: string | number): Json => (place as Record<string | number, Json>)[k]!;
  const set = (k: string | number, v: Json): void => {
    if (Array.isArray(place)) place[k as number] = v;
    else defineKey(place, String(k), v);
  };
  const k = keys.length > 0 ? keys[rng.int(keys.length)]! : undefined;
  switch (rng.int(7)) {
    case 0: // a value replaced by anything
      if (k !== undefined) set(k, randomJson(rng, 2));
      return doc;
    case 1: // a key removed
      if (k !== undefined) {
        if (Array.isArray(place)) place.splice(k as number, 1);
        else delete place[k as string];
      }
      return doc;
    case 2: // a key added (known, unknown or a trap)
      if (Array.isArray(place)) place.push(randomJson(rng, 2));
      else defineKey(place, KEYS[rng.int(KEYS.length)]!, randomJson(rng, 2));
      return doc;
    case 3: // a value wrapped in an array or an object
      if (k !== undefined) set(k, rng.next() < 0.5 ? [get(k)] : { [String(KEYS[rng.int(KEYS.length)])]: get(k) });
      return doc;
    case 4: // a string or number nudged
      if (k !== undefined) {
        const v = get(k);
        if (typeof v === 'string') set(k, rng.next() < 0.5 ? v + randomString(rng) : v.slice(0, rng.int(v.length + 1)));
        else if (typeof v === 'number') set(k, [v + 1, v - 1, -v, v * 1e6, v / 1e6][rng.int(5)]!);
        else set(k, randomString(rng));
      }
      return doc;
    case 5: // the same value as another type
      if (k !== undefined) {
        const v = get(k);
        set(k, typeof v === 'string' ? (Number.isFinite(Number(v)) ? Number(v) : v.length) : typeof v === 'number' ? String(v) : v === null ? false : null);
      }
      return doc;
    default: // a subtree nested deeper
      if (k !== undefined) {
        let v = get(k);
        const depth = 1 + rng.int(rng.next() < 0.9 ? 8 : 200);
        for (let i = 0; i < depth; i++) v = rng.next() < 0.5 ? [v] : { a: v };
        set(k, v);
      }
      return doc;
  }
}

const encoder = new TextEncoder();

/** A generator of config file contents for one loader. */
export function configInputs(valid: Json[]): (rng: SeededRandom) => Uint8Array {
  const textSeeds: ByteSeed[] = valid.map((v) => ({ bytes: encoder.encode(JSON.stringify(v, null, rngIndent(v))) }));
  return (rng) => {
    const r = rng.next();
    if (r < 0.25) return encoder.encode(JSON.stringify(randomJson(rng, 1 + rng.int(6))));
    if (r < 0.75) {
      let doc = clone(valid[rng.int(valid.length)]!);
      const n = 1 + rng.int(3);
      for (let i = 0; i < n; i++) doc = mutateJson(rng, doc);
      return encoder.encode(JSON.stringify(doc));
    }
    if (r < 0.93) {
      // The text of a valid file mutated as bytes: mostly not JSON any more.
      const origin = textSeeds[rng.int(textSeeds.length)]!;
      let bytes: Uint8Array = origin.bytes.slice();
      const n = 1 + rng.int(3);
      for (let i = 0; i < n; i++) bytes = mutate(rng, bytes, origin, textSeeds);
      return bytes;
    }
    if (r < 0.97) {
      // Deep nesting, written as text (no recursion on our side).
      const depth = 1 + rng.int(rng.next() < 0.9 ? 2000 : 50_000);
      const open = rng.next() < 0.5 ? '[' : '{"paths":';
      const close = open === '[' ? ']' : '}';
      return encoder.encode(`${open.repeat(depth)}1${close.repeat(depth)}`);
    }
    if (r < 0.998) {
      // Extremes as literals JSON.stringify cannot write.
      const lits = ['1e400', '-1e400', '123456789012345678901234567890', '-0.0', '0.0000000000000000000000001', '1E+2'];
      const lit = lits[rng.int(lits.length)]!;
      return encoder.encode(`{"limits":{"maxConnections":${lit}},"drain":${lit},"seed":${lit},"paths":[{"maxClients":${lit},"listen":"127.0.0.2:7000","target":"127.0.0.1:1","rate":${lit}}],"connectTimeout":${lit}}`);
    }
    // Larger than any loader should read whole (the link emulator refuses over 1 MiB).
    return encoder.encode(JSON.stringify({ paths: [{ listen: '127.0.0.2:7000', target: '127.0.0.1:1', name: 'n'.repeat((1 << 20) + rng.int(1000)) }] }));
  };
}

function rngIndent(v: Json): number {
  return JSON.stringify(v).length % 3;
}

interface ConfigFile {
  path: string;
}

function loaderTarget(name: string, file: ConfigFile, valid: Json[], load: (path: string) => unknown, isTyped: (e: unknown) => boolean): FuzzTarget<Uint8Array> {
  const gen = configInputs(valid);
  return {
    name,
    generate: gen,
    run(bytes) {
      writeFileSync(file.path, bytes);
      return load(file.path);
    },
    isExpected: isTyped,
    show: (bytes) => {
      const text = Buffer.from(bytes).toString('utf8');
      const clipped = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
      return `${Buffer.from(bytes.subarray(0, 4096)).toString('hex')}${bytes.length > 4096 ? '…' : ''} (${bytes.length} bytes; as text: ${clipped})`;
    },
  };
}

export function configTargets(file: ConfigFile): FuzzTarget<Uint8Array>[] {
  const valid = validConfigs();
  const isConfigError = (e: unknown): boolean => e instanceof ConfigError;
  const isLinkemError = (e: unknown): boolean => e instanceof LinkemError;
  return [
    loaderTarget('server config', file, valid.server, (p) => loadServerConfig(p), isConfigError),
    loaderTarget('client config', file, valid.client, (p) => loadClientConfig(p), isConfigError),
    loaderTarget('linkem config', file, valid.linkem, async (p) => resolveConfig(await readConfigFile(p), p), isLinkemError),
  ];
}

export function createFuzzConfigCheck(o: FuzzCheckOptions = {}): TortureCheck {
  return {
    id: 'fuzz-config',
    title: 'Fuzzing the config loaders (mptun-server, mptun-client, link emulator)',
    async run(opts) {
      const dir = scratchDir();
      try {
        const file = { path: join(dir, 'config.json') };
        return await runFuzzTargets('fuzz-config', configTargets(file), opts, o.inputs ?? (opts.long ? undefined : CONFIG_CI_INPUTS));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export const fuzzConfigCheck = createFuzzConfigCheck();

/**
 * A fresh directory for the one config file: in memory (/dev/shm) where there is one, since
 * tens of thousands of rewrites of a file on disk cost far more than the loaders themselves.
 */
function scratchDir(): string {
  for (const base of ['/dev/shm', tmpdir()]) {
    try {
      return mkdtempSync(join(base, 'mptun-fuzz-config-'));
    } catch {
      // no such directory, or not writable here: try the next one
    }
  }
  return mkdtempSync(join(tmpdir(), 'mptun-fuzz-config-'));
}
