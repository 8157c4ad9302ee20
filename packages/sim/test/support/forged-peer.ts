/**
 * Hand-driven MPTCP peers of one engine: the test writes each segment itself, so it can send
 * forms our own engine never sends (data on the MP_CAPABLE ACK, data without a DSS, other
 * versions) or acknowledge as another stack would, and reads what the engine answers.
 * Virtual time, one path, no loss.
 */
import { CapableFlag, ccFactory, emitSegment, Endpoint, joinAckHmac, keyIdsn, keyToken, minRttScheduler, parseSegment, SeededRandom, TcpFlag, type Connection, type EndpointConfig, type EndpointEvent, type MptcpOption, type TcpOption, type TcpSegment } from '@mptun/core';

export const PEER_PORT = 50_000;
export const SERVER_PORT = 443;

export const mptcp = (option: MptcpOption): TcpOption => ({ kind: 'mptcp', option });

/**
 * An option kind the forged peers write as MPTCP (30) once the segment is emitted: for MPTCP
 * option bytes the codec will not write (RFC 6824's version 0, lengths no form has).
 */
export const RAW_MPTCP_KIND = 0xfd;

/** MPTCP option bytes as given, written unchecked (see RAW_MPTCP_KIND). */
export function rawMptcp(body: number[]): TcpOption {
  return { kind: 'unknown', type: RAW_MPTCP_KIND, data: new Uint8Array(body) };
}

function asRawMptcp(bytes: Uint8Array): Uint8Array {
  const end = (bytes[12]! >>> 4) * 4;
  for (let i = 20; i < end && bytes[i] !== 0; i += bytes[i] === 1 ? 1 : bytes[i + 1]!) {
    if (bytes[i] === RAW_MPTCP_KIND) bytes[i] = 30;
  }
  return bytes;
}

/** A hand-driven peer of one engine: what the test sends goes in, what the engine answers is kept. */
class HandDriven {
  /** Everything the engine sent, parsed, in order. */
  readonly received: TcpSegment[] = [];
  now = 0;

  constructor(
    readonly engine: Endpoint,
    readonly path: number,
  ) {}

  /** Hands one segment to the engine and returns what it answers at once. */
  protected deliver(seg: TcpSegment): TcpSegment[] {
    this.engine.handleSegment(this.now, this.path, asRawMptcp(emitSegment(seg)));
    return this.collect();
  }

  /** What the engine sends now (after `ms` more of virtual time, its timers run). */
  collect(ms = 0): TcpSegment[] {
    this.now += ms;
    this.engine.handleTimeout(this.now);
    const out: TcpSegment[] = [];
    for (let t = this.engine.pollTransmit(this.now); t; t = this.engine.pollTransmit(this.now)) out.push(parseSegment(t.bytes));
    this.received.push(...out);
    this.onAnswers(out);
    return out;
  }

  /** Runs the engine's timers for `ms` in `step` ms steps; returns everything it sent. */
  idle(ms: number, step = 10): TcpSegment[] {
    const out: TcpSegment[] = [];
    for (let t = 0; t < ms; t += step) out.push(...this.collect(step));
    return out;
  }

  protected onAnswers(_out: readonly TcpSegment[]): void {}

  /** The engine's events since the last call (Endpoint.pollEvent()). */
  events(): EndpointEvent[] {
    const out: EndpointEvent[] = [];
    for (let ev = this.engine.pollEvent(); ev; ev = this.engine.pollEvent()) out.push(ev);
    return out;
  }
}

/** A client for a listening engine, from PEER_PORT to SERVER_PORT. */
export class ForgedClient extends HandDriven {
  readonly key = 0x0102_0304_0506_0708n;
  readonly idsn = keyIdsn(this.key);
  readonly iss = 1000;
  /** Next subflow sequence number to send, relative (0 = the first byte after the SYN). */
  rel = 0;
  serverKey: bigint | null = null;
  serverIsn = 0;
  /** Highest relative subflow sequence the server acknowledged. */
  acked = 0;

