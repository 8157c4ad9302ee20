/**
 * TCP-in-UDP encapsulation, the layout of the multipath-tcp/tcp-in-udp project (an eBPF
 * program that turns a kernel's TCP segments into UDP datagrams and back, after
 * draft-cheshire-tcp-over-udp-00). Matching it byte for byte lets a Linux MPTCP peer
 * running that program talk to us.
 *
 * The 20-byte TCP header is rearranged in place so that its first 8 bytes become the UDP
 * header:
 *
 *   TCP segment                        UDP datagram
 *   0..3   source, destination port    0..3   UDP source, destination port (the same)
 *   4..7   sequence number             4..5   UDP length   6..7  UDP checksum
 *   8..11  acknowledgment number       8..11  data offset, flags, window (TCP 12..15)
 *   12..15 data offset, flags, window  12..15 sequence number
 *   16..17 checksum                    16..19 acknowledgment number
 *   18..19 urgent pointer              20..   options, then data (unchanged)
 *   20..   options, then data
 *
 * What a UDP socket hands us is the datagram without its 8-byte header, so the payload
 * here starts at "data offset, flags, window" and is exactly 8 bytes shorter than the
 * segment. The two TCP fields with no place in it:
 * - Checksum: the program moves the TCP checksum into the UDP checksum slot and adjusts
 *   it incrementally (protocol 6 → 17 in the pseudo-header, UDP length in place of the
 *   zero urgent pointer), so the UDP checksum guards the same bytes the TCP one did. A
 *   user-space socket never sees that field: the kernel checks it and strips it. So
 *   segmentToUdpPayload drops the segment's checksum field, and udpPayloadToSegment
 *   writes 0 there (the datagram was already verified on the way in).
 * - Urgent pointer: URG is never set. The program leaves segments with URG as plain TCP,
 *   and on receive it writes 0 into the pointer. Without URG the pointer means nothing
 *   (RFC 9293 §3.1), so we refuse URG segments, drop the pointer, and restore it as 0.
 */
import { WireError } from './error.js';
import { TcpFlag } from './tcp-segment.js';

/** Bytes of the fixed TCP header. RFC 9293 §3.1 */
const TCP_HEADER = 20;
/** Bytes of the TCP header that ride in the UDP payload: offset/flags/window, seq, ack. */
export const TCP_IN_UDP_HEADER = 12;
/** The UDP payload is this much shorter than the segment it carries. */
export const TCP_IN_UDP_SAVING = TCP_HEADER - TCP_IN_UDP_HEADER;
/** The UDP length field is 16 bits and counts its own 8-byte header. RFC 768 */
const MAX_UDP_PAYLOAD = 0xffff - 8;

// Offsets inside the TCP header, RFC 9293 §3.1.
const TCP_SEQ = 4;
const TCP_ACK = 8;
const TCP_OFFSET_FLAGS_WINDOW = 12;
const TCP_FLAGS = 13;

// Offsets inside the UDP payload.
const UDP_OFFSET_FLAGS_WINDOW = 0;
const UDP_FLAGS = 1;
const UDP_SEQ = 4;
const UDP_ACK = 8;

/**
 * Repacks a TCP segment as the UDP payload of tcp-in-udp. The ports travel as the UDP
 * ports, so the caller sends from srcPort to dstPort. Throws WireError when the segment
 * is shorter than its header, its data offset is out of range, it sets URG, or it is too
 * long for one UDP datagram.
 */
export function segmentToUdpPayload(segment: Uint8Array): Uint8Array {
  if (segment.length < TCP_HEADER) {
    throw new WireError('TRUNCATED', `TCP segment of ${segment.length} bytes is shorter than its header`);
  }
  const headerBytes = (segment[TCP_OFFSET_FLAGS_WINDOW]! >> 4) * 4;
  if (headerBytes < TCP_HEADER || headerBytes > segment.length) {
    throw new WireError('BAD_OFFSET', `TCP data offset ${headerBytes} bytes does not fit a ${segment.length}-byte segment`);
  }
  if ((segment[TCP_FLAGS]! & TcpFlag.URG) !== 0) {
    throw new WireError('BAD_VALUE', 'URG cannot be carried in tcp-in-udp');
  }
  if (segment.length - TCP_IN_UDP_SAVING > MAX_UDP_PAYLOAD) {
    throw new WireError('TOO_LARGE', `TCP segment of ${segment.length} bytes does not fit one UDP datagram`);
  }
  const payload = new Uint8Array(segment.length - TCP_IN_UDP_SAVING);
  payload.set(segment.subarray(TCP_OFFSET_FLAGS_WINDOW, TCP_OFFSET_FLAGS_WINDOW + 4), UDP_OFFSET_FLAGS_WINDOW);
  payload.set(segment.subarray(TCP_SEQ, TCP_SEQ + 4), UDP_SEQ);
  payload.set(segment.subarray(TCP_ACK, TCP_ACK + 4), UDP_ACK);
  payload.set(segment.subarray(TCP_HEADER), TCP_IN_UDP_HEADER);
  return payload;
}

function requirePort(port: number, which: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`${which} port out of range: ${port}`);
  }
}

/**
 * Rebuilds the TCP segment from a tcp-in-udp UDP payload received from srcPort to
 * dstPort. The checksum and urgent pointer come back as 0 (see the file comment).
 * Throws WireError when the payload is shorter than the carried header, its data offset
 * is below 5 words or runs past the payload, it sets URG, or it is longer than any UDP
 * datagram can be.
 */
export function udpPayloadToSegment(payload: Uint8Array, srcPort: number, dstPort: number): Uint8Array {
  requirePort(srcPort, 'source');
  requirePort(dstPort, 'destination');
  if (payload.length < TCP_IN_UDP_HEADER) {
    throw new WireError('TRUNCATED', `tcp-in-udp payload of ${payload.length} bytes is shorter than its header`);
  }
  if (payload.length > MAX_UDP_PAYLOAD) {
    throw new WireError('BAD_LENGTH', `tcp-in-udp payload of ${payload.length} bytes exceeds a UDP datagram`);
  }
  const headerBytes = (payload[UDP_OFFSET_FLAGS_WINDOW]! >> 4) * 4;
  if (headerBytes < TCP_HEADER || headerBytes - TCP_IN_UDP_SAVING > payload.length) {
    throw new WireError('BAD_OFFSET', `TCP data offset ${headerBytes} bytes does not fit a ${payload.length}-byte payload`);
  }
  if ((payload[UDP_FLAGS]! & TcpFlag.URG) !== 0) {
    throw new WireError('BAD_VALUE', 'URG cannot be carried in tcp-in-udp');
  }
  const segment = new Uint8Array(payload.length + TCP_IN_UDP_SAVING);
  const view = new DataView(segment.buffer);
  view.setUint16(0, srcPort);
  view.setUint16(2, dstPort);
  segment.set(payload.subarray(UDP_SEQ, UDP_SEQ + 4), TCP_SEQ);
  segment.set(payload.subarray(UDP_ACK, UDP_ACK + 4), TCP_ACK);
  segment.set(payload.subarray(UDP_OFFSET_FLAGS_WINDOW, UDP_OFFSET_FLAGS_WINDOW + 4), TCP_OFFSET_FLAGS_WINDOW);
  // bytes 16..19, checksum and urgent pointer, stay zero
  segment.set(payload.subarray(TCP_IN_UDP_HEADER), TCP_HEADER);
  return segment;
}
