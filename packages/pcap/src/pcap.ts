/**
 * Writes segments to a classic pcap file that Wireshark/tshark read: each record is a
 * synthetic IPv4 or IPv6 header around one of our TCP segments, so the MPTCP dissector can
 * group subflows, check tokens and follow DSN mappings.
 *
 * File format: the libpcap "classic" layout (magic a1b2c3d4 in the writer's byte order,
 * version 2.4, microsecond timestamps), link type LINKTYPE_RAW (101): each packet starts
 * directly with an IP header.
 */
import { isIPv6 } from 'node:net';
import { finishChecksum, onesComplementSum, tcpChecksumIPv4, tcpChecksumIPv6 } from '@mptun/core';

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

// IPv6 header, RFC 8200 §3: version 6, no traffic class or flow label, no extension headers.
const IPV6_HEADER_BYTES = 40;
const IPV6_VERSION_BYTE = 0x60;
const IPV6_HOP_LIMIT = 64;

/** Parses a dotted-quad IPv4 address strictly: four decimal parts 0..255, nothing else. */
export function parseIPv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new RangeError(`not a dotted IPv4 address: ${JSON.stringify(text)}`);
  }
  return new Uint8Array(parts.map(Number));
}

/**
 * Parses an IPv6 address in any of its text forms (RFC 4291 §2.2: "::" compression, a
 * trailing dotted quad); a zone index ("%eth0") names an interface, not address bits, and is
 * dropped.
 */
export function parseIPv6(text: string): Uint8Array {
  const addr = text.replace(/%[^%]*$/, '');
  if (!isIPv6(addr)) throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  let groups = addr;
  const lastColon = addr.lastIndexOf(':');
  if (addr.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(addr.slice(lastColon + 1));
    groups = `${addr.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head = '', tail] = groups.split('::');
  const words = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = words(head);
  const right = tail === undefined ? [] : words(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/**
 * The two addresses of a packet as one family. An IPv4-mapped IPv6 address (::ffff:a.b.c.d,
 * what a dual-stack socket reports) counts as IPv4; if the families still differ, the IPv4
 * side is written mapped into IPv6.
 */
function addressPair(src: string, dst: string): { v6: boolean; src: Uint8Array; dst: Uint8Array } {
  const unmapped = (a: string): string => (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a);
  const isV4 = (a: string): boolean => !a.includes(':');
  const s = unmapped(src);
  const d = unmapped(dst);
  if (isV4(s) && isV4(d)) return { v6: false, src: parseIPv4(s), dst: parseIPv4(d) };
  const v6 = (a: string): Uint8Array => parseIPv6(isV4(a) ? `::ffff:${a}` : a);
  return { v6: true, src: v6(s), dst: v6(d) };
}

/** The 24-byte global header that starts every pcap file. */
export function pcapFileHeader(): Uint8Array {
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
  return header;
}

/** Turns segments into pcap records (record header, IP header, segment), one after another. */
export class PcapRecords {
  /** IPv4 identification: counts up so that each synthetic packet is distinct. */
  private nextIpId = 1;

  /**
   * One record for a packet at timeMs (milliseconds since the epoch of the capture, may be
   * fractional) from src to dst (IPv4 or IPv6 text). The segment is copied and its TCP
   * checksum filled in; the caller's bytes are left untouched. Throws RangeError on a bad
   * address, time or size, before anything is counted.
   */
  encode(timeMs: number, src: string, dst: string, segment: Uint8Array): Uint8Array {
    if (!Number.isFinite(timeMs) || timeMs < 0) {
      throw new RangeError(`timestamp must be a non-negative number of ms, got ${timeMs}`);
    }
    const addrs = addressPair(src, dst);
    const ipHeaderBytes = addrs.v6 ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES;
    const packetBytes = ipHeaderBytes + segment.length;
    if (packetBytes > SNAPLEN) {
      throw new RangeError(`packet of ${packetBytes} bytes exceeds the IP total length`);
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
    const ip = record.subarray(ipStart, ipStart + ipHeaderBytes);
    const ipView = new DataView(record.buffer, ipStart, ipHeaderBytes);
    if (addrs.v6) {
      ip[0] = IPV6_VERSION_BYTE; // traffic class and flow label stay zero
      ipView.setUint16(4, segment.length); // payload length
      ip[6] = IPV4_PROTOCOL_TCP; // next header: the same protocol number 6
      ip[7] = IPV6_HOP_LIMIT;
      ip.set(addrs.src, 8);
      ip.set(addrs.dst, 24);
    } else {
      ip[0] = IPV4_VERSION_IHL;
      ip[1] = 0; // DSCP/ECN
      ipView.setUint16(2, packetBytes);
      ipView.setUint16(4, this.nextIpId);
      ipView.setUint16(6, IPV4_DONT_FRAGMENT);
      ip[8] = IPV4_TTL;
      ip[9] = IPV4_PROTOCOL_TCP;
      ip.set(addrs.src, 12);
      ip.set(addrs.dst, 16);
      // RFC 791 §3.1: ones'-complement sum of the header with the checksum field zero
      ipView.setUint16(IPV4_CHECKSUM_OFFSET, finishChecksum(onesComplementSum(ip)));
    }

    const tcp = record.subarray(ipStart + ipHeaderBytes);
    tcp.set(segment);
    // The checksum functions length-check the segment (at least a 20-byte header)
    const checksum = addrs.v6 ? tcpChecksumIPv6(addrs.src, addrs.dst, tcp) : tcpChecksumIPv4(addrs.src, addrs.dst, tcp);
    tcp[TCP_CHECKSUM_OFFSET] = checksum >> 8;
    tcp[TCP_CHECKSUM_OFFSET + 1] = checksum & 0xff;
    if (!addrs.v6) this.nextIpId = (this.nextIpId + 1) & 0xffff;
    return record;
  }
}

/** A whole capture in memory: the global header, then every record added. */
export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];
  private totalBytes = 0;
  private readonly records = new PcapRecords();

  constructor() {
    this.push(pcapFileHeader());
  }

  /** Appends one packet; see PcapRecords.encode. */
  add(timeMs: number, src: string, dst: string, segment: Uint8Array): void {
    this.push(this.records.encode(timeMs, src, dst, segment));
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