  readonly flags: number;

  constructor(server: Endpoint, path: number, flags: number = CapableFlag.HMAC_SHA256) {
    super(server, path);
    this.flags = flags;
  }

  /** Sends one segment (seq and ack filled in unless given) and returns the answers. */
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
    if ((seg.flags & TcpFlag.SYN) === 0) this.rel = Math.max(this.rel, ((seg.seq - this.iss - 1) >>> 0) + payload.length);
    return this.deliver(seg);
  }

  protected override onAnswers(out: readonly TcpSegment[]): void {
    for (const s of out) if (s.flags & TcpFlag.ACK) this.acked = Math.max(this.acked, (s.ack - this.iss - 1) | 0);
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

  /** A DSS mapping `len` bytes at connection offset `offset` to the next subflow bytes (RFC 8684 §3.3.1). */
  dss(offset: number, len: number): TcpOption {
    return mptcp({ type: 'dss', dataAck64: true, dataFin: false, mapping: { dsn: this.idsn + 1n + BigInt(offset), dsn64: true, subflowSeq: this.rel + 1, length: len } });
  }

  /** The server's connection, once the engine made one. */
  connection() {
    return [...this.engine.connections()][0];
  }

  /**
   * The same client joining from another address over a new path (MP_JOIN SYN, SYN/ACK,
   * third ACK with its HMAC, RFC 8684 §3.2): the new subflow's peer, or null when refused.
   */
  joinFrom(host: string, addressId = 1): ForgedClient | null {
    if (this.serverKey === null) throw new Error('no SYN/ACK with a key yet');
    const path = this.engine.openPath({ host: '10.0.0.1', port: SERVER_PORT }, { host, port: PEER_PORT });
    const joined = new ForgedClient(this.engine, path, this.flags);
    joined.now = this.now;
    const nonce = 0x0a0b0c0d;
    const answers = joined.send({ seq: joined.iss, ack: 0, flags: TcpFlag.SYN, options: [mptcp({ type: 'mp-join-syn', backup: false, addressId, token: keyToken(this.serverKey), nonce })] });
    const synAck = answers.find((a) => (a.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK));
    const join = synAck?.options.find((o) => o.kind === 'mptcp' && o.option.type === 'mp-join-synack');
    if (!synAck || join?.kind !== 'mptcp' || join.option.type !== 'mp-join-synack') return null;
    joined.serverIsn = synAck.seq;
    joined.serverKey = this.serverKey;
    joined.send({ options: [mptcp({ type: 'mp-join-ack', hmac: joinAckHmac(this.key, this.serverKey, nonce, join.option.nonce) })] });
    return joined;
  }
}

/**
 * A server for a connecting engine, which acknowledges by hand: subflow ACK, DATA_ACK and
 * window each as the test says, as a peer whose application has stopped reading would.
 */
export class ForgedServer extends HandDriven {
  readonly key = 0x1122_3344_5566_7788n;
  readonly iss = 7000;
  clientKey: bigint | null = null;
  clientIsn = 0;
  clientPort = 0;

  /** Answers the engine's MP_CAPABLE SYN (the last SYN it sent) with `window`, unscaled. */
  synAck(window: number): TcpSegment[] {
    const syn = [...this.received].reverse().find((s) => s.flags & TcpFlag.SYN);
    if (!syn) throw new Error('the engine sent no SYN');
    this.clientIsn = syn.seq;
    this.clientPort = syn.srcPort;
    const out = this.deliver(this.segment(0, TcpFlag.SYN | TcpFlag.ACK, window, [{ kind: 'mss', mss: 1400 }, mptcp({ type: 'mp-capable', version: 1, flags: CapableFlag.HMAC_SHA256, senderKey: this.key })]));
    for (const s of out) for (const o of s.options) if (o.kind === 'mptcp' && o.option.type === 'mp-capable' && o.option.senderKey !== undefined) this.clientKey = o.option.senderKey;
    return out;
  }

