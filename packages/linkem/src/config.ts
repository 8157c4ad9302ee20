/**
 * The emulator's configuration: what a program passes to startLinkEmulator, what a JSON
 * config file holds, and the checked form the emulator runs with. Everything is validated
 * up front, with errors that name the key (`paths[1].down.delay`) and what was expected.
 */
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { LinkOptions } from '@mptun/sim';
import { checkPathName, formatHostPort, isLoopback, parseHostPort, type HostPort } from './address.js';
import { badOption, LinkemError } from './errors.js';
import { parsePathPatch, streamOptions, type ParsedPatch, type PathPatch } from './link-spec.js';
import { parseScript, type ScriptStep } from './script.js';
import { parseDuration, parseInteger } from './units.js';

export type PathProtocol = 'udp' | 'tcp';

/** One emulated path. Link settings (rate, delay, profile, up, down, …) sit beside the path's own keys. */
export interface PathConfig extends PathPatch {
  /** Used in logs and in the control endpoint's URLs; by default made from protocol and listen address. */
  name?: string;
  /** Default "udp". */
  protocol?: PathProtocol;
  /** Where clients connect or send: "127.0.0.2:7000" (port 0: any free port). */
  listen: string | HostPort;
  /** The real server. */
  target: string | HostPort;
  /** Scripted events, see script.ts: "10s down; 12s up; 20s rate=5mbit". */
  script?: string | readonly string[];
  /** TCP: an outage resets connections instead of stalling them. */
  resetOnDown?: boolean;
  /**
   * Local address of the relay's sockets towards the target. By default, when listen and
   * target are both loopback, the listen address (so the target sees traffic of the path
   * "via 127.0.0.2" come from 127.0.0.2); otherwise the OS chooses. null: always the OS.
   */
  upstreamHost?: string | null;
  /** UDP: a client mapping idle this long is closed (default 120s). */
  idleTimeout?: string | number;
  /** UDP: most client mappings at once (default 4096). */
  maxClients?: number;
}

export interface LinkEmulatorConfig {
  paths: readonly PathConfig[];
  /** Seed of every random choice (loss, jitter, …); by default a random one, shown in stats. */
  seed?: number;
  /** The HTTP control endpoint: "127.0.0.1:9470", a port (on 127.0.0.1), or false (none, the default here). */
  control?: string | number | { host?: string; port: number } | false | null;
}

/** A path as the emulator runs it. */
export interface ResolvedPath {
  readonly name: string;
  readonly protocol: PathProtocol;
  readonly listen: HostPort;
  readonly target: HostPort;
  readonly up: LinkOptions;
  readonly down: LinkOptions;
  readonly script: readonly ScriptStep[];
  readonly resetOnDown: boolean;
  readonly upstreamHost: string | null;
  readonly idleTimeoutMs: number;
  readonly maxClients: number;
}

export interface ResolvedConfig {
  readonly paths: readonly ResolvedPath[];
  readonly seed: number | null;
  readonly control: HostPort | null;
}

const PATH_KEYS = new Set(['name', 'protocol', 'listen', 'target', 'script', 'resetOnDown', 'upstreamHost', 'idleTimeout', 'maxClients']);
const CONFIG_KEYS = new Set(['paths', 'seed', 'control']);
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
const DEFAULT_MAX_CLIENTS = 4096;
/** A config file larger than this is refused before it is read. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** The default host of the control endpoint: it has no authentication, so loopback only. */
export const DEFAULT_CONTROL_HOST = '127.0.0.1';

