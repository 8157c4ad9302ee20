/**
 * The loop every fuzz check shares: draw N inputs from a seeded generator, hand each to a
 * target, and sort the outcome into accepted (returned), rejected (threw the error the
 * target throws by design) or CRASH (threw anything else). It also watches for the two
 * other ways a decoder of untrusted bytes breaks: an input that takes absurdly long (a hang,
 * not a timing assertion: the bound is seconds) and heap that stays grown after a full GC.
 *
 * Every failure is a FuzzFailure naming the seed, the target, the input's index and the
 * input itself (hex), so `pnpm torture --seed N --only <check>` replays it exactly.
 *
 * The input generators live here too: random bytes, and mutations of valid seeds (bit
 * flips, truncation, extension, byte and chunk splices, length fields set to extremes).
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SeededRandom } from '@mptun/core';
import { concat } from '@mptun/session';
import type { TortureOptions, TortureResult } from './types.js';

/** One thing to fuzz. `T` is the input type (bytes for decoders, text for configs). */
export interface FuzzTarget<T> {
  /** Short name for lines and failures, e.g. "mptcp dss". */
  name: string;
  /** One input, drawn only from `rng` so that a seed replays it. */
  generate(rng: SeededRandom): T;
  /** Feeds the input to the code under test; may return a promise. A return is "accepted". */
  run(input: T): unknown;
  /** True for an error the code throws by design for bad input (its typed error). */
  isExpected(err: unknown): boolean;
  /** The input for a failure report; default: hex of a Uint8Array (or of a `bytes` field), else JSON. */
  show?(input: T): string;
  /** A label for what an accepted input returned (e.g. "drop mac1"), counted per label. */
  outcome?(returned: unknown): string;
}

export interface FuzzRunOptions {
  /** The run's seed (each target derives its own stream from it and its name). */
  seed: number;
  /** Inputs to run. */
  inputs: number;
  /** One input slower than this is reported as a hang. Default 2000 ms. */
  maxInputMs?: number;
  /** Heap retained after GC at the end beyond the start. Default 64 MiB. */
  maxHeapGrowthBytes?: number;
  /** Heap is sampled (without GC) every this many inputs. Default 4096. */
  sampleEvery?: number;
}

export interface FuzzCounts {
  target: string;
  inputs: number;
  accepted: number;
  rejected: number;
  crashes: number;
  /** Rejections by error code (or name). */
  rejectedBy: Record<string, number>;
  /** Accepted inputs by the target's outcome label (empty when it has none). */
  outcomes: Record<string, number>;
  slowestMs: number;
  elapsedMs: number;
  heapStartBytes: number;
  heapPeakBytes: number;
  heapEndBytes: number;
  /** Whether start and end were measured after a full GC (else they are samples). */
  gcAvailable: boolean;
}

export type FuzzFailureKind = 'crash' | 'hang' | 'leak';

/** What a fuzz run found: names the seed and the input so that it reproduces. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
  constructor(
    readonly kind: FuzzFailureKind,
    readonly target: string,
    readonly seed: number,
    /** Index of the offending input in the target's stream (-1 for a leak). */
    readonly index: number,
    /** The offending input as shown by the target (hex for bytes); '' for a leak. */
    readonly input: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const DEFAULT_MAX_INPUT_MS = 2000;
export const DEFAULT_MAX_HEAP_GROWTH = 64 * 1024 * 1024;
/** Inputs between yields to the event loop, so timers and signals still run. */
const YIELD_EVERY = 2048;
/** Failure messages show at most this much of an input. */
const SHOW_LIMIT = 8192;

