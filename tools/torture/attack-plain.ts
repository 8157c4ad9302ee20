/**
 * MP_JOIN with a stolen token and ADD_ADDR with a bad HMAC. Over sealed UDP an attacker
 * without the client's key cannot get any segment in, so these run over `udp-plain`
 * (tcp-in-udp, no session crypto), where only RFC 8684's own checks stand in the way.
 * In this process: an MptcpServer streaming pattern bytes to one honest client, through a
 * tap that sees the honest subflow's sequence numbers (an on-path observer that arrived
 * after the handshake: it knows ports and sequence numbers, not the keys).
 *   - MP_JOIN SYN with the connection's token (stolen) and a random nonce, then a third ACK
 *     with a made-up HMAC: the server must answer RST and never count the subflow up
 *     (RFC 8684 §3.2); data sent on it afterwards must not reach the application.
 *   - MP_JOIN SYN with an unknown token: refused at once.
 *   - A burst of stolen-token join SYNs never completed: how many half-open joins the
 *     connection holds (bounded), and the honest transfer carries on.
 *   - ADD_ADDR with a wrong HMAC injected on the honest subflow: ignored (RFC 8684 §3.4.1);
 *     the same with the right HMAC (keys read from the server, standing in for the key
 *     holder) is taken: that control shows the injection itself reaches the server.
 */
import dgram from 'node:dgram';
import {
  addAddrHmac,
  emitSegment,
  parseSegment,
  SeededRandom,
  segmentToUdpPayload,
  TcpFlag,
  udpPayloadToSegment,
  type MptcpOption,
  type TcpSegment,
} from '@mptun/core';
import { connect, MptcpServer, type MptcpSocket } from '@mptun/node';
import { fillPattern, patternMismatch, type HostPort } from '../bench/rig/index.js';
import { goodputOver } from './attack-honest.js';

export interface PlainAttackPlan {
  /** Honest goodput windows (baseline, then with the attacks), s. */
  windowSeconds: number;
  /** Honest transfer time before the baseline window (slow start), s. */
  warmupSeconds: number;
  joinAttempts: number;
  joinFlood: number;
  seed: number;
  log(line: string): void;
}

export interface PlainAttackResult {
  baselineBps: number;
  duringBps: number;
  stolenJoin: { attempts: number; synAcks: number; resets: number; established: number; injectedBytesDelivered: number };
  unknownToken: { attempts: number; resets: number; joinsRefused: number };
  joinFlood: { sent: number; synAcks: number; halfOpenHeld: number };
  addAddr: { badHmacTaken: boolean; goodHmacTaken: boolean };
  honestBytes: number;
  honestSubflowsUp: number;
}

const PERIOD = 251 * 256;
const CHUNK = 32 * 1024;
const pattern = fillPattern(new Uint8Array(PERIOD + CHUNK), 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A plain UDP relay in front of the server that remembers the honest subflow's latest numbers. */
class PlainTap {
  last: { seq: number; ack: number; window: number } | null = null;
  private upstream: dgram.Socket | null = null;
  private client: HostPort | null = null;

  private constructor(
    private readonly listen: dgram.Socket,
    private readonly server: HostPort,
  ) {
    listen.on('message', (msg, rinfo) => this.fromClient(msg, { host: rinfo.address, port: rinfo.port }));
    listen.on('error', () => {});
  }

  static async start(server: HostPort): Promise<PlainTap> {
    return new PlainTap(await bound('127.0.0.1'), server);
  }

  get address(): HostPort {
    const a = this.listen.address();
    return { host: a.address, port: a.port };
  }

  private fromClient(msg: Buffer, client: HostPort): void {
    if (!this.upstream) {
      if (this.client) return; // one honest client only
      this.client = client;
      const up = dgram.createSocket('udp4');
      up.on('error', () => {});
      up.on('message', (reply) => this.listen.send(reply, client.port, client.host));
      up.bind(0, '127.0.0.1');
      this.upstream = up;
    }
    if (client.host !== this.client!.host || client.port !== this.client!.port) return;
    try {
      // As the server will see it: from our upstream port to the server's.
      const seg = parseSegment(udpPayloadToSegment(msg, this.upstream.address().port, this.server.port));
      const len = seg.payload.length + (seg.flags & (TcpFlag.SYN | TcpFlag.FIN) ? 1 : 0);
      this.last = { seq: (seg.seq + len) >>> 0, ack: seg.ack, window: seg.window };
    } catch {
      // not ours to judge: forward it anyway
    }
    this.upstream.send(msg, this.server.port, this.server.host);
  }

  /** Sends `options` on a pure ACK of the honest subflow, as if from the client. */
  inject(options: MptcpOption[]): boolean {
    if (!this.upstream || !this.last) return false;
    const seg: TcpSegment = {
      srcPort: this.upstream.address().port,
      dstPort: this.server.port,
      seq: this.last.seq,
      ack: this.last.ack,
      flags: TcpFlag.ACK,
      window: this.last.window,
      checksum: 0,
      urgent: 0,
      options: options.map((option) => ({ kind: 'mptcp' as const, option })),
      payload: new Uint8Array(0),
    };
    this.upstream.send(segmentToUdpPayload(emitSegment(seg)), this.server.port, this.server.host);
    return true;
  }

  async close(): Promise<void> {
    if (this.upstream) await new Promise<void>((r) => this.upstream!.close(() => r()));
    await new Promise<void>((r) => this.listen.close(() => r()));
  }
}

async function bound(host: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve());
  });
  return s;
}

