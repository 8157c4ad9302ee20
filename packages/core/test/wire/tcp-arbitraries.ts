// fast-check arbitraries for TCP-level wire representations, shared by the wire tests.
import fc from 'fast-check';
import { TCP_OPTIONS_MAX_LENGTH } from '../../src/wire/tcp-header.js';
import type { TcpOption } from '../../src/wire/tcp-option.js';
import { tcpOptionsLength } from '../../src/wire/tcp-options.js';
import type { TcpSegment } from '../../src/wire/tcp-segment.js';
import { arbMptcpOption } from './mptcp-arbitraries.js';

const u16 = () => fc.integer({ min: 0, max: 0xffff });
const u32 = () => fc.integer({ min: 0, max: 0xffffffff });

/** Option kinds with a representation of their own; an 'unknown' option never uses one. */
const RESERVED_KINDS = new Set([0, 1, 2, 3, 4, 5, 8, 30]);

/** Any single TCP option representation that `emitTcpOptions` accepts. */
export function arbTcpOption(): fc.Arbitrary<TcpOption> {
  return fc.oneof(
    u16().map((mss): TcpOption => ({ kind: 'mss', mss })),
    // Shifts above 14 are legal on the wire (clamped at use, RFC 7323 §2.3).
    fc.integer({ min: 0, max: 255 }).map((shift): TcpOption => ({ kind: 'window-scale', shift })),
    fc.constant<TcpOption>({ kind: 'sack-permitted' }),
    fc
      .array(fc.record({ left: u32(), right: u32() }), { minLength: 1, maxLength: 4 })
      .map((blocks): TcpOption => ({ kind: 'sack', blocks })),
    fc.record({ tsval: u32(), tsecr: u32() }).map(({ tsval, tsecr }): TcpOption => ({ kind: 'timestamps', tsval, tsecr })),
    arbMptcpOption().map((option): TcpOption => ({ kind: 'mptcp', option })),
    fc
      .record({
        type: fc.integer({ min: 0, max: 255 }).filter((t) => !RESERVED_KINDS.has(t)),
        data: fc.uint8Array({ maxLength: TCP_OPTIONS_MAX_LENGTH - 2 }),
      })
      .map(({ type, data }): TcpOption => ({ kind: 'unknown', type, data })),
  );
}

/**
 * A list of options that fits in 40 bytes: a generated list, keeping in order each
 * option that still fits after the ones kept before it (so no generated value is rejected).
 */
export function arbTcpOptions(): fc.Arbitrary<TcpOption[]> {
  return fc.array(arbTcpOption(), { maxLength: 8 }).map((candidates) => {
    const kept: TcpOption[] = [];
    for (const opt of candidates) {
      if (tcpOptionsLength([...kept, opt]) <= TCP_OPTIONS_MAX_LENGTH) kept.push(opt);
    }
    return kept;
  });
}

/** Any segment representation `emitSegment` accepts (payloads up to one 1500-byte MTU). */
export function arbTcpSegment(): fc.Arbitrary<TcpSegment> {
  return fc.record({
    srcPort: u16(),
    dstPort: u16(),
    seq: u32(),
    ack: u32(),
    flags: fc.integer({ min: 0, max: 255 }),
    window: u16(),
    checksum: u16(),
    urgent: u16(),
    options: arbTcpOptions(),
    payload: fc.oneof(
      { arbitrary: fc.uint8Array({ maxLength: 32 }), weight: 4 },
      { arbitrary: fc.uint8Array({ maxLength: 1500 }), weight: 1 },
    ),
  });
}

/** An edit applied to an encoding: overwrite bytes, then optionally cut or extend the end. */
interface Mutation {
  writes: { at: number; value: number }[];
  resize: { cut: number } | { extra: Uint8Array } | null;
}

const arbMutation: fc.Arbitrary<Mutation> = fc.record({
  writes: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
  resize: fc.oneof(
    { arbitrary: fc.constant(null), weight: 3 },
    { arbitrary: fc.nat().map((cut) => ({ cut })), weight: 2 },
    { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => ({ extra })), weight: 1 },
  ),
});

/**
 * Valid encodings with a few bytes changed, and sometimes cut short or extended: inputs
 * close to the real thing reach the deep branches that random bytes rarely do.
 * Writes land in the first `focus` bytes (header and options), where the parser looks.
 */
export function arbMutated(valid: fc.Arbitrary<Uint8Array>, focus = 64): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, arbMutation).map(([bytes, m]) => mutate(bytes, m, focus));
}

function mutate(original: Uint8Array, m: Mutation, focus: number): Uint8Array {
  let bytes = original.slice();
  if (bytes.length > 0) {
    const span = Math.min(bytes.length, focus);
    for (const w of m.writes) bytes[w.at % span] = w.value;
  }
  if (m.resize !== null) {
    if ('cut' in m.resize) {
      bytes = bytes.subarray(0, m.resize.cut % (bytes.length + 1));
    } else {
      const longer = new Uint8Array(bytes.length + m.resize.extra.length);
      longer.set(bytes);
      longer.set(m.resize.extra, bytes.length);
      bytes = longer;
    }
  }
  return bytes;
}

/**
 * Parameters for one property: a fixed seed so runs repeat, printed so a failure can be
 * replayed; FC_SEED in the environment overrides it to explore other inputs.
 */
export function fcParams(label: string, seed: number, numRuns: number): { seed: number; numRuns: number } {
  const chosen = process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : seed;
  console.log(`[fast-check] ${label}: seed ${chosen}, ${numRuns} runs`);
  return { seed: chosen, numRuns };
}