/** Check a configuration (from code or a parsed JSON file) and fill in the defaults. */
export function resolveConfig(input: unknown, where = 'config'): ResolvedConfig {
  const obj = asObject(input, where);
  for (const key of Object.keys(obj)) {
    if (!CONFIG_KEYS.has(key)) badOption(`${where}.${key}`, obj[key], `one of the keys ${[...CONFIG_KEYS].join(', ')}`);
  }
  if (!Array.isArray(obj.paths) || obj.paths.length === 0) {
    throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `${where}.paths: give at least one path (--udp, --tcp or "paths" in a config file)`);
  }
  const names = new Set<string>();
  const paths = (obj.paths as unknown[]).map((p, i) => resolvePath(p, `${where}.paths[${i}]`, names));
  const seed = obj.seed === undefined || obj.seed === null ? null : parseInteger(obj.seed as number, `${where}.seed`, 0, 0xffffffff);
  return { paths, seed, control: resolveControl(obj.control, `${where}.control`) };
}

/** The control endpoint's address from "host:port", a port, or { host, port }; null for none. */
export function resolveControl(input: unknown, where: string): HostPort | null {
  if (input === undefined || input === null || input === false) return null;
  if (typeof input === 'number' || (typeof input === 'string' && /^\s*\d+\s*$/.test(input))) {
    return { host: DEFAULT_CONTROL_HOST, port: parseInteger(input, where, 0, 65535) };
  }
  if (typeof input === 'string') return parseHostPort(input, where, true);
  const o = asObject(input, where);
  const host = o.host === undefined ? DEFAULT_CONTROL_HOST : o.host;
  if (typeof host !== 'string' || isIP(host) === 0) return badOption(`${where}.host`, host, 'an IP address');
  return { host, port: parseInteger(o.port as number, `${where}.port`, 0, 65535) };
}

function resolvePath(input: unknown, where: string, names: Set<string>): ResolvedPath {
  const obj = asObject(input, where);
  const protocol = obj.protocol ?? 'udp';
  if (protocol !== 'udp' && protocol !== 'tcp') return badOption(`${where}.protocol`, protocol, '"udp" or "tcp"');
  const listen = endpoint(obj.listen, `${where}.listen`, true);
  const target = endpoint(obj.target, `${where}.target`, false);

  if (obj.name !== undefined && typeof obj.name !== 'string') return badOption(`${where}.name`, obj.name, 'a string');
  const name = obj.name !== undefined ? claimPathName(obj.name, names, `${where}.name`) : defaultPathName(protocol, listen, names);

  const patch = parsePathPatch(obj, where, PATH_KEYS);
  const script = obj.script === undefined ? [] : parseScript(scriptText(obj.script, `${where}.script`), `${where}.script`);
  const resetOnDown = obj.resetOnDown ?? false;
  if (typeof resetOnDown !== 'boolean') return badOption(`${where}.resetOnDown`, resetOnDown, 'true or false');
  return buildPath(
    {
      name,
      protocol,
      listen,
      target,
      patch,
      script,
      resetOnDown,
      upstreamHost: upstreamHostOf(obj.upstreamHost, listen, target, `${where}.upstreamHost`),
      idleTimeoutMs: obj.idleTimeout === undefined ? DEFAULT_IDLE_TIMEOUT_MS : positiveDuration(obj.idleTimeout, `${where}.idleTimeout`),
      maxClients: obj.maxClients === undefined ? DEFAULT_MAX_CLIENTS : parseInteger(obj.maxClients as number, `${where}.maxClients`, 1, 1_000_000),
    },
    where,
  );
}

/** The pieces of a path, each already parsed (by resolveConfig or by the command line). */
export interface PathParts {
  name: string;
  protocol: PathProtocol;
  listen: HostPort;
  target: HostPort;
  patch: ParsedPatch;
  script: readonly ScriptStep[];
  resetOnDown: boolean;
  /** undefined: the default rule (see PathConfig.upstreamHost). */
  upstreamHost?: string | null;
  idleTimeoutMs?: number;
  maxClients?: number;
}