/** An attacker's own plain "subflow": one UDP socket, segments in and out as tcp-in-udp. */
class Forger {
  readonly replies: TcpSegment[] = [];
  private constructor(
    readonly socket: dgram.Socket,
    private readonly server: HostPort,
  ) {
    socket.on('message', (msg, rinfo) => {
      try {
        this.replies.push(parseSegment(udpPayloadToSegment(msg, rinfo.port, this.port)));
      } catch {
        // a reply we cannot parse counts as none
      }
    });
  }

  static async open(host: string, server: HostPort): Promise<Forger> {
    return new Forger(await bound(host), server);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(seg: Omit<TcpSegment, 'srcPort' | 'dstPort' | 'checksum' | 'urgent'>): void {
    const full: TcpSegment = { ...seg, srcPort: this.port, dstPort: this.server.port, checksum: 0, urgent: 0 };
    this.socket.send(segmentToUdpPayload(emitSegment(full)), this.server.port, this.server.host);
  }

  /** First reply matching `pred` within `ms`, or null. */
  async await(pred: (s: TcpSegment) => boolean, ms = 1_000): Promise<TcpSegment | null> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const hit = this.replies.find(pred);
      if (hit) return hit;
      await sleep(10);
    }
    return null;
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

const hasOption = (s: TcpSegment, type: MptcpOption['type']): boolean => s.options.some((o) => o.kind === 'mptcp' && o.option.type === type);

function joinSyn(rng: SeededRandom, token: number): Omit<TcpSegment, 'srcPort' | 'dstPort' | 'checksum' | 'urgent'> {
  return {
    seq: rng.nextU32(),
    ack: 0,
    flags: TcpFlag.SYN,
    window: 65535,
    options: [{ kind: 'mss', mss: 1200 }, { kind: 'mptcp', option: { type: 'mp-join-syn', backup: false, addressId: 1 + rng.int(250), token, nonce: rng.nextU32() } }],
    payload: new Uint8Array(0),
  };
}

export async function runPlainAttacks(plan: PlainAttackPlan): Promise<PlainAttackResult> {
  const rng = new SeededRandom(plan.seed);
  const log = plan.log;
  let serverSocket: MptcpSocket | null = null;
  let serverReceived = 0;
  const server = new MptcpServer({ listen: [{ transport: 'udp-plain', host: '127.0.0.1', port: 0 }] }, (s) => {
    serverSocket = s;
    s.on('error', () => {});
    s.on('data', (d: Buffer) => (serverReceived += d.length)); // the honest client sends nothing
    let offset = 0;
    const pump = (): void => {
      while (!s.destroyed) {
        const at = offset % PERIOD;
        offset += CHUNK;
        if (!s.write(pattern.slice(at, at + CHUNK))) return void s.once('drain', pump);
      }
    };
    pump();
  });
  const forgers: Forger[] = [];
  let tap: PlainTap | null = null;
  let client: MptcpSocket | null = null;
  try {
    const [addr] = await server.listen();
    const serverAddr = { host: '127.0.0.1', port: addr!.port };
    tap = await PlainTap.start(serverAddr);
    let got = 0;
    let corrupt: string | null = null;
    client = connect({ transport: 'udp-plain', server: tap.address, localAddresses: ['127.0.0.2'] });
    client.on('error', () => {});
    client.on('data', (d: Buffer) => {
      if (corrupt === null && patternMismatch(d, got) >= 0) corrupt = `honest byte ${got + patternMismatch(d, got)} is not the pattern byte`;
      got += d.length;
    });
    for (let i = 0; i < 100 && (serverSocket === null || got === 0); i++) await sleep(50);
    if (serverSocket === null || got === 0) throw new Error('the honest plain-UDP connection did not start');
    await sleep(plan.warmupSeconds * 1000); // past slow start
    const conn = (serverSocket as MptcpSocket).connection;
    const window = (): Promise<number> => goodputOver(plan.windowSeconds, () => got);
    const baselineBps = await window();
    log(`plain: honest baseline ${(baselineBps / 1e6).toFixed(1)} Mbit/s; token 0x${conn.token.toString(16)} (stolen), keys unknown to the attacker`);

    // The attacks run while the next window is measured.
    const during = window();
    const attackStart = performance.now();

    // 1. Stolen token, made-up third-ACK HMAC.
    const stolen = { attempts: plan.joinAttempts, synAcks: 0, resets: 0, established: 0, injectedBytesDelivered: 0 };
    const receivedBefore = serverReceived;
    for (let i = 0; i < plan.joinAttempts; i++) {
      const f = await Forger.open(`127.0.0.${20 + (i % 20)}`, serverAddr);
      forgers.push(f);
      const syn = joinSyn(rng, conn.token);
      f.send(syn);
      const synAck = await f.await((s) => (s.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK));
      if (!synAck || !hasOption(synAck, 'mp-join-synack')) continue;
      stolen.synAcks++;
      const hmac = new Uint8Array(20);
      rng.fill(hmac);
      const iss = (syn.seq + 1) >>> 0;
      f.send({ seq: iss, ack: (synAck.seq + 1) >>> 0, flags: TcpFlag.ACK, window: 65535, options: [{ kind: 'mptcp', option: { type: 'mp-join-ack', hmac } }], payload: new Uint8Array(0) });
      if (await f.await((s) => (s.flags & TcpFlag.RST) !== 0)) stolen.resets++;
      // Data on the refused subflow, mapped as if it were the connection's next bytes.
      const payload = new Uint8Array(512).fill(0x58);
      f.send({
        seq: iss,
        ack: (synAck.seq + 1) >>> 0,
        flags: TcpFlag.ACK | TcpFlag.PSH,
        window: 65535,
        options: [{ kind: 'mptcp', option: { type: 'dss', dataAck64: true, dataAck: 0n, dataFin: false, mapping: { dsn: 0n, dsn64: true, subflowSeq: 1, length: 512 } } }],
        payload,
      });
    }
    await sleep(200);
    stolen.injectedBytesDelivered = serverReceived - receivedBefore;
    stolen.established = (serverSocket as MptcpSocket).subflows().filter((s) => s.state === 'established').length - 1;

    // 2. Unknown token.
    const refusedBefore = server.driver.endpoint.stats.joinsRefused;
    const unknown = { attempts: plan.joinAttempts, resets: 0, joinsRefused: 0 };
    for (let i = 0; i < plan.joinAttempts; i++) {
      const f = await Forger.open(`127.0.0.${40 + (i % 20)}`, serverAddr);
      forgers.push(f);
      f.send(joinSyn(rng, (conn.token ^ (1 + rng.int(0xfffffffe))) >>> 0));
      if (await f.await((s) => (s.flags & TcpFlag.RST) !== 0, 500)) unknown.resets++;
    }
    unknown.joinsRefused = server.driver.endpoint.stats.joinsRefused - refusedBefore;

    // 3. Half-open joins with the stolen token, never completed.
    const flood = { sent: plan.joinFlood, synAcks: 0, halfOpenHeld: 0 };
    const floodForgers: Forger[] = [];
    for (let i = 0; i < plan.joinFlood; i++) {
      const f = await Forger.open(`127.0.0.${60 + (i % 60)}`, serverAddr);
      forgers.push(f);
      floodForgers.push(f);
      f.send(joinSyn(rng, conn.token));
    }
    await sleep(300);
    flood.synAcks = floodForgers.filter((f) => f.replies.some((s) => (s.flags & TcpFlag.SYN) !== 0)).length;
    flood.halfOpenHeld = (serverSocket as MptcpSocket).subflows().filter((s) => s.state === 'syn-received').length;

    // 4. ADD_ADDR on the honest subflow: a made-up HMAC, then (control) the right one.
    const before = conn.peerAddressList().length;
    const address = Uint8Array.from([10, 66, 0, 1]);
    const bad = new Uint8Array(8);
    rng.fill(bad);
    // One of each: every injected ACK repeats the honest ACK number, and three would be a
    // triple duplicate ACK (a fast retransmit at the server), which is not what is tested here.
    tap.inject([{ type: 'add-addr', echo: false, addressId: 9, address, port: 4444, hmac: bad }]);
    await sleep(200);
    const badHmacTaken = conn.peerAddressList().length > before;
    const good = addAddrHmac(conn.remoteKey!, conn.localKey, 10, address, 4444);
    tap.inject([{ type: 'add-addr', echo: false, addressId: 10, address, port: 4444, hmac: good }]);
    await sleep(200);
    const goodHmacTaken = conn.peerAddressList().some((a) => a.addressId === 10);
    log(`plain: attacks done in ${((performance.now() - attackStart) / 1000).toFixed(1)} s`);

    const duringBps = await during;
    if (corrupt) throw new Error(`plain (seed ${plan.seed}): ${corrupt}`);
    return {
      baselineBps,
      duringBps,
      stolenJoin: stolen,
      unknownToken: unknown,
      joinFlood: flood,
      addAddr: { badHmacTaken, goodHmacTaken },
      honestBytes: got,
      honestSubflowsUp: (serverSocket as MptcpSocket).subflows().filter((s) => s.state === 'established').length,
    };
  } finally {
    for (const f of forgers) await f.close();
    client?.destroy();
    await tap?.close();
    await server.close();
  }
}
