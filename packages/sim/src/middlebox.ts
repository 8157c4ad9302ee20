import { TcpOptionKind } from '@mptun/core';
import type { PacketTransform } from './link-options.js';

// TCP header layout, RFC 9293 §3.1.
const TCP_HEADER_MIN = 20;
const DATA_OFFSET_BYTE = 12;
const CHECKSUM_OFFSET = 16;

/**
 * What an option-stripping middlebox does to MPTCP (RFC 8684 §3.7): every MPTCP option
 * (kind 30) in a TCP segment is overwritten with NOPs, so the peer sees plain TCP and must
 * fall back. Other options, the header and the payload are untouched. The options region
 * is walked with every length checked; if anything is malformed the segment is passed on
 * unchanged. The input is never modified: a changed segment is a copy. A non-zero TCP
 * checksum is patched incrementally (RFC 1624 eqn. 3), as a real middlebox would; zero
 * means the encapsulation carries none and stays zero.
 */
export function stripMptcpOptions(segment: Uint8Array): Uint8Array {
  const optionsEnd = mptcpOptionsEnd(segment);
  if (optionsEnd < 0) return segment;
  const out = segment.slice();
  let i = TCP_HEADER_MIN;
  while (i < optionsEnd) {
    const kind = out[i]!;
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    const len = out[i + 1]!; // validated by mptcpOptionsEnd
    if (kind === TcpOptionKind.MPTCP) out.fill(TcpOptionKind.NOP, i, i + len);
    i += len;
  }
  patchChecksum(segment, out, optionsEnd);
  return out;
}

/** stripMptcpOptions as a link transform. */
export const mptcpOptionStripper: PacketTransform = stripMptcpOptions;

/**
 * The end of the options region if the segment is well formed and carries at least one
 * MPTCP option, else -1.
 */
function mptcpOptionsEnd(segment: Uint8Array): number {
  if (segment.length < TCP_HEADER_MIN) return -1;
  const headerLen = (segment[DATA_OFFSET_BYTE]! >>> 4) * 4;
  if (headerLen < TCP_HEADER_MIN || headerLen > segment.length) return -1;
  let found = false;
  let i = TCP_HEADER_MIN;
  while (i < headerLen) {
    const kind = segment[i]!;
    if (kind === TcpOptionKind.EOL) break; // the rest is padding
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= headerLen) return -1; // no room for the length byte
    const len = segment[i + 1]!;
    if (len < 2 || i + len > headerLen) return -1;
    if (kind === TcpOptionKind.MPTCP) found = true;
    i += len;
  }
  return found ? headerLen : -1;
}

/** RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over every 16-bit word of the options that changed. */
function patchChecksum(before: Uint8Array, after: Uint8Array, optionsEnd: number): void {
  const old = (before[CHECKSUM_OFFSET]! << 8) | before[CHECKSUM_OFFSET + 1]!;
  if (old === 0) return;
  let sum = ~old & 0xffff;
  // Options start at byte 20 and end on a 4-byte boundary, so whole words cover them.
  for (let w = TCP_HEADER_MIN; w < optionsEnd; w += 2) {
    const m = (before[w]! << 8) | before[w + 1]!;
    const m2 = (after[w]! << 8) | after[w + 1]!;
    if (m === m2) continue;
    sum += (~m & 0xffff) + m2;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const patched = ~sum & 0xffff;
  after[CHECKSUM_OFFSET] = patched >>> 8;
  after[CHECKSUM_OFFSET + 1] = patched & 0xff;
}
