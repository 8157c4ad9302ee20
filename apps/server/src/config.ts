/**
 * mptun-server's configuration: the JSON file's schema, the flags that override it, and
 * the resolved ServerConfig that startServer() takes.
 */
import { isIP } from 'node:net';
import { ConfigError, loadJsonConfig, validate, type LogFormat, type LogLevel, type Schema } from '@mptun/tunnel-common';
import { AFFINITY_TOKEN_PATTERN, MAX_AFFINITY_BYTES, resolveStrategy, type TransportKind } from '@mptun/node';
import { isLoopbackName } from '@mptun/local-http';
import { parseAllowRule } from './policy.js';

export interface ListenAddress {
  transport: TransportKind;
  host: string;
  port: number;
  /** ws/wss only. */
  path?: string;
}

export interface ServerLimits {
  /** Open relayed connections, all clients together. */
  maxConnections: number;
  /** Open relayed connections of one client (its key; on plain paths, its first path's address). */
  maxConnectionsPerClient: number;
  /** No bytes either way for this long closes a relay, ms. */
  idleTimeoutMs: number;
  /** TCP connect to the target, ms. */
  connectTimeoutMs: number;
  /** Waiting for the tunnel request, ms. */
  headerTimeoutMs: number;
  /** Stream buffers each way per relay, the target socket's and the MPTCP socket's together (backpressure beyond it), bytes. */
  maxBufferedBytes: number;
  /**
   * What one tunnel holds per direction when its reader stops, bytes: maxBufferedBytes in the
   * relay's streams and the rest as the MPTCP connection's unsent bytes and starting receive
   * window (RFC 8684 §3.3.4 window; the peer waits). A tunnel that moves data may have up to
   * 4 MiB in flight, and its window grows while the target reads. See tunnel-memory.ts.
   */
  connectionBufferBytes: number;
  /**
   * Bytes all connections together may hold in their engine buffers; as it fills, every
   * connection's receive window and send room shrink (a server-wide memory budget).
   */
  bufferBudgetBytes: number;
  /**
   * What the connections of one client key may hold together of that budget, so that one
   * client cannot take all of it; its connections' windows shrink as its share fills.
   */
  clientBufferBudgetBytes: number;
}