  /** A pure ACK of subflow bytes up to `rel` with the given options (no DSS unless among them). */
  ackWith(rel: number, options: TcpOption[], window = 65535): TcpSegment[] {
    return this.deliver({ ...this.segment(1, TcpFlag.ACK, window, options), ack: (this.clientIsn + 1 + rel) >>> 0 });
  }

  /** A pure ACK: subflow bytes up to `rel`, data up to connection offset `dataAck`, `window` beyond it. */
  ack(rel: number, dataAck: number, window: number): TcpSegment[] {
    if (this.clientKey === null) throw new Error('no MP_CAPABLE ACK from the engine yet');
    return this.ackWith(rel, [mptcp({ type: 'dss', dataAck: keyIdsn(this.clientKey) + 1n + BigInt(dataAck), dataAck64: true, dataFin: false })], window);
  }

  private segment(seqRel: number, flags: number, window: number, options: TcpOption[]): TcpSegment {
    return { srcPort: SERVER_PORT, dstPort: this.clientPort, seq: (this.iss + seqRel) >>> 0, ack: (this.clientIsn + 1) >>> 0, flags, window, checksum: 0, urgent: 0, options, payload: new Uint8Array(0) };
  }

  /** Data segments the engine sent: relative subflow sequence, connection offset (from its DSS), length. */
  dataSent(segs: readonly TcpSegment[] = this.received): Array<{ rel: number; offset: number; len: number }> {
    const out: Array<{ rel: number; offset: number; len: number }> = [];
    if (this.clientKey === null) return out;
    const idsn = keyIdsn(this.clientKey);
    for (const s of segs) {
      if (s.payload.length === 0) continue;
      for (const o of s.options) {
        if (o.kind === 'mptcp' && o.option.type === 'dss' && o.option.mapping) {
          out.push({ rel: (s.seq - this.clientIsn - 1) | 0, offset: Number(o.option.mapping.dsn - idsn - 1n), len: s.payload.length });
        }
      }
    }
    return out;
  }
}

/** An engine for one test, seeded. */
function engine(seed: number, config: Partial<EndpointConfig> = {}): Endpoint {
  return new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic'), ...config });
}

/** A listening engine with one path to the forged client, and the client (nothing sent yet). */
export function forgedClientOf(seed: number, config: Partial<EndpointConfig> = {}, flags?: number): ForgedClient {
  const server = engine(seed, config);
  server.listen(SERVER_PORT);
  const path = server.openPath({ host: '10.0.0.1', port: SERVER_PORT }, { host: '10.0.0.2', port: PEER_PORT });
  return new ForgedClient(server, path, flags);
}

/** forgedClientOf, with MPTCP set up: SYN, SYN/ACK, the MP_CAPABLE ACK. */
export function establishedForgedClient(seed: number, config: Partial<EndpointConfig> = {}, flags?: number): ForgedClient {
  const peer = forgedClientOf(seed, config, flags);
  peer.syn();
  peer.send({ options: [peer.capableAck()] });
  return peer;
}

/** A connecting engine with one path to the forged server, its connection, and the server (the SYN is out). */
export function forgedServerOf(seed: number): { client: Endpoint; conn: Connection; peer: ForgedServer } {
  const client = engine(seed);
  const path = client.openPath({ host: '10.0.0.2', port: PEER_PORT }, { host: '10.0.0.1', port: SERVER_PORT });
  const peer = new ForgedServer(client, path);
  const conn = client.connect(0, { path });
  peer.collect();
  return { client, conn, peer };
}

/** Everything the application can read now, as numbers (for toEqual). */
export function readAll(conn: Connection | undefined): number[] {
  const out: number[] = [];
  for (let d = conn?.read(); d; d = conn?.read()) out.push(...d);
  return out;
}

/** `n` bytes of a fixed pattern, so what arrives can be compared. */
export function pattern(n: number, salt = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt) & 0xff;
  return b;
}
