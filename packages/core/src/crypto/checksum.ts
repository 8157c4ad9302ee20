import { WireError } from '../wire/error.js';

/** IP protocol number of TCP, carried in both pseudo-headers. */
const PROTOCOL_TCP = 6;

/** Offset of the checksum field inside the TCP header. RFC 9293 §3.1 */
const TCP_CHECKSUM_OFFSET = 16;
const TCP_MIN_HEADER = 20;

/**
 * Adds data to a running 16-bit ones'-complement sum (RFC 1071 §1): big-endian words, a
 * trailing odd byte padded with a zero byte, carries folded back in. Start with 0; when
 * chaining calls every chunk but the last must have an even length, or the words shift.
 * Returns the folded sum (not yet complemented).
 */
export function onesComplementSum(data: Uint8Array, sum = 0): number {
  let acc = sum;
  const evenEnd = data.length & ~1;
  for (let i = 0; i < evenEnd; i += 2) {
    acc += (data[i]! << 8) | data[i + 1]!;
  }
  if (evenEnd !== data.length) {
    acc += data[evenEnd]! << 8;
  }
  // A JS number holds 2^53 exactly, so folding once at the end cannot lose a carry for
  // any buffer that fits in memory; loop because a fold can itself carry.
  while (acc > 0xffff) {
    acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  }
  return acc;
}

/** The checksum to put on the wire: the ones' complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~sum & 0xffff;
}

/** Sums a TCP segment as if its checksum field held zero. */
function sumSegmentWithoutChecksum(segment: Uint8Array, sum: number): number {
  if (segment.length < TCP_MIN_HEADER) {
    throw new WireError('TRUNCATED', `TCP segment of ${segment.length} bytes is shorter than its header`);
  }
  // 16 is even, so summing the two halves separately keeps every word aligned.
  const before = onesComplementSum(segment.subarray(0, TCP_CHECKSUM_OFFSET), sum);
  return onesComplementSum(segment.subarray(TCP_CHECKSUM_OFFSET + 2), before);
}

function requireAddress(address: Uint8Array, bytes: number, which: string): void {
  if (address.length !== bytes) {
    throw new RangeError(`${which} address must be ${bytes} bytes, got ${address.length}`);
  }
}

/**
 * TCP checksum over IPv4: the IPv4 pseudo-header (source, destination, zero, protocol 6,
 * TCP length as 16 bits) and the whole segment with its checksum field read as zero.
 * RFC 9293 §3.1 ("Checksum").
 */
export function tcpChecksumIPv4(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): number {
  requireAddress(src, 4, 'source');
  requireAddress(dst, 4, 'destination');
  if (segment.length > 0xffff) {
    throw new WireError('TOO_LARGE', `TCP segment of ${segment.length} bytes exceeds the IPv4 length field`);
  }
  const pseudo = new Uint8Array(12);
  pseudo.set(src, 0);
  pseudo.set(dst, 4);
  pseudo[9] = PROTOCOL_TCP;
  new DataView(pseudo.buffer).setUint16(10, segment.length);
  return finishChecksum(sumSegmentWithoutChecksum(segment, onesComplementSum(pseudo)));
}

/**
 * TCP checksum over IPv6: the IPv6 pseudo-header (source, destination, 32-bit
 * upper-layer length, three zero bytes, next header 6) and the segment with its checksum
 * field read as zero. RFC 8200 §8.1.
 */
export function tcpChecksumIPv6(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): number {
  requireAddress(src, 16, 'source');
  requireAddress(dst, 16, 'destination');
  if (segment.length > 0xffff_ffff) {
    throw new WireError('TOO_LARGE', `TCP segment of ${segment.length} bytes exceeds the IPv6 length field`);
  }
  const pseudo = new Uint8Array(40);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  new DataView(pseudo.buffer).setUint32(32, segment.length);
  pseudo[39] = PROTOCOL_TCP;
  return finishChecksum(sumSegmentWithoutChecksum(segment, onesComplementSum(pseudo)));
}

/** Bytes of the DSS checksum pseudo-header. RFC 8684 §3.3.1 */
const DSS_PSEUDO_HEADER = 16;

/**
 * The DSS checksum of one mapping: a ones'-complement sum over a pseudo-header (64-bit
 * data sequence number, 32-bit relative subflow sequence number, 16-bit data-level
 * length, 16 zero bits) followed by the mapped payload. RFC 8684 §3.3.1.
 * The receiver verifies by summing the same pseudo-header with the received checksum in
 * place of the zero bits: the complemented result is then 0.
 */
export function dssChecksum(dsn: bigint, subflowSeq: number, length: number, payload: Uint8Array): number {
  if (dsn < 0n || dsn > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`not a u64 DSN: ${dsn}`);
  }
  if (!Number.isInteger(subflowSeq) || subflowSeq < 0 || subflowSeq > 0xffff_ffff) {
    throw new RangeError(`not a u32 subflow sequence number: ${subflowSeq}`);
  }
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) {
    throw new RangeError(`not a u16 data-level length: ${length}`);
  }
  const pseudo = new Uint8Array(DSS_PSEUDO_HEADER);
  const view = new DataView(pseudo.buffer);
  view.setBigUint64(0, dsn);
  view.setUint32(8, subflowSeq);
  view.setUint16(12, length);
  // bytes 14..15 stay zero: the checksum's own slot
  return finishChecksum(onesComplementSum(payload, onesComplementSum(pseudo)));
}
