/**
 * Link settings as people write them — flags, JSON config, HTTP patches, script steps —
 * turned into the simulator's `LinkOptions` for each direction of a path.
 *
 * "up" is the direction from the client (the side that talks to the listening address) to
 * the target; "down" is the way back. Keys are short ("rate": "20mbit") or the simulator's
 * own field names ("rateBps": 20e6); values may carry units.
 */
import {
  DEFAULT_LINK_OPTIONS,
  linkProfiles,
  resolveLinkOptions,
  SimError,
  type GilbertElliottOptions,
  type LinkOptions,
  type LinkProfileName,
  type PacketTransform,
  type QueueLimit,
  type ReorderOptions,
  type ResolvedLinkOptions,
} from '@mptun/sim';
import { badOption, LinkemError } from './errors.js';
import { formatMs, formatPercent, formatRate, parseByteSize, parseDuration, parseInteger, parseProbability, parseRate } from './units.js';

export type Direction = 'up' | 'down';

/** One direction's settings in a config file or a patch. */
export interface LinkSpec {
  rate?: string | number;
  rateBps?: string | number;
  delay?: string | number;
  delayMs?: string | number;
  jitter?: string | number;
  jitterMs?: string | number;
  loss?: string | number;
  queue?: string | QueueLimit;
  burst?: string | BurstSpec | null;
  gilbertElliott?: string | BurstSpec | null;
  reorder?: string | ReorderOptions | null;
  duplicate?: string | number;
  mtu?: string | number;
  /** Middleboxes (programmatic use only; datagram paths only). */
  transforms?: readonly PacketTransform[];
  /** A preset from @mptun/sim's linkProfiles, applied before the other keys. */
  profile?: LinkProfileName;
}

/** Gilbert-Elliott burst loss, in the simulator's names or short ones. */
export type BurstSpec =
  | GilbertElliottOptions
  | { enter: string | number; exit: string | number; good?: string | number; bad?: string | number };

/** A change for a whole path: keys at the top apply to both directions, `up`/`down` to one. */
export interface PathPatch extends LinkSpec {
  up?: LinkSpec;
  down?: LinkSpec;
}

/** A patch parsed and checked: the options to apply to each direction. */
export interface ParsedPatch {
  readonly up: LinkOptions;
  readonly down: LinkOptions;
  /** Keys given explicitly that make no sense on a byte stream (where they were given). */
  readonly datagramOnly: readonly string[];
}

interface Setting {
  readonly field: keyof LinkOptions;
  /** Whether it applies to a TCP byte stream as well as to datagrams. */
  readonly stream: boolean;
  parse(value: unknown, where: string): LinkOptions[keyof LinkOptions];
}

const SETTINGS: Readonly<Record<string, Setting>> = (() => {
  const rate: Setting = { field: 'rateBps', stream: true, parse: (v, w) => parseRate(scalar(v, w), w) };
  const delay: Setting = { field: 'delayMs', stream: true, parse: (v, w) => parseDuration(scalar(v, w), w) };
  const jitter: Setting = { field: 'jitterMs', stream: true, parse: (v, w) => parseDuration(scalar(v, w), w) };
  const burst: Setting = { field: 'gilbertElliott', stream: false, parse: parseBurst };
  return {
    rate,
    rateBps: rate,
    delay,
    delayMs: delay,
    jitter,
    jitterMs: jitter,
    loss: { field: 'loss', stream: false, parse: (v, w) => parseProbability(scalar(v, w), w) },
    queue: { field: 'queue', stream: true, parse: parseQueue },
    burst,
    gilbertElliott: burst,
    reorder: { field: 'reorder', stream: false, parse: parseReorder },
    duplicate: { field: 'duplicate', stream: false, parse: (v, w) => parseProbability(scalar(v, w), w) },
    mtu: { field: 'mtu', stream: false, parse: parseMtu },
    transforms: { field: 'transforms', stream: false, parse: parseTransforms },
  };
})();

/** The setting names a flag or script step may use (without the `up-`/`down-` prefix). */
export const FLAG_SETTINGS = ['rate', 'delay', 'jitter', 'loss', 'queue', 'burst', 'reorder', 'duplicate', 'mtu'] as const;
export type FlagSetting = (typeof FLAG_SETTINGS)[number];

/** Whether `key` (a short or simulator name) applies to a byte stream. */
export function appliesToStream(key: string): boolean {
  return SETTINGS[key]?.stream ?? true;
}

const PROFILE_NAMES = Object.keys(linkProfiles) as LinkProfileName[];

/** Builds the two directions' options from settings given in any order. */
export class PatchBuilder {
  private readonly dirs: Record<Direction, LinkOptions> = { up: {}, down: {} };
  private readonly datagramOnly: string[] = [];

