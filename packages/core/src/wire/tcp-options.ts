import { WireError } from './error.js';
import { emitMptcpOption, mptcpOptionLength, parseMptcpOption } from './mptcp/codec.js';
import { TCP_OPTIONS_MAX_LENGTH } from './tcp-header.js';
import { TcpOptionKind, type SackBlock, type TcpOption } from './tcp-option.js';

// Fixed option lengths, counting the kind and length bytes.
const MSS_LENGTH = 4; // RFC 9293 §3.2
const WINDOW_SCALE_LENGTH = 3; // RFC 7323 §2.2
const SACK_PERMITTED_LENGTH = 2; // RFC 2018 §2
const TIMESTAMPS_LENGTH = 10; // RFC 7323 §3.2
const SACK_BLOCK_LENGTH = 8; // RFC 2018 §3: two u32 edges per block
const SACK_MAX_BLOCKS = 4; // RFC 2018 §3: 2 + 8·4 = 34 is the most that fits in 40 bytes
/** An unknown option's data can fill the whole region minus its kind and length bytes. */
const UNKNOWN_DATA_MAX_LENGTH = TCP_OPTIONS_MAX_LENGTH - 2;

/**
 * Parses a TCP options region (the bytes between the fixed header and the data offset).
 *
 * RFC 9293 §3.2: NOP is padding between options and is skipped; EOL ends the list and
 * whatever follows it is padding, ignored here. Every other option carries a length byte
 * counting kind and length; it is checked before the option body is read, so an illegal
 * length (RFC 9293 §3.2, MUST-7) yields a `WireError` instead of a bad read. Options we do
 * not implement are kept as `unknown` (MUST-6 asks us to ignore them; the caller may).
 * The data of unknown options is copied; MPTCP options go to the MPTCP codec.
 */
export function parseTcpOptions(bytes: Uint8Array): TcpOption[] {
  return parseTcpOptionsIn(bytes, 0, bytes.length);
}

/**
 * `parseTcpOptions` over `bytes[start, end)`, without making a view of the region first:
 * for `parseSegment`, on the per-segment path. Offsets in error messages count from `start`.
 * @internal
 */
export function parseTcpOptionsIn(bytes: Uint8Array, start: number, end: number, lenient = false): TcpOption[] {
  if (!(start >= 0 && start <= end && end <= bytes.length)) {
    throw new WireError('BAD_OFFSET', `options region [${start}, ${end}) is not within ${bytes.length} bytes`);
  }
  const options: TcpOption[] = [];
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i += 1;
      continue;
    }
    if (i + 1 >= end) {
      throw new WireError('TRUNCATED', `TCP option ${kind} at offset ${i - start} has no length byte`);
    }
    const length = bytes[i + 1]!;
    if (length < 2) {
      throw new WireError('BAD_LENGTH', `TCP option ${kind} at offset ${i - start} has length ${length} (< 2)`);
    }
    if (i + length > end) {
      throw new WireError('TRUNCATED', `TCP option ${kind} at offset ${i - start} (length ${length}) runs past the ${end - start}-byte region`);
    }
    options.push(lenient && kind === TcpOptionKind.MPTCP ? parseMptcpLeniently(bytes, i, length) : parseOne(bytes, i, kind, length));
    i += length;
  }
  return options;
}

/**
 * An MPTCP option the codec cannot read (a version we do not speak, a length that fits no
 * form) is kept as an `unknown` option of kind 30, to be ignored like any other (RFC 9293
 * §3.2, MUST-6; emitTcpOptions refuses to write it back, as the codec could not read it),
 * instead of failing the whole segment: a peer speaking RFC 6824 then gets plain TCP
 * (RFC 8684 §3.1), not silence. The option's length was checked by the caller.
 */
