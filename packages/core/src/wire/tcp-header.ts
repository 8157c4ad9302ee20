import { WireError } from './error.js';

/** Byte offsets of the fixed TCP header fields, RFC 9293 §3.1. */
export const TcpHeaderField = {
  SRC_PORT: 0, // u16
  DST_PORT: 2, // u16
  SEQ: 4, // u32
  ACK: 8, // u32
  DATA_OFFSET: 12, // high 4 bits: header length in 32-bit words; low 4 bits reserved
  FLAGS: 13, // CWR ECE URG ACK PSH RST SYN FIN
  WINDOW: 14, // u16
  CHECKSUM: 16, // u16
  URGENT: 18, // u16
} as const;

/** Length of the fixed header (data offset 5). RFC 9293 §3.1 */
export const TCP_HEADER_MIN_LENGTH = 20;
/** Largest header the 4-bit data offset can describe (15 words). RFC 9293 §3.1 */
export const TCP_HEADER_MAX_LENGTH = 60;
/** Room for options: everything between the fixed header and the largest header. */
export const TCP_OPTIONS_MAX_LENGTH = TCP_HEADER_MAX_LENGTH - TCP_HEADER_MIN_LENGTH;

/**
 * A checked view over the bytes of one TCP segment (header, options, payload).
 * `checked` validates the lengths once; after that no accessor can read past the
 * buffer, so the engine can demultiplex on ports and flags without a full parse.
 * The view does not copy: it reads the bytes it was given, as they are at call time.
 */
export class TcpHeaderView {
  private constructor(
    /** The whole segment as given to `checked`. */
    readonly bytes: Uint8Array,
    /** Header length in bytes (data offset × 4), already known to fit in `bytes`. */
    readonly headerLength: number,
  ) {}

  /**
   * Validates that `bytes` holds a fixed header and that the data offset is at least
   * 5 words and ends within the buffer. Throws `WireError` ('TRUNCATED', 'BAD_OFFSET').
   */
  static checked(bytes: Uint8Array): TcpHeaderView {
    return new TcpHeaderView(bytes, checkedHeaderLength(bytes));
  }

  get srcPort(): number {
    const b = this.bytes;
    return (b[0]! << 8) | b[1]!;
  }

  get dstPort(): number {
    const b = this.bytes;
    return (b[2]! << 8) | b[3]!;
  }

  get seq(): number {
    const b = this.bytes;
    return ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  }

  get ack(): number {
    const b = this.bytes;
    return ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
  }

  /** Header length in 32-bit words, as on the wire. */
  get dataOffset(): number {
    return this.headerLength >>> 2;
  }

  /** The 8 flag bits of byte 13 (see `TcpFlag`). The 4 reserved bits are not included. */
  get flags(): number {
    return this.bytes[TcpHeaderField.FLAGS]!;
  }

  /** True when every bit of `mask` is set in the flags byte. */
  hasFlags(mask: number): boolean {
    return (this.bytes[TcpHeaderField.FLAGS]! & mask) === mask;
  }

  get window(): number {
    const b = this.bytes;
    return (b[14]! << 8) | b[15]!;
  }

  get checksum(): number {
    const b = this.bytes;
    return (b[16]! << 8) | b[17]!;
  }

  get urgent(): number {
    const b = this.bytes;
    return (b[18]! << 8) | b[19]!;
  }

  /** The options region (possibly empty), a view into `bytes`. */
  optionBytes(): Uint8Array {
    return this.bytes.subarray(TCP_HEADER_MIN_LENGTH, this.headerLength);
  }

  /** Everything after the header (possibly empty), a view into `bytes`. */
  payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/**
 * The header length in bytes that the data offset announces, after checking it.
 * RFC 9293 §3.1: data offset counts 32-bit words and the fixed header alone is 5.
 */
export function checkedHeaderLength(bytes: Uint8Array): number {
  if (bytes.length < TCP_HEADER_MIN_LENGTH) {
    throw new WireError('TRUNCATED', `TCP header needs ${TCP_HEADER_MIN_LENGTH} bytes, got ${bytes.length}`);
  }
  const headerLength = (bytes[TcpHeaderField.DATA_OFFSET]! >>> 4) << 2;
  if (headerLength < TCP_HEADER_MIN_LENGTH) {
    throw new WireError('BAD_OFFSET', `TCP data offset ${headerLength >>> 2} is below 5 words`);
  }
  if (headerLength > bytes.length) {
    throw new WireError('BAD_OFFSET', `TCP data offset ${headerLength >>> 2} words runs past the ${bytes.length}-byte segment`);
  }
  return headerLength;
}
