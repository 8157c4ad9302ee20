/**
 * mptun-client's configuration: the JSON file's shape, its validation (an unknown key or a
 * bad value names the file, the key path and what was expected), and flags on top.
 */
import { dirname, resolve } from 'node:path';
import type { CryptoBackend, Keypair } from '@mptun/session';
import { ConfigError, LOG_LEVELS, readJsonConfig, validate, type LogFormat, type LogLevel, type Schema } from '@mptun/tunnel-common';

export const clientTransports = ['udp', 'udp-plain', 'ws', 'wss', 'auto'] as const;
export type ClientTransport = (typeof clientTransports)[number];

/** The file's keys (all optional in the file; `server` and `serverKey` are needed to run). */
export interface ClientConfig {
  /** The server's UDP (or WebSocket) address, "host:port". */
  server?: string;
  /** The server's public key, base64. */
  serverKey?: string;
  /** File holding this client's private key (base64); relative to the config file. */
  key?: string;
  transport?: ClientTransport;
  /** WebSocket URL for ws/wss/auto, e.g. "wss://vpn.example.net/mptun". */
  wsUrl?: string;
  /** Accept a wss certificate no CA vouches for. */
  tlsInsecure?: boolean;
  /** Sealed UDP: search for the largest datagram each path carries (RFC 8899). Default true (Linux). */
  pmtud?: boolean;
  /** Addresses or interface names, or ["auto"]. */
  paths?: string[];
  /** Bind the sockets of paths given as interfaces to that interface (Linux). Default true. */
  bindDevice?: boolean;
  backup?: string[];
  /** Which subflows each connection gets: "fullmesh" (default) or "ndiffports[:N]". */
  pathManager?: string;
  scheduler?: string;
  cc?: string;
  profile?: string;
  /** "host:port" of the SOCKS5 proxy; "off" (or null) for none. */
  socks?: string | null;
  socksUser?: string;
  socksPass?: string;
  /** Answer SOCKS CONNECTs at once and send the first bytes with the request (socks-server.ts). */
  socksEarlyReply?: boolean;
  /** Port forwards, "[bind:]port:host:port". */
  forwards?: string[];
  /** "host:port" of the status page and API. */
  status?: string;
  /** "host:port" (loopback) of the Prometheus endpoint. */
  metrics?: string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
  /** In files and flags: durations with a unit ("10s"); validation turns them into the *Ms fields. */
  connectTimeout?: string;
  handshakeTimeout?: string;
  earlyDataWait?: string;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** How long a port forward waits for the application's first bytes (early-data.ts). */
  earlyDataWaitMs?: number;
  /** Write every segment of every path to this pcap file (tshark/Wireshark read it). */
  pcap?: string;
  /** Programmatic only (not from a file): the client's keys, and the crypto backend. */
  keypair?: Keypair;
  crypto?: CryptoBackend;
  /**
   * Programmatic only: a server address ("host:port") per local path address, for a path
   * that reaches the server some other way than `server` (e.g. through its own relay).
   * Each key must be one of `paths` or `backup`; paths without an entry use `server`.
   */
  pathServers?: Record<string, string>;
}

const hostPort = { type: 'string', pattern: /^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/, expected: 'a "host:port" string' } as const;
const name = { type: 'string', pattern: /^\S+$/, expected: 'a non-empty name' } as const;
const names = { type: 'array', items: name } as const;
const credential = { type: 'string', pattern: /^.{1,255}$/su, expected: 'a string of 1 to 255 characters' } as const;

/** The JSON file's schema (README "mptun-client" lists the keys). */
export const clientConfigSchema: Schema = {
  type: 'object',
  properties: {
    server: hostPort,
    serverKey: name,
    key: name,
    transport: { type: 'string', enum: clientTransports },
    wsUrl: { type: 'string', pattern: /^wss?:\/\/[^\s/]+(\/\S*)?$/, expected: 'a ws:// or wss:// URL' },
    tlsInsecure: { type: 'boolean' },
    pmtud: { type: 'boolean' },
    paths: names,
    bindDevice: { type: 'boolean' },
    backup: names,
    pathManager: { type: 'string', pattern: /^(fullmesh|ndiffports(:\d{1,2})?)$/, expected: '"fullmesh" or "ndiffports[:N]"' },
    scheduler: name,
    cc: name,
    profile: name,
    socks: { type: 'string', pattern: /^((\[[^\]]+\]|[^:\s]+):\d{1,5}|off)$/, expected: 'a "host:port" string or "off"' },
    socksUser: credential,
    socksPass: credential,
    socksEarlyReply: { type: 'boolean' },
    forwards: names,
    status: hostPort,
    metrics: hostPort,
    logLevel: { type: 'string', enum: LOG_LEVELS },
    logFormat: { type: 'string', enum: ['text', 'json'] },
    connectTimeout: { type: 'duration', min: 1 },
    handshakeTimeout: { type: 'duration', min: 1 },
    earlyDataWait: { type: 'duration', min: 0 },
    pcap: name,
  },
};