/** Put a path together: checks what does not fit its protocol and fills in defaults. */
export function buildPath(parts: PathParts, where: string): ResolvedPath {
  let up = parts.patch.up;
  let down = parts.patch.down;
  if (parts.protocol === 'tcp') {
    const offending = [...parts.patch.datagramOnly, ...parts.script.flatMap((s) => s.patch?.datagramOnly ?? [])];
    if (offending.length > 0) throw notForStreams(offending);
    up = streamOptions(up);
    down = streamOptions(down);
  } else if (parts.resetOnDown) {
    badOption(`${where} resetOnDown`, true, 'resetOnDown only on a tcp path (a datagram path drops, it has nothing to reset)');
  }
  return {
    name: parts.name,
    protocol: parts.protocol,
    listen: parts.listen,
    target: parts.target,
    up,
    down,
    script: parts.script,
    resetOnDown: parts.resetOnDown,
    upstreamHost: parts.upstreamHost === undefined ? upstreamHostOf(undefined, parts.listen, parts.target, where) : parts.upstreamHost,
    idleTimeoutMs: parts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxClients: parts.maxClients ?? DEFAULT_MAX_CLIENTS,
  };
}

/** A default name from protocol and listen address, unique among `taken` (which it joins). */
export function defaultPathName(protocol: PathProtocol, listen: HostPort, taken: Set<string>): string {
  const base = `${protocol}-${listen.host}-${listen.port}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

/** Claim `name` among `taken`, or fail when another path has it. */
export function claimPathName(name: string, taken: Set<string>, where: string): string {
  checkPathName(name, where);
  if (taken.has(name)) throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `${where}: two paths are named "${name}"`);
  taken.add(name);
  return name;
}

/** The error for loss, reordering and the like on a TCP path; `where` lists each offending key. */
export function notForStreams(where: readonly string[]): LinkemError {
  return new LinkemError(
    'ERR_LINKEM_BAD_OPTION',
    `${where.join(', ')}: does not apply to a TCP path (a byte stream is never lost or reordered; rate, delay, jitter, queue and outages apply)`,
  );
}

function upstreamHostOf(input: unknown, listen: HostPort, target: HostPort, where: string): string | null {
  if (input === null) return null;
  if (input !== undefined) {
    if (typeof input !== 'string' || isIP(input) === 0) return badOption(where, input, 'an IP address (or null: the OS chooses)');
    if (isIP(target.host) !== 0 && isIP(input) !== isIP(target.host)) return badOption(where, input, `an IPv${isIP(target.host)} address, like the target`);
    return input;
  }
  const sameFamily = isIP(listen.host) !== 0 && isIP(listen.host) === isIP(target.host);
  return sameFamily && isLoopback(listen.host) && isLoopback(target.host) ? listen.host : null;
}

function endpoint(input: unknown, where: string, allowPortZero: boolean): HostPort {
  if (typeof input === 'string') return parseHostPort(input, where, allowPortZero);
  const o = asObject(input, where);
  if (typeof o.host !== 'string') return badOption(`${where}.host`, o.host, 'a host name or IP address');
  const port = parseInteger(o.port as number, `${where}.port`, allowPortZero ? 0 : 1, 65535);
  return parseHostPort(formatHostPort({ host: o.host, port }), where, allowPortZero);
}

function scriptText(input: unknown, where: string): string | readonly string[] {
  if (typeof input === 'string') return input;
  if (Array.isArray(input) && input.every((s) => typeof s === 'string')) return input as string[];
  return badOption(where, input, 'a script string like "10s down; 12s up", or an array of steps');
}

function positiveDuration(input: unknown, where: string): number {
  const ms = parseDuration(input as string | number, where);
  if (!(ms > 0)) return badOption(where, input, 'a duration > 0');
  return ms;
}

function asObject(input: unknown, where: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return badOption(where, input, 'an object');
  return input as Record<string, unknown>;
}

/** Read and parse a JSON config file (at most MAX_CONFIG_FILE_BYTES); errors name the file. */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    const info = await stat(path);
    if (info.size > MAX_CONFIG_FILE_BYTES) {
      throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `--config ${path}: ${info.size} bytes is too large for a config file (at most ${MAX_CONFIG_FILE_BYTES})`);
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof LinkemError) throw err;
    throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `--config ${path}: cannot read it: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `--config ${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