function parseMptcpLeniently(b: Uint8Array, i: number, length: number): TcpOption {
  try {
    return { kind: 'mptcp', option: parseMptcpOption(b.subarray(i, i + length)) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { kind: 'unknown', type: TcpOptionKind.MPTCP, data: b.slice(i + 2, i + length) };
  }
}

/** One option whose kind and length bytes are known to be in range. */
function parseOne(b: Uint8Array, i: number, kind: number, length: number): TcpOption {
  switch (kind) {
    case TcpOptionKind.MSS: // RFC 9293 §3.2
      expectLength('MSS', length, MSS_LENGTH);
      return { kind: 'mss', mss: (b[i + 2]! << 8) | b[i + 3]! };
    case TcpOptionKind.WINDOW_SCALE:
      expectLength('window scale', length, WINDOW_SCALE_LENGTH);
      // RFC 7323 §2.3: a shift above 14 is clamped when used, so it is kept as sent here.
      return { kind: 'window-scale', shift: b[i + 2]! };
    case TcpOptionKind.SACK_PERMITTED: // RFC 2018 §2
      expectLength('SACK-permitted', length, SACK_PERMITTED_LENGTH);
      return { kind: 'sack-permitted' };
    case TcpOptionKind.SACK:
      return { kind: 'sack', blocks: parseSackBlocks(b, i, length) };
    case TcpOptionKind.TIMESTAMPS: // RFC 7323 §3.2
      expectLength('timestamps', length, TIMESTAMPS_LENGTH);
      return { kind: 'timestamps', tsval: readU32(b, i + 2), tsecr: readU32(b, i + 6) };
    case TcpOptionKind.MPTCP: // RFC 8684 §3: the MPTCP codec validates the rest
      return { kind: 'mptcp', option: parseMptcpOption(b.subarray(i, i + length)) };
    default:
      return { kind: 'unknown', type: kind, data: b.slice(i + 2, i + length) };
  }
}

/** RFC 2018 §3: length is 2 + 8n for n blocks; a 40-byte region holds at most 4. */
function parseSackBlocks(b: Uint8Array, i: number, length: number): SackBlock[] {
  const body = length - 2;
  const count = body >>> 3;
  if (body % SACK_BLOCK_LENGTH !== 0 || count < 1 || count > SACK_MAX_BLOCKS) {
    throw new WireError('BAD_LENGTH', `SACK option length ${length} is not 2 + 8n with n in 1..4`);
  }
  const blocks: SackBlock[] = [];
  for (let at = i + 2; at < i + length; at += SACK_BLOCK_LENGTH) {
    blocks.push({ left: readU32(b, at), right: readU32(b, at + 4) });
  }
  return blocks;
}

function expectLength(name: string, got: number, want: number): void {
  if (got !== want) throw new WireError('BAD_LENGTH', `${name} option length ${got}, expected ${want}`);
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * Bytes the options take on the wire, padded to a multiple of 4 (RFC 9293 §3.1: the
 * data offset counts 32-bit words). Checks the TCP-level fields as `emitTcpOptions` does
 * and throws `WireError('BAD_VALUE')` for one out of range; does not apply the 40-byte
 * limit, so callers can ask whether a set would fit.
 */
export function tcpOptionsLength(opts: readonly TcpOption[]): number {
  return (tcpOptionsUnpaddedLength(opts) + 3) & ~3;
}

/** The bytes `opts` take before padding: what counts when fitting more options into 40 bytes. */
export function tcpOptionsUnpaddedLength(opts: readonly TcpOption[]): number {
  let total = 0;
  for (let k = 0; k < opts.length; k++) total += optionLength(opts[k]!);
  return total;
}

/**
 * Writes `opts` in the order given at `buf[offset]`, then pads with EOL and zeros up to a
 * multiple of 4 bytes. Returns the bytes written (the padded length). Throws
 * `WireError('TOO_LARGE')` when the options exceed 40 bytes or do not fit in `buf`, and
 * `WireError('BAD_VALUE')` for an invalid option. Sizes and TCP-level fields are checked
 * before any byte is written; the fields of an MPTCP option are checked by the MPTCP codec
 * as it writes, so when it refuses one, the options before it are already in `buf`.
 */
export function emitTcpOptions(opts: readonly TcpOption[], buf: Uint8Array, offset: number): number {
  const padded = tcpOptionsLength(opts);
  if (padded > TCP_OPTIONS_MAX_LENGTH) {
    throw new WireError('TOO_LARGE', `TCP options need ${padded} bytes, at most ${TCP_OPTIONS_MAX_LENGTH} fit`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + padded > buf.length) {
    throw new WireError('TOO_LARGE', `TCP options need ${padded} bytes at offset ${offset} of a ${buf.length}-byte buffer`);
  }
  return writeTcpOptions(opts, buf, offset, padded);
}

/**
 * Writes options already validated by `tcpOptionsLength`, which returned `padded`,
 * into a buffer known to have room. For `emitSegment`, which checks both itself.
 * @internal
 */
export function writeTcpOptions(opts: readonly TcpOption[], buf: Uint8Array, offset: number, padded: number): number {
  let at = offset;
  for (let k = 0; k < opts.length; k++) at = writeOne(opts[k]!, buf, at);
  const end = offset + padded;
  if (at > end || end - at > 3) {
    // Only reachable if an option's emitter disagrees with its length function.
    throw new Error(`TCP options wrote ${at - offset} bytes where ${padded} (padded) were computed`);
  }
  // RFC 9293 §3.2: EOL, then zero padding; both are zero bytes.
  while (at < end) buf[at++] = TcpOptionKind.EOL;
  return padded;
}

/** Unpadded length of one option, after checking that its fields fit their wire sizes. */
function optionLength(opt: TcpOption): number {
  switch (opt.kind) {
    case 'mss':
      checkU16('MSS', opt.mss);
      return MSS_LENGTH;
    case 'window-scale':
      checkU8('window scale shift', opt.shift);
      return WINDOW_SCALE_LENGTH;
    case 'sack-permitted':
      return SACK_PERMITTED_LENGTH;
    case 'sack': {
      const blocks = opt.blocks;
      if (blocks.length < 1 || blocks.length > SACK_MAX_BLOCKS) {
        throw new WireError('BAD_VALUE', `SACK option needs 1..4 blocks, got ${blocks.length}`);
      }
      for (let k = 0; k < blocks.length; k++) {
        const block = blocks[k]!;
        checkU32('SACK left edge', block.left);
        checkU32('SACK right edge', block.right);
      }
      return 2 + SACK_BLOCK_LENGTH * blocks.length;
    }
    case 'timestamps':
      checkU32('TSval', opt.tsval);
      checkU32('TSecr', opt.tsecr);
      return TIMESTAMPS_LENGTH;
    case 'mptcp': {
      // The MPTCP codec validates fields when it writes; a length outside what a length
      // byte can say means a representation it cannot encode at all.
      const length = mptcpOptionLength(opt.option);
      if (!Number.isInteger(length) || length < 2 || length > 0xff) {
        throw new WireError('BAD_VALUE', `MPTCP option representation has no valid length (${length})`);
      }
      return length;
    }
    case 'unknown':
      checkUnknownType(opt.type);
      if (opt.data.length > UNKNOWN_DATA_MAX_LENGTH) {
        throw new WireError('BAD_VALUE', `unknown option data is ${opt.data.length} bytes, at most ${UNKNOWN_DATA_MAX_LENGTH}`);
      }
      return 2 + opt.data.length;
    default:
      throw new WireError('BAD_VALUE', `not a TCP option: ${String((opt as { kind: unknown }).kind)}`);
  }
}

/** Writes one validated option at `at`; returns the offset after it. */
function writeOne(opt: TcpOption, b: Uint8Array, at: number): number {
  switch (opt.kind) {
    case 'mss':
      b[at] = TcpOptionKind.MSS;
      b[at + 1] = MSS_LENGTH;
      b[at + 2] = opt.mss >>> 8;
      b[at + 3] = opt.mss;
      return at + MSS_LENGTH;
    case 'window-scale':
      b[at] = TcpOptionKind.WINDOW_SCALE;
      b[at + 1] = WINDOW_SCALE_LENGTH;
      b[at + 2] = opt.shift;
      return at + WINDOW_SCALE_LENGTH;
    case 'sack-permitted':
      b[at] = TcpOptionKind.SACK_PERMITTED;
      b[at + 1] = SACK_PERMITTED_LENGTH;
      return at + SACK_PERMITTED_LENGTH;
    case 'sack': {
      const blocks = opt.blocks;
      b[at] = TcpOptionKind.SACK;
      b[at + 1] = 2 + SACK_BLOCK_LENGTH * blocks.length;
      let p = at + 2;
      for (let k = 0; k < blocks.length; k++) {
        const block = blocks[k]!;
        writeU32(b, p, block.left);
        writeU32(b, p + 4, block.right);
        p += SACK_BLOCK_LENGTH;
      }
      return p;
    }
    case 'timestamps':
      b[at] = TcpOptionKind.TIMESTAMPS;
      b[at + 1] = TIMESTAMPS_LENGTH;
      writeU32(b, at + 2, opt.tsval);
      writeU32(b, at + 6, opt.tsecr);
      return at + TIMESTAMPS_LENGTH;
    case 'mptcp':
      return at + emitMptcpOption(opt.option, b, at);
    case 'unknown':
      b[at] = opt.type;
      b[at + 1] = 2 + opt.data.length;
      b.set(opt.data, at + 2);
      return at + 2 + opt.data.length;
  }
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/**
 * An unknown option must not be one the parser would read as something else, or the
 * emitted bytes would not parse back to the same representation.
 */
function checkUnknownType(type: number): void {
  checkU8('unknown option kind', type);
  switch (type) {
    case TcpOptionKind.EOL:
    case TcpOptionKind.NOP:
    case TcpOptionKind.MSS:
    case TcpOptionKind.WINDOW_SCALE:
    case TcpOptionKind.SACK_PERMITTED:
    case TcpOptionKind.SACK:
    case TcpOptionKind.TIMESTAMPS:
    case TcpOptionKind.MPTCP:
      throw new WireError('BAD_VALUE', `option kind ${type} has its own representation, not 'unknown'`);
  }
}

function checkU8(name: string, v: number): void {
  if ((v & 0xff) !== v) throw new WireError('BAD_VALUE', `${name} ${v} is not a u8`);
}

function checkU16(name: string, v: number): void {
  if ((v & 0xffff) !== v) throw new WireError('BAD_VALUE', `${name} ${v} is not a u16`);
}

function checkU32(name: string, v: number): void {
  if (v >>> 0 !== v) throw new WireError('BAD_VALUE', `${name} ${v} is not a u32`);
}
