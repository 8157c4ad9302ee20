/**
 * A small schema validator for the apps' JSON config files. Every failure names the file,
 * the key path (e.g. `listen[1].port`) and what was expected, so a typo is found at once.
 * Durations ("30s", "500ms", "2m") become milliseconds; sizes ("64MiB", "1.5kB") bytes.
 */
import { readFileSync } from 'node:fs';

export type Schema =
  | { type: 'string'; enum?: readonly string[]; pattern?: RegExp; expected?: string }
  | { type: 'integer' | 'number'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'duration'; min?: number; max?: number }
  | { type: 'bytes'; min?: number; max?: number }
  | { type: 'array'; items: Schema; minItems?: number; maxItems?: number }
  | { type: 'object'; properties: Record<string, Schema>; required?: readonly string[] };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_MPTUN_CONFIG';
  constructor(
    readonly file: string,
    readonly keyPath: string,
    readonly expected: string,
    detail?: string,
  ) {
    super(`${file}: ${keyPath || '(top level)'}: ${detail ?? `expected ${expected}`}`);
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, k: 1024, m: 1024 ** 2, g: 1024 ** 3,
};

/**
 * "30s" → 30000, "500ms" → 500. A bare number is refused (null): "10" has meant seconds to
 * some users and milliseconds to others, so a duration always names its unit.
 */
export function parseDuration(v: string | number): number | null {
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(v);
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

/** How a duration is written, for messages. */
export const DURATION_HINT = 'a duration with a unit, like "10s", "500ms", "2m" or "1h" (units: ms, s, m, h)';

/** "64MiB" → 67108864; a bare number is bytes. Null when the text is not a size. */
export function parseByteSize(v: string | number): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return null;
  const unit = SIZE_UNITS[(m[2] || 'b').toLowerCase()];
  return unit === undefined ? null : Math.floor(Number(m[1]) * unit);
}

function describe(s: Schema): string {
  switch (s.type) {
    case 'string':
      return s.expected ?? (s.enum ? `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` : 'a string');
    case 'integer':
    case 'number':
      return `${s.type === 'integer' ? 'an integer' : 'a number'}${range(s.min, s.max)}`;
    case 'boolean':
      return 'true or false';
    case 'duration':
      return `${DURATION_HINT}${range(s.min, s.max, ' ms')}`;
    case 'bytes':
      return `a size like "64MiB", "16kB" or bytes${range(s.min, s.max, ' bytes')}`;
    case 'array':
      return `an array of ${describe(s.items)}`;
    case 'object':
      return `an object with keys ${Object.keys(s.properties).join(', ')}`;
  }
}

function range(min: number | undefined, max: number | undefined, unit = ''): string {
  if (min !== undefined && max !== undefined) return ` from ${min}${unit} to ${max}${unit}`;
  if (min !== undefined) return ` ≥ ${min}${unit}`;
  if (max !== undefined) return ` ≤ ${max}${unit}`;
  return '';
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

/** Check `value` against `schema`; returns it with durations and sizes converted to numbers. */
export function validate(schema: Schema, value: unknown, file: string, path = ''): unknown {
  const bad = (detail?: string): never => {
    throw new ConfigError(file, path, describe(schema), detail);
  };
  const inRange = (n: number, min?: number, max?: number): number => {
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) bad(`expected ${describe(schema)}, got ${JSON.stringify(value)}`);
    return n;
  };
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return bad();
      if (schema.enum && !schema.enum.includes(value)) bad(`expected ${describe(schema)}, got ${JSON.stringify(value)}`);
      if (schema.pattern && !schema.pattern.test(value)) bad(`expected ${describe(schema)}, got ${JSON.stringify(value)}`);
      return value;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || (schema.type === 'integer' && !Number.isInteger(value))) return bad();
      return inRange(value, schema.min, schema.max);
    case 'boolean':
      return typeof value === 'boolean' ? value : bad();
    case 'duration':
    case 'bytes': {
      if (typeof value !== 'string' && typeof value !== 'number') return bad();
      const n = schema.type === 'duration' ? parseDuration(value) : parseByteSize(value);
      if (n === null) return bad(`expected ${describe(schema)}, got ${JSON.stringify(value)}`);
      return inRange(n, schema.min, schema.max);
    }
    case 'array': {
      if (!Array.isArray(value)) return bad();
      if (schema.minItems !== undefined && value.length < schema.minItems) bad(`expected at least ${schema.minItems} item(s)`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) bad(`expected at most ${schema.maxItems} item(s)`);
      return value.map((v, i) => validate(schema.items, v, file, join(path, i)));
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad();
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        // Own keys only: "toString" or "__proto__" must not pass as known keys.
        const sub = Object.hasOwn(schema.properties, k) ? schema.properties[k] : undefined;
        if (!sub) throw new ConfigError(file, join(path, k), 'a known key', `unknown key "${k}"; known keys: ${Object.keys(schema.properties).join(', ')}`);
        out[k] = validate(sub, v, file, join(path, k));
      }
      for (const k of schema.required ?? []) {
        if (!Object.hasOwn(out, k)) throw new ConfigError(file, join(path, k), describe(schema.properties[k]!), `missing required key "${k}"`);
      }
      return out;
    }
  }
}

/** Read, parse and validate a JSON config file. */
export function loadJsonConfig(file: string, schema: Schema): unknown {
  return validate(schema, readJsonConfig(file), file);
}

/** A JSON file parsed but not yet checked; unreadable or malformed files give a ConfigError. */
export function readJsonConfig(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '', 'a readable file', `cannot read: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, '', 'valid JSON', `not valid JSON: ${(e as Error).message}`);
  }
  return parsed;
}
