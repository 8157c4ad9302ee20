/**
 * mptun-client's configuration: the JSON file's shape, its validation (an unknown key or a
 * bad value names the file, the key path and what was expected), and flags on top.
 */
import { dirname, resolve } from 'node:path';
import type { CryptoBackend, Keypair } from '@mptun/session';
import { ConfigError, LOG_LEVELS, loadJsonConfig, validate, type LogLevel, type Schema } from '@mptun/cli';

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
  /** Addresses or interface names, or ["auto"]. */
  paths?: string[];
  backup?: string[];
  scheduler?: string;
  cc?: string;
  profile?: string;
  /** "host:port" of the SOCKS5 proxy; "off" (or null) for none. */
  socks?: string | null;
  socksUser?: string;
  socksPass?: string;
  /** Port forwards, "[bind:]port:host:port". */
  forwards?: string[];
  /** "host:port" of the status page and API. */
  status?: string;
  /** "host:port" (loopback) of the Prometheus endpoint. */
  metrics?: string;
  logLevel?: LogLevel;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
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
    paths: names,
    backup: names,
    scheduler: name,
    cc: name,
    profile: name,
    socks: { type: 'string', pattern: /^((\[[^\]]+\]|[^:\s]+):\d{1,5}|off)$/, expected: 'a "host:port" string or "off"' },
    socksUser: credential,
    socksPass: credential,
    forwards: names,
    status: hostPort,
    metrics: hostPort,
    logLevel: { type: 'string', enum: LOG_LEVELS },
    connectTimeoutMs: { type: 'duration', min: 1 },
    handshakeTimeoutMs: { type: 'duration', min: 1 },
  },
};

/** Check a parsed config object; `source` names where it came from in error messages. */
export function validateClientConfig(raw: unknown, source: string): ClientConfig {
  // Programmatic callers may say `socks: null`; files say "off". Both mean no proxy.
  const socksOff = typeof raw === 'object' && raw !== null && (raw as { socks?: unknown }).socks === null;
  const checked = validate(clientConfigSchema, socksOff ? { ...(raw as object), socks: 'off' } : raw, source) as ClientConfig;
  const c: ClientConfig = Object.fromEntries(Object.entries(checked).filter(([, v]) => v !== undefined));
  if (c.socks === 'off') c.socks = null;
  if ((c.socksUser === undefined) !== (c.socksPass === undefined)) {
    const missing = c.socksUser === undefined ? 'socksUser' : 'socksPass';
    throw new ConfigError(source, missing, 'socksUser and socksPass together', `"${missing}" is missing: socksUser and socksPass go together`);
  }
  return c;
}

/**
 * Read and validate a JSON config file, then lay `overrides` (flags) over it. A relative
 * `key` path in the file is taken relative to the file.
 */
export function loadClientConfig(file: string | undefined, overrides: ClientConfig = {}): ClientConfig {
  let fromFile: ClientConfig = {};
  if (file !== undefined) {
    fromFile = validateClientConfig(loadJsonConfig(file, clientConfigSchema), file);
    if (fromFile.key) fromFile.key = resolve(dirname(file), fromFile.key);
  }
  const { keypair, crypto, pathServers, ...flagValues } = overrides;
  const defined = Object.fromEntries(Object.entries(flagValues).filter(([, v]) => v !== undefined));
  const merged = validateClientConfig({ ...fromFile, ...defined }, file === undefined ? 'flags' : `${file} (with flags)`);
  return { ...merged, ...(keypair ? { keypair } : {}), ...(crypto ? { crypto } : {}), ...(pathServers ? { pathServers } : {}) };
}