export interface ServerConfig {
  listen: ListenAddress[];
  /**
   * udp-plain listeners carry no crypto: clients prove their key in the tunnel request, but
   * anyone on the path can read and take over their connections. Opened only when true.
   */
  insecurePlainUdp?: boolean;
  /** Path of the private key file, or privateKey as base64. */
  keyFile?: string;
  privateKey?: string;
  /**
   * State file of the newest handshake timestamp per client key, so a restarted server
   * refuses replayed initiations. Default: the key file's path + ".replay".
   */
  replayStateFile?: string;
  /** Client public keys (base64), and/or a file of them. */
  authorizedKeys?: string[];
  authorizedKeysFile?: string;
  /** Target allow rules (policy.ts); empty = deny everything. */
  allow: string[];
  tls?: { certFile: string; keyFile: string };
  /** Metrics listener on a loopback address. */
  metrics?: { host: string; port: number };
  limits: ServerLimits;
  /** How long SIGINT/SIGTERM lets connections drain, ms. */
  drainMs: number;
  /** Addresses announced to clients besides the UDP listen ones (ADD_ADDR): public ones behind NAT. */
  announce?: Array<{ host: string; port: number }>;
  /**
   * Announce the UDP listen addresses (default true). Off where clients must not reach them
   * directly: behind NAT, or behind the link emulator in a testbed, where a join to the listen
   * address would bypass the emulated links.
   */
  announceListen?: boolean;
  /** Sealed UDP: search for the largest datagram each path carries (RFC 8899). Default true (Linux). */
  pmtud?: boolean;
  /**
   * Reached through a load balancer's shared address: connections get the C bit (RFC 8684
   * §3.1), so clients open further paths only to the announced addresses, never to the
   * shared one (where a join may land on another server).
   */
  behindBalancer?: boolean;
  /**
   * This server's name behind an HTTP reverse proxy whose servers clients cannot reach: sent
   * in every WebSocket upgrade response, and sent back by clients on a connection's further
   * paths for the proxy to route on. Routing only: it authenticates nothing.
   */
  affinityToken?: string;
  /** HAProxy agent check: where it asks whether this server takes new connections ("up ready" or "drain"). */
  balancerAgent?: { host: string; port: number };
  /** Packet scheduler and congestion control of the server's sending side (downloads). */
  scheduler?: string;
  cc?: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export const defaultLimits: ServerLimits = {
  maxConnections: 1024,
  maxConnectionsPerClient: 256,
  idleTimeoutMs: 300_000,
  connectTimeoutMs: 10_000,
  headerTimeoutMs: 10_000,
  maxBufferedBytes: 256 * 1024,
  connectionBufferBytes: 1024 * 1024,
  bufferBudgetBytes: 256 * 1024 * 1024,
  clientBufferBudgetBytes: 64 * 1024 * 1024,
};

const logLevelSchema: Schema = { type: 'string', enum: ['debug', 'info', 'warn', 'error', 'silent'] };
const logFormatSchema: Schema = { type: 'string', enum: ['json', 'text'] };
/** An affinity token: what @mptun/transport-ws accepts (isAffinityToken). */
const AFFINITY_PATTERN = AFFINITY_TOKEN_PATTERN;
const AFFINITY_EXPECTED = `a server name of 1..${MAX_AFFINITY_BYTES} letters, digits and . _ ~ - (e.g. "s1")`;
const nameSchema: Schema = { type: 'string', pattern: /^\S+$/, expected: 'a non-empty name' };

const fileSchema: Schema = {
  type: 'object',
  properties: {
    listen: { type: 'array', items: { type: 'string', pattern: /^(udp|udp-plain|ws|wss):\/\//, expected: 'a listen URL like "udp://0.0.0.0:4433" or "ws://0.0.0.0:8080/mptun"' } },
    insecurePlainUdp: { type: 'boolean' },
    key: { type: 'string' },
    privateKey: { type: 'string' },
    replayState: { type: 'string' },
    authorizedKeys: { type: 'array', items: { type: 'string' } },
    authorizedKeysFile: { type: 'string' },
    allow: { type: 'array', items: { type: 'string' } },
    tls: { type: 'object', required: ['cert', 'key'], properties: { cert: { type: 'string' }, key: { type: 'string' } } },
    metrics: { type: 'string', expected: 'a loopback address like "127.0.0.1:9090"' },
    limits: {
      type: 'object',
      properties: {
        maxConnections: { type: 'integer', min: 1, max: 1_000_000 },
        maxConnectionsPerClient: { type: 'integer', min: 1, max: 1_000_000 },
        idleTimeout: { type: 'duration', min: 100 },
        connectTimeout: { type: 'duration', min: 100 },
        headerTimeout: { type: 'duration', min: 100 },
        maxBufferedBytes: { type: 'bytes', min: 1024, max: 1024 ** 3 },
        connectionBuffer: { type: 'bytes', min: 64 * 1024, max: 1024 ** 3 },
        bufferBudget: { type: 'bytes', min: 1024 * 1024, max: 1024 ** 4 },
        clientBufferBudget: { type: 'bytes', min: 1024 * 1024, max: 1024 ** 4 },
      },
    },
    drain: { type: 'duration', max: 3_600_000 },
    announceListen: { type: 'boolean' },
    pmtud: { type: 'boolean' },
    behindBalancer: { type: 'boolean' },
    affinityToken: { type: 'string', pattern: AFFINITY_PATTERN, expected: AFFINITY_EXPECTED },
    balancerAgent: { type: 'string', expected: 'an IP address and port like "10.0.0.11:8081"' },
    announce: { type: 'array', items: { type: 'string', pattern: /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/, expected: 'an "IP:port" to announce, e.g. "203.0.113.7:4433" or "[2001:db8::7]:4433"' } },
    scheduler: nameSchema,
    cc: nameSchema,
    logLevel: logLevelSchema,
    logFormat: logFormatSchema,
  },
};

/** Flag values (already strings/arrays from the command line); each wins over the file. */
export interface ServerOverrides {
  listen?: string[];
  insecurePlainUdp?: boolean;
  key?: string;
  authorizedKeys?: string;
  allow?: string[];
  tlsCert?: string;
  tlsKey?: string;
  metrics?: string;
  drain?: string;
  announce?: string[];
  announceListen?: boolean;
  pmtud?: boolean;
  behindBalancer?: boolean;
  affinityToken?: string;
  balancerAgent?: string;
  scheduler?: string;
  cc?: string;
  logLevel?: string;
  logFormat?: string;
}

interface FileShape {
  listen?: string[];
  insecurePlainUdp?: boolean;
  key?: string;
  privateKey?: string;
  replayState?: string;
  authorizedKeys?: string[];
  authorizedKeysFile?: string;
  allow?: string[];
  tls?: { cert: string; key: string };
  metrics?: string;
  limits?: { maxConnections?: number; maxConnectionsPerClient?: number; idleTimeout?: number; connectTimeout?: number; headerTimeout?: number; maxBufferedBytes?: number; connectionBuffer?: number; bufferBudget?: number; clientBufferBudget?: number };
  drain?: number;
  announce?: string[];
  announceListen?: boolean;
  pmtud?: boolean;
  behindBalancer?: boolean;
  affinityToken?: string;
  balancerAgent?: string;
  scheduler?: string;
  cc?: string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/** "udp://0.0.0.0:4433", "ws://[::]:8080/mptun" → a listen address. Throws a message. */
export function parseListenUrl(text: string): ListenAddress {
  const m = /^(udp|udp-plain|ws|wss):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})(\/[^\s]*)?$/.exec(text);
  if (!m) throw new Error(`expected a listen URL like "udp://0.0.0.0:4433" or "ws://0.0.0.0:8080/mptun", got ${JSON.stringify(text)}`);
  const transport = m[1] as TransportKind;
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} out of range in ${text}`);
  if (m[4] && (transport === 'udp' || transport === 'udp-plain')) throw new Error(`a UDP listener has no path: ${text}`);
  const host = m[2]!.replace(/^\[|\]$/g, '');
  return { transport, host, port, ...(m[4] ? { path: m[4] } : transport.startsWith('ws') ? { path: '/mptun' } : {}) };
}

/** "203.0.113.7:4433", "[2001:db8::7]:4433" → an address to announce (literal IP, port 1..65535). */
export function parseAnnounceAddress(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d{1,5})$/.exec(text);
  const host = m?.[1]?.replace(/^\[|\]$/g, '') ?? '';
  const port = Number(m?.[2]);
  if (!m || isIP(host) === 0 || port < 1 || port > 65535) throw new Error(`expected an IP address and port like "203.0.113.7:4433" or "[2001:db8::7]:4433", got ${JSON.stringify(text)}`);
  return { host, port };
}

/** "127.0.0.1:9090" → loopback host and port; anything not loopback is refused. */
export function parseMetricsAddress(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const host = m?.[1]?.replace(/^\[|\]$/g, '');
  const port = Number(m?.[2]);
  if (!m || !host || port > 65535) throw new Error(`expected host:port like "127.0.0.1:9090", got ${JSON.stringify(text)}`);
  if (!isLoopbackName(host)) throw new Error(`the metrics endpoint listens on loopback only (127.0.0.0/8, ::1, localhost), got ${host}`);
  return { host, port };
}

/**
 * Load `file` (optional) and apply `overrides`. Every error is a ConfigError naming the file
 * (or "command line"), the key path and what was expected.
 */
export function loadServerConfig(file: string | undefined, overrides: ServerOverrides = {}): ServerConfig {
  const f = (file ? loadJsonConfig(file, fileSchema) : {}) as FileShape;
  const source = file ?? 'command line';
  const at = (fromFlag: boolean): string => (fromFlag ? 'command line' : source);
  const check = <T>(where: string, key: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(where, key, 'a valid value', (e as Error).message);
    }
  };

  const listenFromFlag = overrides.listen !== undefined && overrides.listen.length > 0;
  const listenTexts = listenFromFlag ? overrides.listen! : (f.listen ?? []);
  if (listenTexts.length === 0) throw new ConfigError(source, 'listen', 'at least one listen URL', 'nothing to listen on: give "listen" or --listen');
  const listen = listenTexts.map((t, i) => check(at(listenFromFlag), listenFromFlag ? '--listen' : `listen[${i}]`, () => parseListenUrl(t)));
  const insecurePlainUdp = overrides.insecurePlainUdp === true || f.insecurePlainUdp === true;
  const plain = listen.find((l) => l.transport === 'udp-plain');
  if (plain && !insecurePlainUdp) {
    throw new ConfigError(at(listenFromFlag), listenFromFlag ? '--listen' : 'listen', 'insecurePlainUdp (or --insecure-plain-udp) with a udp-plain listener',
      `udp-plain://${plain.host}:${plain.port} has no encryption or integrity: anyone on the path can read its traffic and take over its connections. It is for interop and tests; to open it anyway pass --insecure-plain-udp (or "insecurePlainUdp": true)`);
  }

