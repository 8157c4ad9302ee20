/**
 * Writes segments to a classic pcap file that Wireshark/tshark read: each record is a
 * synthetic IPv4 header around one of our TCP segments, so the MPTCP dissector can group
 * subflows, check tokens and follow DSN mappings.
 *
 * File format: the libpcap "classic" layout (magic a1b2c3d4 in the writer's byte order,
 * version 2.4, microsecond timestamps), link type LINKTYPE_RAW (101): each packet starts
 * directly with an IP header.
 */
import { finishChecksum, onesComplementSum, tcpChecksumIPv4 } from '@mptun/core';

const PCAP_MAGIC = 0xa1b2c3d4;
const PCAP_VERSION_MAJOR = 2;
const PCAP_VERSION_MINOR = 4;
/** LINKTYPE_RAW: packets begin with an IPv4 or IPv6 header. */
export const LINKTYPE_RAW = 101;
/** Largest packet a record may hold; an IPv4 packet cannot exceed it anyway. */
const SNAPLEN = 0xffff;
const GLOBAL_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

// IPv4 header, RFC 791 §3.1: version 4, IHL 5 words, no options.
const IPV4_HEADER_BYTES = 20;
const IPV4_VERSION_IHL = 0x45;
const IPV4_DONT_FRAGMENT = 0x4000;
const IPV4_TTL = 64;
const IPV4_PROTOCOL_TCP = 6;
const IPV4_CHECKSUM_OFFSET = 10;
const TCP_CHECKSUM_OFFSET = 16;

/** Parses a dotted-quad IPv4 address strictly: four decimal parts 0..255, nothing else. */
export function parseIPv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new RangeError(`not a dotted IPv4 address: ${JSON.stringify(text)}`);
  }
  return new Uint8Array(parts.map(Number));
}

export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];
  private totalBytes = 0;
  /** IPv4 identification: counts up so that each synthetic packet is distinct. */
  private nextIpId = 1;

  constructor() {
    const header = new Uint8Array(GLOBAL_HEADER_BYTES);
    const view = new DataView(header.buffer);
    // Little-endian throughout; readers tell the byte order from the magic.
    view.setUint32(0, PCAP_MAGIC, true);
    view.setUint16(4, PCAP_VERSION_MAJOR, true);
    view.setUint16(6, PCAP_VERSION_MINOR, true);
    view.setInt32(8, 0, true); // thiszone: timestamps are UTC
    view.setUint32(12, 0, true); // sigfigs
    view.setUint32(16, SNAPLEN, true);
    view.setUint32(20, LINKTYPE_RAW, true);
    this.push(header);
  }

  /**
   * Appends one packet at timeMs (milliseconds since the epoch of the capture, may be
   * fractional) from src to dst. The segment is copied and its TCP checksum filled in;
   * the caller's bytes are left untouched.
   */
  add(timeMs: number, src: string, dst: string, segment: Uint8Array): void {
    if (!Number.isFinite(timeMs) || timeMs < 0) {
      throw new RangeError(`timestamp must be a non-negative number of ms, got ${timeMs}`);
    }
    const srcAddr = parseIPv4(src);
    const dstAddr = parseIPv4(dst);
    const packetBytes = IPV4_HEADER_BYTES + segment.length;
    if (packetBytes > SNAPLEN) {
      throw new RangeError(`packet of ${packetBytes} bytes exceeds the IPv4 total length`);
    }

    const record = new Uint8Array(RECORD_HEADER_BYTES + packetBytes);
    const view = new DataView(record.buffer);
    let seconds = Math.floor(timeMs / 1000);
    let micros = Math.round((timeMs - seconds * 1000) * 1000);
    if (micros >= 1_000_000) {
      // rounding a fraction just below a whole second up
      seconds += 1;
      micros -= 1_000_000;
    }
    if (seconds > 0xffff_ffff) {
      throw new RangeError(`timestamp ${timeMs} ms does not fit a 32-bit seconds field`);
    }
    view.setUint32(0, seconds, true);
    view.setUint32(4, micros, true);
    view.setUint32(8, packetBytes, true); // captured length
    view.setUint32(12, packetBytes, true); // original length

    const ipStart = RECORD_HEADER_BYTES;
    const ip = record.subarray(ipStart, ipStart + IPV4_HEADER_BYTES);
    const ipView = new DataView(record.buffer, ipStart, IPV4_HEADER_BYTES);
    ip[0] = IPV4_VERSION_IHL;
    ip[1] = 0; // DSCP/ECN
    ipView.setUint16(2, packetBytes);
    ipView.setUint16(4, this.nextIpId);
    this.nextIpId = (this.nextIpId + 1) & 0xffff;
    ipView.setUint16(6, IPV4_DONT_FRAGMENT);
    ip[8] = IPV4_TTL;
    ip[9] = IPV4_PROTOCOL_TCP;
    ip.set(srcAddr, 12);
    ip.set(dstAddr, 16);
    // RFC 791 §3.1: ones'-complement sum of the header with the checksum field zero
    ipView.setUint16(IPV4_CHECKSUM_OFFSET, finishChecksum(onesComplementSum(ip)));

    const tcp = record.subarray(ipStart + IPV4_HEADER_BYTES);
    tcp.set(segment);
    // tcpChecksumIPv4 length-checks the segment (at least a 20-byte header)
    const checksum = tcpChecksumIPv4(srcAddr, dstAddr, tcp);
    tcp[TCP_CHECKSUM_OFFSET] = checksum >> 8;
    tcp[TCP_CHECKSUM_OFFSET + 1] = checksum & 0xff;

    this.push(record);
  }

  /** The whole file so far: global header and every record, in order. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.totalBytes);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.totalBytes += chunk.length;
  }
}