/** Runs `target` on `opts.inputs` inputs; throws FuzzFailure on a crash, a hang or a leak. */
export async function fuzz<T>(target: FuzzTarget<T>, opts: FuzzRunOptions): Promise<FuzzCounts> {
  const maxInputMs = opts.maxInputMs ?? DEFAULT_MAX_INPUT_MS;
  const maxGrowth = opts.maxHeapGrowthBytes ?? DEFAULT_MAX_HEAP_GROWTH;
  const sampleEvery = Math.max(1, opts.sampleEvery ?? 4096);
  const rng = new SeededRandom(streamSeed(opts.seed, target.name));
  const gc = fullGc();
  gc?.();
  const heapStart = retainedBytes();
  let heapPeak = heapStart;
  const counts: FuzzCounts = {
    target: target.name,
    inputs: 0,
    accepted: 0,
    rejected: 0,
    crashes: 0,
    rejectedBy: {},
    outcomes: {},
    slowestMs: 0,
    elapsedMs: 0,
    heapStartBytes: heapStart,
    heapPeakBytes: heapStart,
    heapEndBytes: heapStart,
    gcAvailable: gc !== null,
  };
  const show = (input: T): string => clip(target.show ? target.show(input) : showInput(input));
  const began = performance.now();

  for (let i = 0; i < opts.inputs; i++) {
    const input = target.generate(rng);
    const t0 = performance.now();
    try {
      let out = target.run(input);
      if (isThenable(out)) out = await out;
      counts.accepted++;
      if (target.outcome) {
        const label = target.outcome(out);
        counts.outcomes[label] = (counts.outcomes[label] ?? 0) + 1;
      }
    } catch (err) {
      if (!target.isExpected(err)) {
        counts.crashes++;
        throw new FuzzFailure(
          'crash',
          target.name,
          opts.seed,
          i,
          show(input),
          `${target.name}: CRASH on input #${i} (seed ${opts.seed}): ${describeError(err)}\n  input: ${show(input)}`,
          { cause: err },
        );
      }
      counts.rejected++;
      const code = errorCode(err);
      counts.rejectedBy[code] = (counts.rejectedBy[code] ?? 0) + 1;
    }
    const took = performance.now() - t0;
    counts.inputs++;
    if (took > counts.slowestMs) counts.slowestMs = took;
    if (took > maxInputMs) {
      throw new FuzzFailure(
        'hang',
        target.name,
        opts.seed,
        i,
        show(input),
        `${target.name}: input #${i} took ${took.toFixed(0)} ms (bound ${maxInputMs} ms; seed ${opts.seed})\n  input: ${show(input)}`,
      );
    }
    if ((i + 1) % sampleEvery === 0) {
      const used = retainedBytes();
      if (used > heapPeak) heapPeak = used;
    }
    if ((i + 1) % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  counts.elapsedMs = performance.now() - began;
  gc?.();
  const heapEnd = retainedBytes();
  counts.heapEndBytes = heapEnd;
  counts.heapPeakBytes = Math.max(heapPeak, heapEnd);
  if (heapEnd - heapStart > maxGrowth) {
    throw new FuzzFailure(
      'leak',
      target.name,
      opts.seed,
      -1,
      '',
      `${target.name}: heap grew by ${mib(heapEnd - heapStart)} over ${counts.inputs} inputs` +
        `${gc ? ' (after a full GC)' : ''}, bound ${mib(maxGrowth)} (seed ${opts.seed})`,
    );
  }
  return counts;
}

/** The one-line summary of a target's run. */
export function formatCounts(c: FuzzCounts): string {
  const tally = (r: Record<string, number>): string =>
    Object.entries(r)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n.toLocaleString('en-US')}`)
      .join(', ');
  const codes = tally(c.rejectedBy);
  const outcomes = tally(c.outcomes);
  return (
    `${c.target}: ${c.inputs.toLocaleString('en-US')} inputs, ${c.accepted.toLocaleString('en-US')} accepted${outcomes ? ` (${outcomes})` : ''}, ` +
    `${c.rejected.toLocaleString('en-US')} rejected${codes ? ` (${codes})` : ''}, ${c.crashes} crashes, ` +
    `slowest ${c.slowestMs.toFixed(2)} ms, heap ${signedMib(c.heapEndBytes - c.heapStartBytes)}` +
    `${c.gcAvailable ? ' after GC' : ''} (peak ${mib(c.heapPeakBytes)})`
  );
}

/** A per-target stream seed: the run's seed mixed with the target's name (FNV-1a). */
export function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h ^ seed) >>> 0;
}

/** JS heap plus memory outside it that JS objects hold (ArrayBuffers, Buffers). */
function retainedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

let cachedGc: (() => void) | null | undefined;

/**
 * A full GC when one can be had: `--expose-gc` (pnpm torture passes it), or the V8 flag
 * turned on at run time. Null when neither works; heap figures are then plain samples.
 */
export function fullGc(): (() => void) | null {
  if (cachedGc !== undefined) return cachedGc;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (cachedGc = exposed as () => void);
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    cachedGc = typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    cachedGc = null;
  }
  return cachedGc;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function showInput(input: unknown): string {
  if (input instanceof Uint8Array) return `${toHex(input)} (${input.length} bytes)`;
  const bytes = typeof input === 'object' && input !== null ? (input as { bytes?: unknown }).bytes : undefined;
  if (bytes instanceof Uint8Array) return showInput(bytes);
  try {
    return JSON.stringify(input) ?? String(input);
  } catch {
    return Object.prototype.toString.call(input);
  }
}

function clip(text: string): string {
  return text.length <= SHOW_LIMIT ? text : `${text.slice(0, SHOW_LIMIT)}… (${text.length} characters)`;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}${err.stack ? `\n${err.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  return `a thrown ${typeof err}: ${String(err)}`;
}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof err;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function signedMib(bytes: number): string {
  return `${bytes >= 0 ? '+' : '-'}${mib(Math.abs(bytes))}`;
}

// ---------------------------------------------------------------------------------------
// Running a check's targets.

/** Inputs per target in the long mode (the issue asks for at least a million). */
export const LONG_INPUTS = 1_000_000;

/** What a fuzz check's factory takes: `inputs` overrides the per-target count (tests use a few hundred). */
export interface FuzzCheckOptions {
  inputs?: number;
}

/**
 * Runs `targets` one after another with the torture options: `inputs` per target, or
 * LONG_INPUTS in the long mode when undefined. Logs each target's line as it finishes;
 * throws the first FuzzFailure (the lines so far are in its message's log).
 */
export async function runFuzzTargets(
  checkId: string,
  targets: ReadonlyArray<FuzzTarget<any>>,
  opts: TortureOptions,
  inputs: number | undefined,
): Promise<TortureResult> {
  const n = inputs ?? LONG_INPUTS;
  const lines: string[] = [];
  const data: FuzzCounts[] = [];
  let total = 0;
  for (const target of targets) {
    const counts = await fuzz(target, { seed: opts.seed, inputs: n });
    const line = formatCounts(counts);
    opts.log(`  ${checkId}: ${target.name} done, ${counts.inputs.toLocaleString('en-US')} inputs in ${(counts.elapsedMs / 1000).toFixed(1)} s`);
    lines.push(line);
    data.push(counts);
    total += counts.inputs;
  }
  lines.push(`${checkId}: ${targets.length} targets, ${total.toLocaleString('en-US')} inputs in all, 0 crashes, 0 hangs, no heap growth over the bound`);
  return { lines, data: { seed: opts.seed, inputsPerTarget: n, targets: data } };
}

// ---------------------------------------------------------------------------------------
// Byte inputs: random buffers and mutations of valid seeds.

/** A valid input to mutate; `lengthFields` are offsets of bytes that hold lengths or counts. */
export interface ByteSeed {
  bytes: Uint8Array;
  lengthFields?: readonly number[];
}

/** A generated byte input and the seed it came from (null for random bytes). */
export interface ByteInput {
  bytes: Uint8Array;
  origin: ByteSeed | null;
}

export interface ByteInputOptions {
  /** Longest pure-random buffer (most are far shorter). Default 96. */
  maxRandomLength?: number;
  /** Share of pure-random inputs, 0..1. Default 0.2. */
  randomShare?: number;
  /** Most mutations stacked on one seed. Default 4. */
  maxMutations?: number;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0f, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff];

/**
 * A generator of byte inputs: a share of random buffers (mostly short, sometimes long),
 * the rest valid seeds with 1..maxMutations mutations stacked.
 */
export function byteInputs(seeds: readonly ByteSeed[], opts: ByteInputOptions = {}): (rng: SeededRandom) => ByteInput {
  const maxRandom = opts.maxRandomLength ?? 96;
  const randomShare = seeds.length === 0 ? 1 : (opts.randomShare ?? 0.2);
  const maxMutations = opts.maxMutations ?? 4;
  return (rng) => {
    if (rng.next() < randomShare) return { bytes: randomBytes(rng, maxRandom), origin: null };
    const origin = seeds[rng.int(seeds.length)]!;
    let bytes: Uint8Array = origin.bytes.slice();
    const n = 1 + rng.int(maxMutations);
    for (let k = 0; k < n; k++) bytes = mutate(rng, bytes, origin, seeds);
    return { bytes, origin };
  };
}

/** A random buffer: 70% up to 32 bytes, 25% up to `max`, 5% up to 4 × `max`. */
export function randomBytes(rng: SeededRandom, max: number): Uint8Array {
  const r = rng.next();
  const len = r < 0.7 ? rng.int(33) : r < 0.95 ? rng.int(max + 1) : rng.int(4 * max + 1);
  const out = new Uint8Array(len);
  rng.fill(out);
  return out;
}

/** One mutation of `bytes` (which may be returned changed in place, or replaced). */
export function mutate(rng: SeededRandom, bytes: Uint8Array, origin: ByteSeed, seeds: readonly ByteSeed[]): Uint8Array {
  const len = bytes.length;
  switch (rng.int(11)) {
    case 0: // flip one bit
      if (len > 0) bytes[rng.int(len)]! ^= 1 << rng.int(8);
      return bytes;
    case 1: // one random byte
      if (len > 0) bytes[rng.int(len)] = rng.int(256);
      return bytes;
    case 2: // one "interesting" byte (boundaries of nibbles, signs, all ones)
      if (len > 0) bytes[rng.int(len)] = INTERESTING_BYTES[rng.int(INTERESTING_BYTES.length)]!;
      return bytes;
    case 3: {
      // a length field set to an extreme or just off its true value
      const fields = origin.lengthFields ?? [];
      const at = fields.length > 0 && rng.next() < 0.8 ? fields[rng.int(fields.length)]! : rng.int(Math.max(1, len));
      if (at >= len) return bytes;
      const v = bytes[at]!;
      const choices = [0, 1, 0xff, 0x7f, 0x80, (v + 1) & 0xff, (v - 1) & 0xff, len & 0xff, (len + 1) & 0xff, (len - 1) & 0xff];
      bytes[at] = choices[rng.int(choices.length)]!;
      return bytes;
    }
    case 4: {
      // a 16- or 32-bit word set to an extreme
      const width = rng.next() < 0.5 ? 2 : 4;
      if (len < width) return bytes;
      const at = rng.int(len - width + 1);
      const fill = [0x00, 0xff, 0x7f, 0x80][rng.int(4)]!;
      for (let k = 0; k < width; k++) bytes[at + k] = k === 0 ? fill : fill === 0x7f ? 0xff : fill === 0x80 ? 0 : fill;
      return bytes;
    }
    case 5: // truncate
      return bytes.slice(0, rng.int(len + 1));
    case 6: {
      // extend with random bytes
      const extra = new Uint8Array(1 + rng.int(rng.next() < 0.9 ? 16 : 300));
      rng.fill(extra);
      return concat(bytes, extra);
    }
    case 7: {
      // insert random bytes somewhere
      const at = rng.int(len + 1);
      const extra = new Uint8Array(1 + rng.int(8));
      rng.fill(extra);
      return concat(bytes.subarray(0, at), extra, bytes.subarray(at));
    }
    case 8: {
      // delete a range
      if (len === 0) return bytes;
      const at = rng.int(len);
      const n = 1 + rng.int(Math.min(8, len - at));
      return concat(bytes.subarray(0, at), bytes.subarray(at + n));
    }
    case 9: {
      // splice a chunk of another seed over this one, or into it
      const other = seeds[rng.int(seeds.length)]!.bytes;
      if (other.length === 0) return bytes;
      const from = rng.int(other.length);
      const chunk = other.subarray(from, from + 1 + rng.int(Math.min(16, other.length - from)));
      const at = rng.int(len + 1);
      if (rng.next() < 0.5) return concat(bytes.subarray(0, at), chunk, bytes.subarray(at));
      const out = bytes.length >= at + chunk.length ? bytes : concat(bytes, new Uint8Array(at + chunk.length - bytes.length));
      out.set(chunk, at);
      return out;
    }
    default: {
      // repeat a range (duplicated options, repeated fields)
      if (len === 0) return bytes;
      const at = rng.int(len);
      const n = 1 + rng.int(Math.min(12, len - at));
      return concat(bytes.subarray(0, at + n), bytes.subarray(at, at + n), bytes.subarray(at + n));
    }
  }
}

/** Checks a property of an accepted input; a violation is a crash (a plain Error, not the typed one). */
export function invariant(ok: boolean, message: string): void {
  if (!ok) throw new InvariantViolation(message);
}

/** Thrown by `invariant`: never a target's typed error, so the harness reports a crash. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