/** Check a parsed config object; `source` names where it came from in error messages. */
export function validateClientConfig(raw: unknown, source: string): ClientConfig {
  const c = checkedFields(raw, source);
  checkSocksCredentials(c, source);
  return c;
}

/** Each key against the schema, durations turned into milliseconds; no checks across keys. */
function checkedFields(raw: unknown, source: string): ClientConfig {
  // Programmatic callers may say `socks: null`; files say "off". Both mean no proxy.
  const socksOff = typeof raw === 'object' && raw !== null && (raw as { socks?: unknown }).socks === null;
  const checked = validate(clientConfigSchema, socksOff ? { ...(raw as object), socks: 'off' } : raw, source) as ClientConfig;
  const c: ClientConfig = Object.fromEntries(Object.entries(checked).filter(([, v]) => v !== undefined));
  if (c.socks === 'off') c.socks = null;
  // validate() turned the durations into milliseconds.
  for (const [from, to] of [['connectTimeout', 'connectTimeoutMs'], ['handshakeTimeout', 'handshakeTimeoutMs'], ['earlyDataWait', 'earlyDataWaitMs']] as const) {
    if (c[from] !== undefined) c[to] = c[from] as unknown as number;
    delete c[from];
  }
  return c;
}

function checkSocksCredentials(c: ClientConfig, source: string): void {
  if ((c.socksUser === undefined) !== (c.socksPass === undefined)) {
    const missing = c.socksUser === undefined ? 'socksUser' : 'socksPass';
    throw new ConfigError(source, missing, 'socksUser and socksPass together', `"${missing}" is missing: socksUser and socksPass go together`);
  }
}

/**
 * Read and validate a JSON config file, then lay `overrides` (flags) over it. A relative
 * `key` path in the file is taken relative to the file.
 */
export function loadClientConfig(file: string | undefined, overrides: ClientConfig = {}): ClientConfig {
  let fromFile: ClientConfig = {};
  if (file !== undefined) {
    fromFile = checkedFields(readJsonConfig(file), file);
    if (fromFile.key) fromFile.key = resolve(dirname(file), fromFile.key);
  }
  const { keypair, crypto, pathServers, ...flagValues } = overrides;
  const defined = Object.fromEntries(Object.entries(flagValues).filter(([, v]) => v !== undefined));
  // Each source is checked on its own (errors name it); a pair split across both is checked merged.
  const fromFlags = checkedFields(defined, 'command line');
  const merged: ClientConfig = { ...fromFile, ...fromFlags };
  const source = file === undefined ? 'command line' : `${file} (with flags)`;
  checkSocksCredentials(merged, source);
  applyWsDefault(merged, source);
  return { ...merged, ...(keypair ? { keypair } : {}), ...(crypto ? { crypto } : {}), ...(pathServers ? { pathServers } : {}) };
}


/** The server's WebSocket port in the README's set-up (`--listen ws://0.0.0.0:8080/mptun`). */
export const README_WS_PORT = 8080;

/**
 * WebSocket paths need the server's ws:// URL, which is not its UDP address. `auto` falls back
 * to the README's default (port 8080, path /mptun, on the server's host); `ws` and `wss` ask
 * for the URL rather than guess it.
 */
function applyWsDefault(c: ClientConfig, source: string): void {
  if (c.wsUrl || !c.server) return;
  const host = /^\[?([^\]]+?)\]?:\d+$/.exec(c.server)?.[1] ?? c.server;
  const example = `${c.transport === 'wss' ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${c.transport === 'wss' ? 443 : README_WS_PORT}/mptun`;
  if (c.transport === 'ws' || c.transport === 'wss') {
    throw new ConfigError(source, 'wsUrl', "the server's WebSocket URL", `--transport ${c.transport} needs the server's WebSocket URL: pass --ws-url (or "wsUrl"), e.g. --ws-url ${example}`);
  }
  if (c.transport === 'auto') c.wsUrl = example;
}
