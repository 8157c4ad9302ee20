/**
 * A hand-driven MPTCP client for a listening engine: the test writes each segment itself, so
 * it can send forms our own client never sends (data on the MP_CAPABLE ACK, data without a
 * DSS, other versions), and reads what the engine answers. Virtual time, one path, no loss.
 */
import { CapableFlag, emitSegment, keyIdsn, parseSegment, TcpFlag, type Endpoint, type MptcpOption, type TcpOption, type TcpSegment } from '@mptun/core';

export const PEER_PORT = 50_000;
export const SERVER_PORT = 443;

const mptcp = (option: MptcpOption): TcpOption => ({ kind: 'mptcp', option });

export class ForgedClient {
  readonly key = 0x0102_0304_0506_0708n;
  readonly idsn = keyIdsn(this.key);
  readonly iss = 1000;
  /** Next subflow sequence number to send, relative (0 = the first byte after the SYN). */
  rel = 0;
  serverKey: bigint | null = null;
  serverIsn = 0;
  /** Highest relative subflow sequence the server acknowledged. */
  acked = 0;
  /** Everything the server sent, parsed, in order. */
  readonly received: TcpSegment[] = [];
  now = 0;

  constructor(
    readonly server: Endpoint,
    readonly path: number,
    readonly flags: number = CapableFlag.HMAC_SHA256,
  ) {}

  /** Sends one segment from the client's port (seq and ack filled in unless given) and returns the answers. */
  send(part: Partial<TcpSegment> & { payload?: Uint8Array }): TcpSegment[] {
    const payload = part.payload ?? new Uint8Array(0);
    const seg: TcpSegment = {
      srcPort: PEER_PORT,
      dstPort: SERVER_PORT,
      seq: (this.iss + 1 + this.rel) >>> 0,
      ack: (this.serverIsn + 1) >>> 0,
      flags: TcpFlag.ACK,
      window: 65535,
      checksum: 0,
      urgent: 0,
      options: [],
      ...part,
      payload,
    };
    this.server.handleSegment(this.now, this.path, emitSegment(seg));
    if ((seg.flags & TcpFlag.SYN) === 0) this.rel = Math.max(this.rel, ((seg.seq - this.iss - 1) >>> 0) + payload.length);
    return this.collect();
  }

  /** What the server sends now (after `ms` more of virtual time, timers run). */
  collect(ms = 0): TcpSegment[] {
    this.now += ms;
    this.server.handleTimeout(this.now);
    const out: TcpSegment[] = [];
    for (let t = this.server.pollTransmit(this.now); t; t = this.server.pollTransmit(this.now)) out.push(parseSegment(t.bytes));
    for (const s of out) {
      if (s.flags & TcpFlag.ACK) this.acked = Math.max(this.acked, (s.ack - this.iss - 1) | 0);
      this.received.push(s);
    }
    return out;
  }

  /** SYN with MP_CAPABLE (or the given options); learns the server's key and ISN from the SYN/ACK. */
  syn(options: TcpOption[] = [mptcp({ type: 'mp-capable', version: 1, flags: this.flags })]): TcpSegment | undefined {
    const answers = this.send({ seq: this.iss, ack: 0, flags: TcpFlag.SYN, options });
    const synAck = answers.find((s) => (s.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK));
    if (!synAck) return undefined;
    this.serverIsn = synAck.seq;
    for (const o of synAck.options) if (o.kind === 'mptcp' && o.option.type === 'mp-capable') this.serverKey = o.option.senderKey ?? null;
    return synAck;
  }

  /** The MP_CAPABLE ACK (RFC 8684 §3.1), with a Data-Level Length (and checksum) when given. */
  capableAck(data?: { length: number; checksum?: number }): TcpOption {
    if (this.serverKey === null) throw new Error('no SYN/ACK with a key yet');
    const base = { type: 'mp-capable' as const, version: 1, flags: this.flags, senderKey: this.key, receiverKey: this.serverKey };
    if (!data) return mptcp(base);
    return mptcp(data.checksum === undefined ? { ...base, dataLength: data.length } : { ...base, dataLength: data.length, checksum: data.checksum });
  }

  /** The server's connection, once the engine made one. */
  connection() {
    return [...this.server.connections()][0];
  }
}

/** `n` bytes of a fixed pattern, so what arrives can be compared. */
export function pattern(n: number, salt = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt) & 0xff;
  return b;
}
