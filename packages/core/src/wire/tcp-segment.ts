import { WireError } from './error.js';
import { TCP_HEADER_MIN_LENGTH, TCP_OPTIONS_MAX_LENGTH, checkedHeaderLength } from './tcp-header.js';
import type { TcpOption } from './tcp-option.js';
import { parseTcpOptionsIn, tcpOptionsLength, writeTcpOptions } from './tcp-options.js';

/** TCP header flag bits, RFC 9293 §3.1 (byte 13). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** A parsed TCP segment: the 20-byte header, its options, and the payload. */
export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number; // u32
  ack: number; // u32
  flags: number; // the 8 flag bits of byte 13
  window: number; // u16, unscaled as on the wire
  checksum: number; // u16 as on the wire (0 where the encapsulation carries none)
  urgent: number; // u16
  options: TcpOption[];
  payload: Uint8Array;
}


/**
 * Largest segment `emitSegment` writes: header, options and payload within the 16-bit
 * payload length of IPv6 (IPv4 leaves 20 bytes less; the transport enforces its own MTU).
 */
export const TCP_SEGMENT_MAX_LENGTH = 0xffff;

/**
 * Parses a whole segment: the fixed header, the options region, and the payload, which is
 * a view into `bytes` (not a copy). The 4 reserved bits of byte 12 are ignored.
 * Throws `WireError` for a short buffer, a bad data offset or a malformed option.
 */
export function parseSegment(bytes: Uint8Array): TcpSegment {
  return parseSegmentWith(bytes, false);
}

/**
 * `parseSegment` for the engine's input: an MPTCP option the codec cannot read becomes an
 * `unknown` option of kind 30 (ignored) instead of an error for the whole segment.
 */
export function parseSegmentLenient(bytes: Uint8Array): TcpSegment {
  return parseSegmentWith(bytes, true);
}

function parseSegmentWith(bytes: Uint8Array, lenientMptcp: boolean): TcpSegment {
  // RFC 9293 §3.1: fixed header, data offset in words, then options up to the offset.
  const headerLength = checkedHeaderLength(bytes);
  return {
    srcPort: (bytes[0]! << 8) | bytes[1]!,
    dstPort: (bytes[2]! << 8) | bytes[3]!,
    seq: ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0,
    ack: ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0,
    flags: bytes[13]!,
    window: (bytes[14]! << 8) | bytes[15]!,
    checksum: (bytes[16]! << 8) | bytes[17]!,
    urgent: (bytes[18]! << 8) | bytes[19]!,
    options: headerLength === TCP_HEADER_MIN_LENGTH ? [] : parseTcpOptionsIn(bytes, TCP_HEADER_MIN_LENGTH, headerLength, lenientMptcp),
    payload: bytes.subarray(headerLength),
  };
}

/**
 * Bytes `emitSegment` writes for `seg`: 20 + padded options + payload. Throws
 * `WireError('BAD_VALUE')` for an invalid option, like `tcpOptionsLength`.
 */
export function segmentLength(seg: TcpSegment): number {
  return TCP_HEADER_MIN_LENGTH + tcpOptionsLength(seg.options) + seg.payload.length;
}

/**
 * Writes `seg` at `out[offset]` (a new buffer when `out` is omitted) and returns a view of
 * exactly the bytes written. The checksum is written as given: it covers an IP
 * pseudo-header (RFC 9293 §3.1) and belongs to whoever knows the addresses. The reserved
 * bits are written as zero. Throws `WireError('BAD_VALUE')` for a field out of range and
 * `WireError('TOO_LARGE')` for more than 40 bytes of options, more than 64 KiB in all, or
 * too small an `out`. Header fields, TCP options and sizes are checked before anything is
 * written; MPTCP option fields are checked by the MPTCP codec as the options are written.
 */
export function emitSegment(seg: TcpSegment, out?: Uint8Array, offset = 0): Uint8Array {
  checkU16('source port', seg.srcPort);
  checkU16('destination port', seg.dstPort);
  checkU32('sequence number', seg.seq);
  checkU32('acknowledgment number', seg.ack);
  checkU8('flags', seg.flags);
  checkU16('window', seg.window);
  checkU16('checksum', seg.checksum);
  checkU16('urgent pointer', seg.urgent);
  const optionsLength = tcpOptionsLength(seg.options);
  if (optionsLength > TCP_OPTIONS_MAX_LENGTH) {
    throw new WireError('TOO_LARGE', `TCP options need ${optionsLength} bytes, at most ${TCP_OPTIONS_MAX_LENGTH} fit`);
  }
  const headerLength = TCP_HEADER_MIN_LENGTH + optionsLength;
  const payload = seg.payload;
  const total = headerLength + payload.length;
  if (total > TCP_SEGMENT_MAX_LENGTH) {
    throw new WireError('TOO_LARGE', `segment of ${total} bytes exceeds ${TCP_SEGMENT_MAX_LENGTH}`);
  }
  let buf: Uint8Array;
  if (out === undefined) {
    buf = new Uint8Array(total);
    offset = 0;
  } else {
    if (!Number.isInteger(offset) || offset < 0 || offset + total > out.length) {
      throw new WireError('TOO_LARGE', `segment needs ${total} bytes at offset ${offset} of a ${out.length}-byte buffer`);
    }
    buf = out;
  }
  const b = buf;
  const o = offset;
  // RFC 9293 §3.1 header layout.
  b[o] = seg.srcPort >>> 8;
  b[o + 1] = seg.srcPort;
  b[o + 2] = seg.dstPort >>> 8;
  b[o + 3] = seg.dstPort;
  b[o + 4] = seg.seq >>> 24;
  b[o + 5] = seg.seq >>> 16;
  b[o + 6] = seg.seq >>> 8;
  b[o + 7] = seg.seq;
  b[o + 8] = seg.ack >>> 24;
  b[o + 9] = seg.ack >>> 16;
  b[o + 10] = seg.ack >>> 8;
  b[o + 11] = seg.ack;
  b[o + 12] = (headerLength >>> 2) << 4; // data offset; reserved bits zero
  b[o + 13] = seg.flags;
  b[o + 14] = seg.window >>> 8;
  b[o + 15] = seg.window;
  b[o + 16] = seg.checksum >>> 8;
  b[o + 17] = seg.checksum;
  b[o + 18] = seg.urgent >>> 8;
  b[o + 19] = seg.urgent;
  if (optionsLength !== 0) writeTcpOptions(seg.options, b, o + TCP_HEADER_MIN_LENGTH, optionsLength);
  if (payload.length !== 0) b.set(payload, o + headerLength);
  return b.subarray(o, o + total);
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
