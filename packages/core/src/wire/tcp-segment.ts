import type { TcpOption } from './tcp-option.js';

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