  /** Apply a preset to one direction or both. */
  profile(dir: Direction | 'both', name: unknown, where: string): this {
    if (typeof name !== 'string' || !(PROFILE_NAMES as string[]).includes(name)) {
      return badOption(where, name, `one of the profiles ${PROFILE_NAMES.join(', ')}`);
    }
    // Profiles carry loss too: on a byte stream the relay leaves it out quietly.
    const preset = linkProfiles[name as LinkProfileName];
    for (const d of directions(dir)) {
      Object.assign(this.dirs[d], preset, preset.queue !== undefined ? { queue: { ...preset.queue } } : {});
    }
    return this;
  }

  /** Set one setting (`key` short or simulator name) on one direction or both. */
  set(dir: Direction | 'both', key: string, value: unknown, where: string): this {
    const setting = Object.hasOwn(SETTINGS, key) ? SETTINGS[key] : undefined;
    if (setting === undefined) {
      throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${where}: unknown setting "${key}"; known: ${FLAG_SETTINGS.join(', ')}, profile`);
    }
    const parsed = setting.parse(value, where);
    for (const d of directions(dir)) (this.dirs[d] as Record<string, unknown>)[setting.field] = parsed;
    if (!setting.stream) this.datagramOnly.push(where);
    return this;
  }

  /** Read a JSON-like object: `profile` first, then settings for both, then `up`/`down` objects. */
  object(input: unknown, where: string, skipKeys: ReadonlySet<string> = new Set()): this {
    const obj = record(input, where);
    if (obj.profile !== undefined) this.profile('both', obj.profile, `${where}.profile`);
    for (const [key, value] of Object.entries(obj)) {
      if (key === 'profile' || key === 'up' || key === 'down' || skipKeys.has(key) || value === undefined) continue;
      this.set('both', key, value, `${where}.${key}`);
    }
    for (const dir of ['up', 'down'] as const) {
      if (obj[dir] === undefined) continue;
      const sub = record(obj[dir], `${where}.${dir}`);
      if (sub.profile !== undefined) this.profile(dir, sub.profile, `${where}.${dir}.profile`);
      for (const [key, value] of Object.entries(sub)) {
        if (key === 'profile' || value === undefined) continue;
        if (key === 'up' || key === 'down') badOption(`${where}.${dir}.${key}`, value, 'settings for one direction only');
        this.set(dir, key, value, `${where}.${dir}.${key}`);
      }
    }
    return this;
  }

  /** Whether nothing was set. */
  get empty(): boolean {
    return Object.keys(this.dirs.up).length === 0 && Object.keys(this.dirs.down).length === 0;
  }

  /** The result, each direction checked against the simulator's ranges. */
  build(where: string): ParsedPatch {
    for (const d of ['up', 'down'] as const) checkOptions(this.dirs[d], `${where} (${d})`);
    return { up: { ...this.dirs.up }, down: { ...this.dirs.down }, datagramOnly: [...this.datagramOnly] };
  }
}

/** Parse a whole-path patch (`PathPatch`, from JSON or code). */
export function parsePathPatch(input: unknown, where: string, skipKeys?: ReadonlySet<string>): ParsedPatch {
  return new PatchBuilder().object(input, where, skipKeys).build(where);
}

/** Throws LinkemError if `options` would not resolve (a range the simulator refuses). */
export function checkOptions(options: LinkOptions, where: string): void {
  try {
    resolveLinkOptions(DEFAULT_LINK_OPTIONS, options);
  } catch (err) {
    if (err instanceof SimError) throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The options with what a byte stream cannot do removed (loss, bursts, reordering, …). */
export function streamOptions(options: LinkOptions): LinkOptions {
  const out: LinkOptions = { ...options };
  for (const setting of Object.values(SETTINGS)) if (!setting.stream) delete out[setting.field];
  return out;
}

/** One line for logs: "50 Mbit/s, 10 ms ±2 ms, loss 0.1%, queue 50 ms". */
export function summarizeOptions(o: ResolvedLinkOptions): string {
  const parts = [formatRate(o.rateBps)];
  parts.push(o.jitterMs > 0 ? `${formatMs(o.delayMs)} +0..${formatMs(o.jitterMs)}` : formatMs(o.delayMs));
  if (o.rateBps !== Infinity) parts.push('bytes' in o.queue ? `queue ${o.queue.bytes} B` : `queue ${formatMs(o.queue.ms)}`);
  if (o.loss > 0) parts.push(`loss ${formatPercent(o.loss)}`);
  const ge = o.gilbertElliott;
  if (ge !== null) parts.push(`burst enter ${formatPercent(ge.pGoodToBad)} exit ${formatPercent(ge.pBadToGood)}`);
  if (o.reorder !== null) parts.push(`reorder ${formatPercent(o.reorder.probability)} +${formatMs(o.reorder.extraDelayMs)}`);
  if (o.duplicate > 0) parts.push(`duplicate ${formatPercent(o.duplicate)}`);
  if (o.mtu !== Infinity) parts.push(`mtu ${o.mtu}`);
  return parts.join(', ');
}

/** The options as plain JSON (Infinity as the string "inf", no functions). */
export function optionsToJson(o: ResolvedLinkOptions): Record<string, unknown> {
  const inf = (n: number): number | string => (n === Infinity ? 'inf' : n);
  return {
    rateBps: inf(o.rateBps),
    queue: { ...o.queue },
    delayMs: o.delayMs,
    jitterMs: o.jitterMs,
    loss: o.loss,
    gilbertElliott: o.gilbertElliott === null ? null : { ...o.gilbertElliott },
    reorder: o.reorder === null ? null : { ...o.reorder },
    duplicate: o.duplicate,
    mtu: inf(o.mtu),
    transforms: o.transforms.length,
  };
}

function directions(dir: Direction | 'both'): Direction[] {
  return dir === 'both' ? ['up', 'down'] : [dir];
}

function record(input: unknown, where: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return badOption(where, input, 'an object');
  return input as Record<string, unknown>;
}

function scalar(v: unknown, where: string): string | number {
  if (typeof v === 'string' || typeof v === 'number') return v;
  return badOption(where, v, 'a string or a number');
}

function parseQueue(v: unknown, where: string): QueueLimit {
  const want = 'a queue bound in time (50ms) or bytes (64kb, 1500b), or { "ms": n } / { "bytes": n }';
  if (typeof v === 'string') {
    const text = v.trim().toLowerCase();
    if (/(us|ms|s|sec|min)$/.test(text) && !/b$/.test(text)) return { ms: parseDuration(text, where, true) };
    if (/[a-z]$/.test(text)) return { bytes: parseByteSize(text, where) };
    return badOption(where, v, want);
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'ms') return { ms: parseDuration(scalar(o.ms, `${where}.ms`), `${where}.ms`) };
    if (keys.length === 1 && keys[0] === 'bytes') return { bytes: parseByteSize(scalar(o.bytes, `${where}.bytes`), `${where}.bytes`) };
  }
  return badOption(where, v, want);
}

const OFF = new Set(['off', 'none', 'no']);

/** "enter=1%,exit=30%[,bad=100%][,good=0]" (the chance per packet to enter/leave the bad state). */
function parseBurst(v: unknown, where: string): GilbertElliottOptions | null {
  const want = 'burst loss as enter=1%,exit=30%[,bad=100%][,good=0] (or "off")';
  if (v === null) return null;
  let fields: Record<string, unknown>;
  if (typeof v === 'string') {
    if (OFF.has(v.trim().toLowerCase())) return null;
    fields = {};
    for (const part of v.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) return badOption(where, v, want);
      fields[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
    }
  } else if (typeof v === 'object' && !Array.isArray(v)) {
    fields = v as Record<string, unknown>;
  } else {
    return badOption(where, v, want);
  }
  const alias: Record<string, keyof GilbertElliottOptions> = {
    enter: 'pGoodToBad',
    pgoodtobad: 'pGoodToBad',
    exit: 'pBadToGood',
    pbadtogood: 'pBadToGood',
    good: 'lossInGood',
    lossingood: 'lossInGood',
    bad: 'lossInBad',
    lossinbad: 'lossInBad',
  };
  const out: Partial<Record<keyof GilbertElliottOptions, number>> = {};
  for (const [key, value] of Object.entries(fields)) {
    const field = alias[key.toLowerCase()];
    if (field === undefined) return badOption(`${where}.${key}`, value, `one of enter, exit, good, bad (${want})`);
    out[field] = parseProbability(scalar(value, `${where}.${key}`), `${where}.${key}`);
  }
  if (out.pGoodToBad === undefined || out.pBadToGood === undefined) return badOption(where, v, want);
  return { pGoodToBad: out.pGoodToBad, pBadToGood: out.pBadToGood, lossInGood: out.lossInGood ?? 0, lossInBad: out.lossInBad ?? 1 };
}

/** "5%,10ms": with that probability a packet is held 10 ms longer and later ones pass it. */
function parseReorder(v: unknown, where: string): ReorderOptions | null {
  const want = 'reordering as PROBABILITY,EXTRA_DELAY like 5%,10ms (or "off")';
  if (v === null) return null;
  if (typeof v === 'string') {
    if (OFF.has(v.trim().toLowerCase())) return null;
    const parts = v.split(',');
    if (parts.length !== 2) return badOption(where, v, want);
    return { probability: parseProbability(parts[0]!, where), extraDelayMs: parseDuration(parts[1]!, where) };
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    return {
      probability: parseProbability(scalar(o.probability, `${where}.probability`), `${where}.probability`),
      extraDelayMs: parseDuration(scalar(o.extraDelayMs, `${where}.extraDelayMs`), `${where}.extraDelayMs`),
    };
  }
  return badOption(where, v, want);
}

function parseMtu(v: unknown, where: string): number {
  if (v === Infinity || (typeof v === 'string' && /^(inf|infinity|unlimited|off|none)$/i.test(v.trim()))) return Infinity;
  return parseInteger(scalar(v, where), where, 68, 65535);
}

function parseTransforms(v: unknown, where: string): readonly PacketTransform[] {
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'function')) return badOption(where, v, 'an array of functions');
  return v as PacketTransform[];
}