  const allowFromFlag = overrides.allow !== undefined && overrides.allow.length > 0;
  const allow = allowFromFlag ? overrides.allow! : (f.allow ?? []);
  allow.forEach((r, i) => check(at(allowFromFlag), allowFromFlag ? '--allow' : `allow[${i}]`, () => parseAllowRule(r)));

  const certFile = overrides.tlsCert ?? f.tls?.cert;
  const tlsKeyFile = overrides.tlsKey ?? f.tls?.key;
  if (listen.some((l) => l.transport === 'wss') && (!certFile || !tlsKeyFile)) {
    throw new ConfigError(source, 'tls', 'tls.cert and tls.key (or --tls-cert/--tls-key)', 'a wss:// listener needs a TLS certificate and key');
  }
  const metrics = overrides.metrics ?? f.metrics;
  const drain = overrides.drain !== undefined ? validate({ type: 'duration', max: 3_600_000 }, overrides.drain, 'command line', '--drain') : f.drain;
  const logLevel = overrides.logLevel !== undefined ? validate(logLevelSchema, overrides.logLevel, 'command line', '--log-level') : f.logLevel;
  const scheduler = overrides.scheduler ?? f.scheduler;
  const cc = overrides.cc ?? f.cc;
  // Unknown names fail here, with the list of valid ones, rather than at the first connection.
  if (scheduler !== undefined) check(at(overrides.scheduler !== undefined), 'scheduler', () => resolveStrategy({ scheduler }));
  if (cc !== undefined) check(at(overrides.cc !== undefined), 'cc', () => resolveStrategy({ congestionControl: cc }));
  const logFormat = overrides.logFormat !== undefined ? validate(logFormatSchema, overrides.logFormat, 'command line', '--log-format') : f.logFormat;
  const keyFile = overrides.key ?? f.key;
  if (!keyFile && !f.privateKey) throw new ConfigError(source, 'key', 'a private key file', 'no server key: give "key" or --key (create one with `mptun-server keygen`)');
  const authorizedKeysFile = overrides.authorizedKeys ?? f.authorizedKeysFile;
  if (!authorizedKeysFile && !f.authorizedKeys?.length) {
    throw new ConfigError(source, 'authorizedKeys', 'client public keys', 'no client is admitted: give "authorizedKeys", "authorizedKeysFile" or --authorized-keys');
  }
  const announceFromFlag = overrides.announce !== undefined && overrides.announce.length > 0;
  const announce = (announceFromFlag ? overrides.announce! : (f.announce ?? [])).map((t, i) =>
    check(at(announceFromFlag), announceFromFlag ? '--announce' : `announce[${i}]`, () => parseAnnounceAddress(t)),
  );
  const behindBalancer = overrides.behindBalancer === true || f.behindBalancer === true;
  if (behindBalancer && announce.length === 0) {
    throw new ConfigError(at(overrides.behindBalancer === true), overrides.behindBalancer === true ? '--behind-balancer' : 'behindBalancer', 'an address of its own to announce',
      'behind a balancer clients may open further paths only to an address of this server\'s own: give it with --announce IP:PORT (or "announce")');
  }
  const affinityToken = overrides.affinityToken !== undefined
    ? validate({ type: 'string', pattern: AFFINITY_PATTERN, expected: AFFINITY_EXPECTED }, overrides.affinityToken, 'command line', '--affinity-token')
    : f.affinityToken;
  if (affinityToken !== undefined && !listen.some((x) => x.transport === 'ws' || x.transport === 'wss')) {
    throw new ConfigError(at(overrides.affinityToken !== undefined), overrides.affinityToken !== undefined ? '--affinity-token' : 'affinityToken', 'a ws:// or wss:// listener',
      'the affinity token rides WebSocket upgrades only: add a ws:// or wss:// listener, or leave the token out');
  }
  const balancerAgent = overrides.balancerAgent ?? f.balancerAgent;
  const l = f.limits ?? {};
  return {
    listen,
    ...(insecurePlainUdp ? { insecurePlainUdp } : {}),
    ...(keyFile ? { keyFile } : {}),
    ...(f.privateKey ? { privateKey: f.privateKey } : {}),
    ...(f.replayState || keyFile ? { replayStateFile: f.replayState ?? `${keyFile}.replay` } : {}),
    ...(f.authorizedKeys ? { authorizedKeys: f.authorizedKeys } : {}),
    ...(authorizedKeysFile ? { authorizedKeysFile } : {}),
    allow,
    ...(certFile && tlsKeyFile ? { tls: { certFile, keyFile: tlsKeyFile } } : {}),
    ...(metrics ? { metrics: check(at(overrides.metrics !== undefined), 'metrics', () => parseMetricsAddress(metrics)) } : {}),
    limits: {
      maxConnections: l.maxConnections ?? defaultLimits.maxConnections,
      maxConnectionsPerClient: l.maxConnectionsPerClient ?? defaultLimits.maxConnectionsPerClient,
      idleTimeoutMs: l.idleTimeout ?? defaultLimits.idleTimeoutMs,
      connectTimeoutMs: l.connectTimeout ?? defaultLimits.connectTimeoutMs,
      headerTimeoutMs: l.headerTimeout ?? defaultLimits.headerTimeoutMs,
      maxBufferedBytes: l.maxBufferedBytes ?? defaultLimits.maxBufferedBytes,
      connectionBufferBytes: l.connectionBuffer ?? defaultLimits.connectionBufferBytes,
      bufferBudgetBytes: l.bufferBudget ?? defaultLimits.bufferBudgetBytes,
      clientBufferBudgetBytes: l.clientBufferBudget ?? defaultLimits.clientBufferBudgetBytes,
    },
    drainMs: (drain as number | undefined) ?? 10_000,
    ...(announce.length > 0 ? { announce } : {}),
    // commander sets the flag true unless --no-announce-listen is given: only false counts.
    ...(overrides.announceListen === false || f.announceListen === false ? { announceListen: false } : {}),
    ...(behindBalancer ? { behindBalancer } : {}),
    ...(overrides.pmtud === false || f.pmtud === false ? { pmtud: false } : {}),
    ...(affinityToken !== undefined ? { affinityToken: affinityToken as string } : {}),
    ...(balancerAgent ? { balancerAgent: check(at(overrides.balancerAgent !== undefined), 'balancerAgent', () => parseAnnounceAddress(balancerAgent)) } : {}),
    ...(scheduler ? { scheduler } : {}),
    ...(cc ? { cc } : {}),
    logLevel: (logLevel as LogLevel | undefined) ?? 'info',
    logFormat: (logFormat as LogFormat | undefined) ?? 'text',
  };
}
