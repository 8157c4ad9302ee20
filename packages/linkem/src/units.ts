/**
 * Values with units, as people type them on a command line: rates, durations, sizes and
 * probabilities. Every parser takes `where` (the flag or key being read) so that an error
 * names it and says what would have been accepted.
 */
import { badOption, LinkemError } from './errors.js';

// A decimal number: digits with an optional fraction, or a leading-dot fraction.
const NUMBER = '(\\d+(?:\\.\\d*)?|\\.\\d+)';
const WITH_UNIT = new RegExp(`^${NUMBER}\\s*([a-z%/]*)$`);

/** Config files are JSON: a value typed `string | number` may be anything until checked. */
function isScalar(input: unknown): input is string | number {
  return typeof input === 'string' || typeof input === 'number';
}

function split(text: string): { value: number; unit: string } | null {
  const m = WITH_UNIT.exec(text.trim().toLowerCase());
  if (m === null) return null;
  const value = Number(m[1]);
  if (!Number.isFinite(value)) return null;
  return { value, unit: m[2] ?? '' };
}

const RATE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
};
const UNLIMITED = new Set(['inf', 'infinity', 'unlimited', 'none', 'off']);
const RATE_WANT = 'a rate like 20mbit, 500kbit, 1gbit or 2000000 (bits/s), or "unlimited"';

/** Bits per second from "20mbit", "1.5gbit", "64000", "unlimited"; a number is bits/s. */
export function parseRate(input: string | number, where: string): number {
  if (!isScalar(input)) return badOption(where, input, RATE_WANT);
  if (typeof input === 'number') {
    if (input === Infinity || (Number.isFinite(input) && input > 0)) return input;
    return badOption(where, input, RATE_WANT);
  }
  const text = input.trim().toLowerCase();
  if (UNLIMITED.has(text)) return Infinity;
  const parts = split(text);
  if (parts !== null && /^[kmgt]?bps$|^[kmgt]?b\/s$/.test(parts.unit)) {
    // tc reads "mbps" as megabytes per second, most people as megabits: refuse to guess.
    const prefix = parts.unit.replace(/(bps|b\/s)$/, '');
    throw new LinkemError(
      'ERR_LINKEM_BAD_OPTION',
      `${where}: ${JSON.stringify(input)} is ambiguous (tc reads "${parts.unit}" as bytes/s, most people as bits/s): write ${parts.value}${prefix}bit for bits/s`,
    );
  }
  const scale = parts === null ? undefined : RATE_UNITS[parts.unit];
  if (parts === null || scale === undefined || !(parts.value > 0)) return badOption(where, input, RATE_WANT);
  return parts.value * scale;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  sec: 1000,
  min: 60_000,
};

/**
 * Milliseconds from "30ms", "1.5s", "250us", "2min". A bare number means milliseconds
 * unless `unitRequired` (script times, where "10" could mean anything).
 */
export function parseDuration(input: string | number, where: string, unitRequired = false): number {
  const want = unitRequired ? 'a time with a unit, like 10s, 500ms or 2min' : 'a duration like 30ms, 1.5s or 250us (a bare number is ms)';
  if (!isScalar(input)) return badOption(where, input, want);
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input >= 0 && !unitRequired) return input;
    return badOption(where, input, want);
  }
  const parts = split(input);
  if (parts === null) return badOption(where, input, want);
  if (parts.unit === '') {
    if (unitRequired) return badOption(where, input, want);
    return parts.value;
  }
  const scale = DURATION_UNITS[parts.unit];
  if (scale === undefined) return badOption(where, input, want);
  return parts.value * scale;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 * 1024,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** Bytes from "64kb", "1.5mib", "1500" (a bare number is bytes). */
export function parseByteSize(input: string | number, where: string): number {
  const want = 'a size like 1500, 64kb, 256kib or 1mib (bytes)';
  if (!isScalar(input)) return badOption(where, input, want);
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input >= 0) return input;
    return badOption(where, input, want);
  }
  const parts = split(input);
  const scale = parts === null ? undefined : SIZE_UNITS[parts.unit];
  if (parts === null || scale === undefined) return badOption(where, input, want);
  return parts.value * scale;
}

/** A probability from "1%", "0.5%" or "0.01"; a bare number must already be in [0, 1]. */
export function parseProbability(input: string | number, where: string): number {
  const want = 'a probability like 1%, 0.5% or 0.01 (in [0, 1])';
  if (!isScalar(input)) return badOption(where, input, want);
  let p: number;
  if (typeof input === 'number') {
    p = input;
  } else {
    const parts = split(input);
    if (parts === null || (parts.unit !== '' && parts.unit !== '%')) return badOption(where, input, want);
    p = parts.unit === '%' ? parts.value / 100 : parts.value;
  }
  if (!(p >= 0 && p <= 1)) return badOption(where, input, want);
  return p;
}

/** A whole number in [min, max] (ports, MTUs, seeds). */
export function parseInteger(input: string | number, where: string, min: number, max: number): number {
  const want = `a whole number from ${min} to ${max}`;
  if (!isScalar(input)) return badOption(where, input, want);
  const n = typeof input === 'number' ? input : /^\s*-?\d+\s*$/.test(input) ? Number(input) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) return badOption(where, input, want);
  return n;
}

/** "50 Mbit/s", "640 kbit/s", "unlimited": for logs and the status line. */
export function formatRate(bps: number): string {
  if (bps === Infinity) return 'unlimited';
  if (bps >= 1e9) return `${trim(bps / 1e9)} Gbit/s`;
  if (bps >= 1e6) return `${trim(bps / 1e6)} Mbit/s`;
  if (bps >= 1e3) return `${trim(bps / 1e3)} kbit/s`;
  return `${trim(bps)} bit/s`;
}

/** "0.1%", "25%". */
export function formatPercent(p: number): string {
  return `${trim(p * 100)}%`;
}

/** "30 ms", "1.5 s". */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${trim(ms / 1000)} s` : `${trim(ms)} ms`;
}

function trim(n: number): string {
  return String(Number(n.toPrecision(4)));
}
