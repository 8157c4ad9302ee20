import type { CcFactory, CcGroup, CcMember } from '../cc/controller.js';
import type { ResolvedConfig } from '../config.js';
import { addAddrHmac, hmacEqual, joinAckHmac, joinSynAckHmac } from '../crypto/hmac.js';
import { formatIp, parseIp } from '../ip.js';
import { keyIdsn, keyToken } from '../crypto/keys.js';
import { dssChecksum } from '../crypto/checksum.js';
import { EngineError, type EngineErrorCode } from '../errors.js';
import type { EndpointEvent } from '../events.js';
import { randomU32 } from '../random.js';
import type { RandomSource } from '../random.js';
import type { Scheduler, SchedSubflow, SchedulerFactory } from '../sched/scheduler.js';
import type { SentSegment } from '../subflow/sent-segment.js';
import { dsnOf, offsetOfDsn, toDssSubflowSeq } from '../subflow/seq.js';
import { Subflow, type OutgoingContext, type SubflowCloseReason, type SubflowOwner } from '../subflow/subflow.js';
import { CapableFlag, TcpRstReason, type AddAddr, type Dss, type MpCapable, type MptcpOption } from '../wire/mptcp/option.js';
import { mptcpOptionLength } from '../wire/mptcp/codec.js';
import type { TcpOption } from '../wire/tcp-option.js';
import { TcpFlag, type TcpSegment } from '../wire/tcp-segment.js';
import { Reassembly } from './reassembly.js';
import { SendBuffer } from './send-buffer.js';

/** An address as the driver knows it: host text and transport port. */
export interface Address {
  host: string;
  port: number;
}

/** What a connection needs of the endpoint that owns it. */
export interface ConnectionHost {
  readonly config: ResolvedConfig;
  readonly random: RandomSource;
  emit(ev: EndpointEvent): void;
  /** A subflow came into being or went away: keep the demultiplexing table in step. */
  registerSubflow(conn: Connection, sf: Subflow): void;
  unregisterSubflow(conn: Connection, sf: Subflow): void;
  /** A fresh local port for a new subflow on a path. */
  allocatePort(pathId: number): number;
  pathAddresses(pathId: number): { local: Address; remote: Address; mss: number; reliable: boolean } | undefined;
  connectionClosed(conn: Connection): void;
  /** The connection has segments to send. */
  wake(conn: Connection): void;
  /** The connection's state may change now: read its next deadline again afterwards. */
  touch(conn: Connection): void;
}

export type ConnectionState = 'connecting' | 'established' | 'closed';

/** A chunk of connection data to (re)send: [start, end). */
interface Range {
  start: number;
  end: number;
  /** A subflow that must not carry it (the one it is rescued from). */
  avoid: number;
}

const MAX_SUBFLOWS = 32;
/**
 * Joins answered but not yet proven by the third ACK's HMAC (RFC 8684 §3.2). A token is all
 * it takes to make one, and tokens travel in clear on unsealed paths, so only a few may wait
 * at once; a new one pushes out the oldest, and an honest join still gets through a flood.
 */
const MAX_PENDING_JOINS = 4;
/** Longest wait between window probes. */
const PERSIST_MAX_MS = 60_000;
/** Transmissions of an ADD_ADDR before giving up on its echo. */
const ADD_ADDR_TRIES = 4;
/** How long closed-at-data-level connections wait for the subflow FIN exchange. */
const CLOSE_LINGER_MS = 3000;

/**
 * One MPTCP connection (RFC 8684): the data sequence space, the subflows that carry it,
 * and the MPTCP signalling around them.
 */
export class Connection implements SubflowOwner, CcGroup {
  state: ConnectionState = 'connecting';
  /** Plain TCP after the peer never echoed MP_CAPABLE (RFC 8684 §3.7). */
  fallback = false;
  readonly localKey: bigint;
  readonly localToken: number;
  private readonly localIdsn: bigint;
  remoteKey: bigint | null = null;
  remoteToken = 0;
  private remoteIdsn = 0n;
  /** DSS checksums in use (RFC 8684 §3.3.1). */
  checksums: boolean;
  /** Client only: the server has shown it knows our key (it sent a DSS data ACK). */
  private peerHasKeys = false;
  private readonly subflowList: Subflow[] = [];
  private nextSubflowId = 1;
  private readonly scheduler: Scheduler;
  private readonly ccFactory: CcFactory;
  private ccMembers: CcMember[] = [];

  // Send side, in connection offsets (0 = the byte at IDSN+1).
  private readonly sendBuf = new SendBuffer();
  /** Data acknowledged by the peer's DATA_ACK. */
  sndUna = 0;
  /** Next new offset to hand to a subflow. */
  private sndNxt = 0;
  /** Right edge of the peer's receive window (RFC 8684 §3.3.4). */
  private peerWindowRight: number;
  private readonly reinject: Range[] = [];
  /** Offset of our DATA_FIN once shutdown() was called, else -1. */
  private finOffset = -1;
  private finSent = false;
  private bareFinDue = false;
  private bareFinDeadline = Infinity;
  private writeBlocked = false;

  // Receive side.
  private readonly reasm: Reassembly;
  private peerFinOffset = -1;
  private endEmitted = false;
  private readableSignalled = false;

  private closeError: EngineError | undefined;
  /** Latest time seen from the driver. */
  private clock: number;
  private lingerDeadline = Infinity;
  private pendingResets: Array<{ sf: Subflow; options: TcpOption[] }> = [];
  private idleDeadline = Infinity;
  /** Joins waiting for the server to hold our key; `planned` ones came with connect(). */
  private pendingJoins: Array<{ pathId: number; backup: boolean; planned: boolean }> = [];
  private readonly joinNonces = new Map<Subflow, { local: number; remote: number }>();
  /** Address id of each local host (RFC 8684 §3.2: the initial subflow's address is 0). */
  private readonly localAddressIds = new Map<string, number>();
  /** Client, while connecting: the bytes that ride every MP_CAPABLE SYN, and the paths raced. */
  private synData: Uint8Array | null = null;
  private readonly racedPaths = new Set<number>();

  constructor(
    readonly id: number,
    private readonly host: ConnectionHost,
    readonly isClient: boolean,
    now: number,
    scheduler?: SchedulerFactory,
    congestionControl?: CcFactory,
  ) {
    const cfg = host.config;
    this.scheduler = (scheduler ?? cfg.scheduler)();
    this.ccFactory = congestionControl ?? cfg.congestionControl;
    this.checksums = cfg.checksums;
    this.reasm = new Reassembly(cfg.receiveBuffer);
    // RFC 8684 §3.1: the token identifies the connection at the listener; pick keys until it is unused.
    this.localKey = host.random ? randomKey(host.random) : 0n;
    this.localToken = keyToken(this.localKey);
    this.localIdsn = keyIdsn(this.localKey);
    this.peerWindowRight = cfg.mss; // until the peer tells us its window
    this.clock = now;
    this.armIdle(now);
  }

  // --- The application's side ----------------------------------------------------------

  /** Queue bytes for sending; returns how many were taken (the rest: wait for 'writable'). */
  write(data: Uint8Array): number {
    this.host.touch(this);
    if (this.state === 'closed' || this.finOffset >= 0) return 0;
    const room = this.host.config.sendBuffer - this.sendBuf.length;
    const n = Math.min(room, data.length);
    if (n > 0) {
      this.sendBuf.append(n === data.length ? data : data.subarray(0, n));
      this.host.wake(this);
    }
    if (n < data.length) this.writeBlocked = true;
    return n;
  }

  /** Up to `max` bytes in order, or null when nothing is buffered. */
  read(max?: number): Uint8Array | null {
    this.host.touch(this);
    const before = this.reasm.window();
    const out = this.reasm.read(max);
    if (!out) {
      this.readableSignalled = false;
      return null;
    }
    // RFC 8684 §3.3.4: announce a window that opened by a good share.
    if (before < this.reasm.limit / 2 && this.reasm.window() >= this.reasm.limit / 2) this.requestAck();
    if (this.reasm.readableBytes === 0) this.readableSignalled = false;
    return out;
  }

  get readableBytes(): number {
    return this.reasm.readableBytes;
  }

  /** Bytes written and not yet acknowledged by the peer. */
  get bufferedBytes(): number {
    return this.sendBuf.length;
  }

  get peakReceiveBuffered(): number {
    return this.reasm.peakBuffered;
  }

  /** Half-close: send DATA_FIN after the buffered data (RFC 8684 §3.3.3). */
  shutdown(): void {
    this.host.touch(this);
    if (this.state === 'closed' || this.finOffset >= 0) return;
    this.finOffset = this.sendBuf.end;
    this.host.wake(this);
  }

  /** Abort at once: MP_FASTCLOSE on every subflow (RFC 8684 §3.5). */
  abort(now: number, error = new EngineError('ERR_MPTUN_ABORTED', 'connection aborted by the application')): void {
    this.host.touch(this);
    if (this.state === 'closed') return;
    for (const sf of this.subflowList) {
      if (sf.state === 'closed') continue;
      const opts: TcpOption[] = [];
      if (this.remoteKey !== null && !this.fallback) opts.push(mptcp({ type: 'mp-fastclose', receiverKey: this.remoteKey }));
      this.pendingResets.push({ sf, options: opts });
    }
    this.finish(now, error);
    this.host.wake(this);
  }

  /** Connection id for the application (RFC 6897 TCP_MULTIPATH_CONNID): our token. */
  get token(): number {
    return this.localToken;
  }

  subflows(): readonly Subflow[] {
    return this.subflowList;
  }

  /** Mark one of our subflows backup or not and tell the peer (MP_PRIO, RFC 8684 §3.3.8). */
  setBackup(subflowId: number, backup: boolean): void {
    this.host.touch(this);
    const sf = this.subflowList.find((s) => s.id === subflowId);
    if (!sf || sf.backup === backup) return;
    sf.backup = backup;
    this.prioDue.add(sf);
    sf.requestAck();
    this.host.wake(this);
  }

  private readonly prioDue = new Set<Subflow>();
  /** ADD_ADDRs to send: ours until echoed (retried), and echoes of the peer's. */
  private readonly addrOut: Array<{ option: AddAddr; due: boolean; deadline: number; tries: number }> = [];
  private readonly removeOut: number[] = [];
  /** Addresses the peer announced, by id. */
  private readonly peerAddresses = new Map<number, { host: string; port: number | undefined }>();
  /** DSN to report in MP_FAIL after a checksum failure, until the peer falls back. */
  private mpFailDsn: bigint | null = null;
  /** After MP_FAIL: our data from this offset rides an infinite mapping; -1 once acknowledged. */
  private infiniteFrom = -1;
  private readonly infiniteCarriers = new WeakSet<SentSegment>();
  /** Mapped data that fell outside the receive window and was dropped. */
  outOfWindowDrops = 0;

  /**
   * Announce one of our addresses to the peer (ADD_ADDR with HMAC, RFC 8684 §3.4.1), sent
   * again until the peer echoes it. `port` is the transport port when it differs.
   */
  announceAddress(addressId: number, host: string, port?: number): boolean {
    this.host.touch(this);
    const address = parseIp(host);
    if (!address || this.remoteKey === null || this.fallback) return false;
    // Subflows later joined to this address carry the id we announced it under.
    this.localAddressIds.set(host, addressId & 0xff);
    const hmac = addAddrHmac(this.localKey, this.remoteKey, addressId, address, port);
    const option: AddAddr = { type: 'add-addr', echo: false, addressId, address, hmac };
    if (port !== undefined) option.port = port;
    this.addrOut.push({ option, due: true, deadline: Infinity, tries: 1 });
    this.requestAck();
    return true;
  }

  /** Withdraw addresses (REMOVE_ADDR, RFC 8684 §3.4.2). */
  withdrawAddresses(addressIds: readonly number[]): void {
    this.host.touch(this);
    if (this.fallback || addressIds.length === 0) return;
    this.removeOut.push(...addressIds);
    for (let i = this.addrOut.length - 1; i >= 0; i--) if (addressIds.includes(this.addrOut[i]!.option.addressId)) this.addrOut.splice(i, 1);
    this.requestAck();
  }

  /** Addresses the peer has announced and not withdrawn. */
  peerAddressList(): Array<{ addressId: number; host: string; port: number | undefined }> {
    return [...this.peerAddresses].map(([addressId, a]) => ({ addressId, ...a }));
  }

  /** Close one subflow (with MP_TCPRST, RFC 8684 §3.6) while the connection carries on. */
  closeSubflow(now: number, subflowId: number, reason: number = TcpRstReason.UNSPECIFIED): void {
    this.host.touch(this);
    const sf = this.subflowList.find((s) => s.id === subflowId);
    if (!sf || sf.state === 'closed') return;
    this.pendingResets.push({ sf, options: this.fallback ? [] : [mptcp({ type: 'mp-tcprst', flags: 0, reason })] });
    sf.terminate('closed', now);
    this.host.wake(this);
  }

  private onAddAddr(m: AddAddr, sf: Subflow): void {
    if (this.remoteKey === null || this.fallback) return;
    if (m.echo) {
      // The peer received our announcement: stop repeating it.
      const i = this.addrOut.findIndex((a) => !a.option.echo && a.option.addressId === m.addressId);
      if (i >= 0) this.addrOut.splice(i, 1);
      return;
    }
    // RFC 8684 §3.4.1: only the holder of both keys can announce; anything else is dropped.
    if (!m.hmac || !hmacEqual(m.hmac, addAddrHmac(this.remoteKey, this.localKey, m.addressId, m.address, m.port))) return;
    const echo: AddAddr = { type: 'add-addr', echo: true, addressId: m.addressId, address: m.address };
    if (m.port !== undefined) echo.port = m.port;
    this.addrOut.push({ option: echo, due: true, deadline: Infinity, tries: 1 });
    sf.requestAck();
    const host = formatIp(m.address);
    const known = this.peerAddresses.get(m.addressId);
    if (known && known.host === host && known.port === m.port) return; // a repeat
    this.peerAddresses.set(m.addressId, { host, port: m.port });
    this.host.emit({ type: 'address-added', connection: this, addressId: m.addressId, host, port: m.port });
  }

  private onRemoveAddr(now: number, ids: readonly number[]): void {
    const gone = ids.filter((id) => this.peerAddresses.delete(id) || this.subflowList.some((s) => s.remoteAddressId === id));
    // RFC 8684 §3.4.2: subflows to a removed address are closed.
    for (const sf of [...this.subflowList]) if (ids.includes(sf.remoteAddressId) && sf.state !== 'closed' && this.subflowList.length > 1) sf.terminate('closed', now);
    if (gone.length > 0) this.host.emit({ type: 'address-removed', connection: this, addressIds: gone });
  }

  // --- Opening ------------------------------------------------------------------------------

  /** Client: start the initial subflow on `pathId`, optionally with 0-RTT data. */
  open(now: number, pathId: number, remotePort: number, extraPaths: readonly number[]): void {
    this.host.touch(this);
    const sf = this.newSubflow(pathId, this.host.allocatePort(pathId), remotePort, true, true, now);
    this.assignAddressId(sf, pathId, true);
    this.pendingJoins = extraPaths.map((pathId) => ({ pathId, backup: false, planned: true }));
    // The first bytes ride the SYN when there are any (RFC 8803 puts the target there).
    if (this.host.config.synData && this.sendBuf.length > 0) {
      const n = Math.min(sf.mss, this.sendBuf.length);
      this.synData = this.sendBuf.slice(0, n);
      sf.setSynData(0, this.synData);
      this.sndNxt = n;
    }
    this.racedPaths.add(pathId);
    this.host.wake(this);
  }

  /**
   * Client: the SYN on one path went unanswered (lost, or the path died without notice), so
   * another MP_CAPABLE SYN with the same key and 0-RTT bytes leaves on the next planned path.
   * Each is a separate handshake to the server; the first SYN/ACK wins and the others are
   * reset (settleRace). A dead first path then costs one initial RTO, not the whole backoff.
   */
  onHandshakeRetry(sf: Subflow, now: number): void {
    if (!this.isClient || this.state !== 'connecting' || !sf.isInitial || !this.host.config.raceHandshake) return;
    const next = this.pendingJoins.find((j) => !j.backup && !this.racedPaths.has(j.pathId));
    if (!next) return;
    this.racedPaths.add(next.pathId);
    let port: number;
    try {
      port = this.host.allocatePort(next.pathId);
    } catch {
      return; // no free port on that path
    }
    const racer = this.newSubflow(next.pathId, port, sf.remotePort, true, true, now);
    racer.localAddressId = 0; // the address id map is settled by the winner
    if (this.synData) racer.setSynData(0, this.synData);
    this.host.wake(this);
  }

  /** Client: `winner`'s SYN/ACK came first. The other SYNs' handshakes are reset; their paths are joined later instead. */
  private settleRace(now: number, winner: Subflow): void {
    this.synData = null;
    const losers = this.subflowList.filter((s) => s !== winner && s.isInitial && s.state === 'syn-sent');
    if (losers.length === 0 && this.racedPaths.size <= 1) return;
    // RFC 8684 §3.2: the initial subflow's address has id 0; it is the winner's.
    this.localAddressIds.clear();
    this.assignAddressId(winner, winner.pathId, true);
    this.pendingJoins = this.pendingJoins.filter((j) => j.pathId !== winner.pathId);
    for (const pathId of this.racedPaths) {
      if (pathId !== winner.pathId && !this.pendingJoins.some((j) => j.pathId === pathId)) this.pendingJoins.push({ pathId, backup: false, planned: true });
    }
    for (const l of losers) {
      this.pendingResets.push({ sf: l, options: [] });
      l.terminate('closed', now);
    }
  }

  /** Client: add a subflow over another path (MP_JOIN, RFC 8684 §3.2). */
  join(now: number, pathId: number, backup = false): Subflow | null {
    this.host.touch(this);
    // An MP_JOIN before the server holds our key would be refused (and one on a faster path
    // can overtake the third ACK): joins wait until the server has shown it has the key.
    if (this.state === 'connecting' || (this.state === 'established' && this.isClient && !this.peerHasKeys && !this.fallback)) {
      // A path already planned at connect() is not joined twice; other calls may add subflows
      // on one path on purpose (ndiffports).
      const dup = this.pendingJoins.some((j) => j.pathId === pathId && (j.planned || this.state === 'connecting'));
      if (!dup) this.pendingJoins.push({ pathId, backup, planned: this.state === 'connecting' });
      return null;
    }
    if (this.state !== 'established' || this.fallback || this.remoteKey === null) return null;
    if (this.subflowList.filter((s) => s.state !== 'closed').length >= MAX_SUBFLOWS) return null;
    const initial = this.subflowList[0];
    let port: number;
    try {
      port = this.host.allocatePort(pathId);
    } catch {
      return null; // the path has no free port (a fixed-port path already carries its subflow)
    }
    const sf = this.newSubflow(pathId, port, initial ? initial.remotePort : 0, true, false, now);
    sf.backup = backup;
    this.assignAddressId(sf, pathId, false);
    this.joinNonces.set(sf, { local: randomU32(this.host.random), remote: 0 });
    this.host.wake(this);
    return sf;
  }

  private startPendingJoins(now: number): void {
    if (!this.isClient || this.state !== 'established' || (!this.peerHasKeys && !this.fallback)) return;
    const joins = this.pendingJoins;
    this.pendingJoins = [];
    for (const j of joins) this.join(now, j.pathId, j.backup);
  }

  /** Server: the SYN that opens this connection. */
  acceptSyn(now: number, pathId: number, seg: TcpSegment, capable: MpCapable | null): void {
    this.host.touch(this);
    const sf = this.newSubflow(pathId, seg.dstPort, seg.srcPort, false, true, now);
    this.assignAddressId(sf, pathId, true);
    if (!capable) {
      this.enterFallback(sf);
    } else if (capable.flags & CapableFlag.CHECKSUM) {
      this.checksums = true;
    }
    this.peerWindowRight = seg.window; // RFC 7323 §2.2: never scaled on a SYN
    // Announced now, not at establishment, so data that rode the SYN is usable at once (0-RTT).
    this.host.emit({ type: 'incoming', connection: this });
    sf.onSyn(now, seg, this.host.config.synData ? 0 : null);
    this.host.wake(this);
  }

  /** Server: a SYN with MP_JOIN whose token named this connection. */
  acceptJoin(now: number, pathId: number, seg: TcpSegment, join: { backup: boolean; addressId: number; nonce: number }): Subflow | null {
    this.host.touch(this);
    if (this.state !== 'established' || this.fallback) return null;
    const pending = this.subflowList.filter((s) => !s.isInitial && s.state === 'syn-received');
    if (pending.length >= MAX_PENDING_JOINS) this.rejectSubflow(now, pending[0]!);
    if (this.subflowList.filter((s) => s.state !== 'closed').length >= MAX_SUBFLOWS) return null;
    const sf = this.newSubflow(pathId, seg.dstPort, seg.srcPort, false, false, now);
    sf.peerBackup = join.backup;
    sf.remoteAddressId = join.addressId;
    this.assignAddressId(sf, pathId, false);
    this.joinNonces.set(sf, { local: randomU32(this.host.random), remote: join.nonce });
    sf.onSyn(now, seg, null);
    this.host.wake(this);
    return sf;
  }

  private newSubflow(pathId: number, localPort: number, remotePort: number, initiator: boolean, initial: boolean, now: number): Subflow {
    const cfg = this.host.config;
    const path = this.host.pathAddresses(pathId);
    const sf = new Subflow(
      this.nextSubflowId++,
      pathId,
      localPort,
      remotePort,
      randomU32(this.host.random),
      initiator,
      initial,
      {
        mss: path?.mss ?? cfg.mss,
        initialRtoMs: cfg.initialRtoMs,
        minRtoMs: cfg.minRtoMs,
        maxRtoMs: cfg.maxRtoMs,
        maxSynRetries: cfg.maxSynRetries,
        maxRetries: cfg.maxRetries,
        potentiallyFailedAfter: cfg.potentiallyFailedAfter,
        delayedAckMs: cfg.delayedAckMs,
        keepaliveMs: cfg.keepaliveMs,
        windowScale: windowScaleFor(cfg.receiveBuffer),
        receiveLimit: cfg.receiveBuffer,
        reliableLink: path?.reliable ?? cfg.reliableLink,
      },
      this,
      this.ccFactory,
      this,
      now,
    );
    this.subflowList.push(sf);
    this.host.registerSubflow(this, sf);
    return sf;
  }

  private assignAddressId(sf: Subflow, pathId: number, initial: boolean): void {
    const addrs = this.host.pathAddresses(pathId);
    const key = addrs ? addrs.local.host : `path${pathId}`;
    let id = this.localAddressIds.get(key);
    if (id === undefined) {
      id = initial ? 0 : this.localAddressIds.size === 0 ? 1 : Math.max(...this.localAddressIds.values()) + 1;
      this.localAddressIds.set(key, id & 0xff);
    }
    sf.localAddressId = id & 0xff;
  }

  private enterFallback(sf: Subflow): void {
    this.fallback = true;
    // Subflow bytes are connection bytes from here on: an infinite mapping at offset 0.
    sf.addMapping({ rel: 0, dataOffset: 0, len: Infinity });
  }

  // --- CcGroup ------------------------------------------------------------------------------

  members(): readonly CcMember[] {
    return this.ccMembers;
  }

  private refreshMembers(): void {
    this.ccMembers = this.subflowList
      .filter((s) => s.state === 'established')
      .map((s) => ({ path: s, controller: s.cc }));
  }

  // --- Input --------------------------------------------------------------------------------

  /** A segment for one of our subflows, already parsed. */
  onSegment(now: number, sf: Subflow, seg: TcpSegment): void {
    this.host.touch(this);
    if (this.state === 'closed') return;
    this.clock = now;
    let dss: Dss | null = null;
    let capable: MpCapable | null = null;
    for (const o of seg.options) {
      if (o.kind !== 'mptcp') continue;
      const m = o.option;
      switch (m.type) {
        case 'dss':
          dss = m;
          break;
        case 'mp-capable':
          capable = m;
          break;
        case 'mp-fastclose':
          // RFC 8684 §3.5: only a peer that knows our key may close us this way.
          if (m.receiverKey === this.localKey) {
            this.terminateAll(now, 'reset');
            this.finish(now, new EngineError('ERR_MPTUN_RESET', 'peer closed the connection (MP_FASTCLOSE)'));
            return;
          }
          break;
        case 'mp-fail':
          // RFC 8684 §3.7: the peer saw a checksum fail; continue as plain TCP from that DSN.
          if (!this.fallback && sf.acceptsSequence(seg)) this.enterFallbackAfterFail(now, offsetOfDsn(this.localIdsn, m.dsn, true, this.sndUna));
          break;
        case 'mp-prio':
          if (sf.peerBackup !== m.backup && sf.acceptsSequence(seg)) {
            sf.peerBackup = m.backup;
            this.host.emit({ type: 'subflow-change', connection: this, subflowId: sf.id });
          }
          break;
        case 'mp-join-synack':
          // Meaningful only on our MP_JOIN SYN's answer; anywhere else it is ignored.
          if (sf.isInitial || sf.state !== 'syn-sent' || !(seg.flags & TcpFlag.SYN)) break;
          if (!this.checkJoinSynAck(sf, m.hmac, m.nonce, m.backup, m.addressId)) {
            this.rejectSubflow(now, sf);
            return;
          }
          break;
        case 'mp-join-ack':
          if (sf.state === 'syn-received' && !this.checkJoinAck(sf, m.hmac)) {
            this.rejectSubflow(now, sf);
            return;
          }
          break;
        case 'add-addr':
          this.onAddAddr(m, sf);
          break;
        case 'remove-addr':
          if (sf.acceptsSequence(seg)) this.onRemoveAddr(now, m.addressIds);
          break;
        default:
          break;
      }
    }

    const isSyn = (seg.flags & TcpFlag.SYN) !== 0;
    // The handshake's MPTCP part (RFC 8684 §3.1), once the SYN/ACK is known to answer our SYN.
    if (sf.isInitial && sf.answersSyn(seg)) {
      this.settleRace(now, sf);
      this.peerWindowRight = Math.max(this.peerWindowRight, seg.window);
      if (capable && capable.senderKey !== undefined && capable.version === 1) {
        this.remoteKey = capable.senderKey;
        this.remoteToken = keyToken(capable.senderKey);
        this.remoteIdsn = keyIdsn(capable.senderKey);
        if (capable.flags & CapableFlag.CHECKSUM) this.checksums = true;
      } else if (this.host.config.allowFallback) {
        this.enterFallback(sf);
      } else {
        this.pendingResets.push({ sf, options: [] });
        this.finish(now, new EngineError('ERR_MPTUN_HANDSHAKE', 'peer does not speak MPTCP and fallback is off'));
        this.host.wake(this);
        return;
      }
    }
    if (!sf.isInitial && sf.state === 'syn-sent' && isSyn && !seg.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-join-synack')) {
      this.rejectSubflow(now, sf); // a SYN/ACK to MP_JOIN must carry MP_JOIN (RFC 8684 §3.2)
      return;
    }
    const isRst = (seg.flags & TcpFlag.RST) !== 0;
    if (sf.isInitial && sf.state === 'syn-received' && !this.fallback && !isSyn && !isRst) {
      // The server learns the client's key from the third ACK; nothing is accepted before it
      // but a RST (checked against the window by the subflow, RFC 5961 §3.2).
      if (this.remoteKey === null) {
        if (!capable || capable.receiverKey !== this.localKey || capable.senderKey === undefined) return;
        this.remoteKey = capable.senderKey;
        this.remoteToken = keyToken(capable.senderKey);
        this.remoteIdsn = keyIdsn(capable.senderKey);
      }
    }
    if (!sf.isInitial && sf.state === 'syn-received' && !isSyn) {
      // An MP_JOIN subflow is not established until its third ACK's HMAC checked out.
      const ok = seg.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-join-ack');
      if (!ok) return;
    }
    if (dss && dss.mapping && dss.mapping.length === 0 && !dss.dataFin && this.remoteKey !== null) {
      // An infinite mapping (RFC 8684 §3.7): subflow bytes are data bytes from here on.
      const off = offsetOfDsn(this.remoteIdsn, dss.mapping.dsn, dss.mapping.dsn64, this.reasm.rcvNxt);
      sf.addInfiniteMapping(dss.mapping.subflowSeq, off);
      if (!this.fallback) this.enterFallbackAfterFail(now, this.sndUna); // our side's mapping starts at what is unacknowledged
      sf.onSegment(now, seg, null);
    } else if (dss && this.remoteKey !== null && (!this.fallback || dss.mapping)) {
      // After a fallback the peer's data sent before it fell back still carries mappings.
      if (this.applyDss(now, sf, seg, dss)) return;
    } else {
      // No DSS: the window is relative to what the peer last acknowledged (RFC 8684 §3.3.4).
      if (!isSyn && sf.state !== 'syn-sent') this.widenPeerWindow(this.sndUna + sf.scaleWindow(seg.window));
      sf.onSegment(now, seg, null);
    }
    this.afterInput(now, sf);
  }

  /** Data ACK, window, mapping and DATA_FIN of one DSS option (RFC 8684 §3.3). Returns true when the segment was dropped. */
  private applyDss(now: number, sf: Subflow, seg: TcpSegment, dss: Dss): boolean {
    if (dss.dataAck !== undefined) {
      const ack = offsetOfDsn(this.localIdsn, dss.dataAck, dss.dataAck64, this.sndUna);
      if (!this.peerHasKeys) {
        this.peerHasKeys = true;
        // A DATA_FIN that waited for room (our ACKs carried the key until now) can go.
        if (this.bareFinDue) sf.requestAck();
        this.startPendingJoins(now);
      }
      if (ack > this.sndUna && ack <= this.sndNxt + (this.finSent ? 1 : 0)) this.onDataAck(now, ack);
      // RFC 8684 §3.3.4: the window field is relative to the data ACK.
      if (ack >= this.sndUna - 1) this.widenPeerWindow(ack + sf.scaleWindow(seg.window));
    }
    let mapping: { subflowSeq: number; dataOffset: number; len: number } | null = null;
    const m = dss.mapping;
    if (m) {
      const off = offsetOfDsn(this.remoteIdsn, m.dsn, m.dsn64, this.reasm.rcvNxt);
      let len = m.length;
      if (dss.dataFin) {
        // RFC 8684 §3.3.3: the DATA_FIN takes one octet at the end of the mapping.
        this.peerFinOffset = off + len - 1;
        len -= 1;
      }
      if (len > 0 && m.subflowSeq !== 0) {
        if (this.checksums && m.checksum !== undefined && seg.payload.length === len) {
          if (dssChecksum(m.dsn, m.subflowSeq, m.length, seg.payload) !== m.checksum) {
            // A middlebox changed the payload: drop it, unacknowledged (RFC 8684 §3.7).
            this.onChecksumFailure(now, sf, m.dsn);
            return true;
          }
        }
        mapping = { subflowSeq: m.subflowSeq, dataOffset: off, len };
      }
    }
    sf.onSegment(now, seg, mapping);
    this.checkPeerFin(now);
    return false;
  }

  /** After a subflow processed input: handshake results, closes, peer FIN. */
  private afterInput(now: number, sf: Subflow): void {
    if (this.fallback && sf.peerFinReceived && this.peerFinOffset < 0) {
      // Plain TCP: the FIN is the end of the stream.
      this.peerFinOffset = this.reasm.rcvNxt;
    }
    this.checkPeerFin(now);
    this.maybeFinishClose(now);
    this.host.wake(this);
  }

  private checkPeerFin(now: number): void {
    if (this.peerFinOffset >= 0 && !this.endEmitted && this.reasm.rcvNxt >= this.peerFinOffset) {
      this.endEmitted = true;
      if (!this.fallback) this.reasm.skip(1); // the DATA_FIN's octet, so our DATA_ACK covers it
      this.host.emit({ type: 'end', connection: this });
      for (const s of this.subflowList) s.requestAck();
      this.maybeFinishClose(now);
    }
  }

  private widenPeerWindow(right: number): void {
    if (right > this.peerWindowRight) this.peerWindowRight = right;
  }

  private onDataAck(now: number, ack: number): void {
    this.armIdle(now);
    const dataEnd = Math.min(ack, this.sendBuf.end);
    this.sndUna = ack;
    this.sendBuf.release(dataEnd);
    if (this.finOffset >= 0 && ack > this.finOffset) this.bareFinDeadline = Infinity;
    if (this.writeBlocked && this.sendBuf.length < this.host.config.sendBuffer) {
      this.writeBlocked = false;
      this.host.emit({ type: 'writable', connection: this });
    }
    this.maybeFinishClose(now);
  }

  private checkJoinSynAck(sf: Subflow, hmac: Uint8Array, nonce: number, backup: boolean, addressId: number): boolean {
    const n = this.joinNonces.get(sf);
    if (!n || this.remoteKey === null || sf.state !== 'syn-sent') return false;
    n.remote = nonce;
    sf.peerBackup = backup;
    sf.remoteAddressId = addressId;
    // RFC 8684 §3.2: the listener proves it knows both keys.
    return hmacEqual(hmac, joinSynAckHmac(this.remoteKey, this.localKey, nonce, n.local));
  }

  private checkJoinAck(sf: Subflow, hmac: Uint8Array): boolean {
    const n = this.joinNonces.get(sf);
    if (!n || this.remoteKey === null) return false;
    return hmacEqual(hmac, joinAckHmac(this.remoteKey, this.localKey, n.remote, n.local));
  }

  /** Refuse a subflow: RST with MP_TCPRST (RFC 8684 §3.6). */
  private rejectSubflow(now: number, sf: Subflow): void {
    this.pendingResets.push({ sf, options: [mptcp({ type: 'mp-tcprst', flags: 0, reason: TcpRstReason.MPTCP_ERROR })] });
    sf.terminate('reset', now);
    this.host.wake(this);
  }

  /**
   * RFC 8684 §3.7: a DSS checksum failed. With other subflows the damaged one is reset and
   * its data goes elsewhere; a lone subflow asks the sender (MP_FAIL) to fall back to TCP.
   */
  private onChecksumFailure(now: number, sf: Subflow, dsn: bigint): void {
    const others = this.subflowList.some((s) => s !== sf && s.state === 'established');
    if (others) {
      this.pendingResets.push({ sf, options: [mptcp({ type: 'mp-tcprst', flags: 0, reason: TcpRstReason.MIDDLEBOX_INTERFERENCE })] });
      sf.terminate('reset', now);
    } else if (this.mpFailDsn === null) {
      this.mpFailDsn = dsn;
      sf.requestAck();
    }
    this.host.wake(this);
  }

  /** Continue as plain TCP over the one remaining subflow, data from `from` on unmapped (RFC 8684 §3.7). */
  private enterFallbackAfterFail(now: number, from: number): void {
    this.fallback = true;
    this.checksums = false;
    this.infiniteFrom = from;
    this.mpFailDsn = null;
    const keep = this.subflowList.find((s) => s.state === 'established');
    for (const s of [...this.subflowList]) if (s !== keep) s.terminate('reset', now);
    this.host.wake(this);
  }

  // --- SubflowOwner -------------------------------------------------------------------------

  mptcpOptions(sf: Subflow, ctx: OutgoingContext): TcpOption[] {
    if (this.fallback) {
      // After MP_FAIL, data segments announce the infinite mapping until it is acknowledged.
      const seg = ctx.segment;
      if (ctx.kind === 'data' && seg && this.infiniteFrom >= 0 && seg.dataOffset >= 0) {
        this.infiniteCarriers.add(seg);
        return [mptcp({ type: 'dss', dataAck64: true, dataFin: false, mapping: { dsn: dsnOf(this.localIdsn, seg.dataOffset), dsn64: true, subflowSeq: toDssSubflowSeq(seg.rel), length: 0 } })];
      }
      return [];
    }
    const flags = CapableFlag.HMAC_SHA256 | (this.checksums ? CapableFlag.CHECKSUM : 0);
    switch (ctx.kind) {
      case 'syn':
        if (sf.isInitial) return [mptcp({ type: 'mp-capable', version: 1, flags })];
        return [mptcp({ type: 'mp-join-syn', backup: sf.backup, addressId: sf.localAddressId, token: this.remoteToken, nonce: this.joinNonces.get(sf)!.local })];
      case 'syn-ack': {
        if (sf.isInitial) return [mptcp({ type: 'mp-capable', version: 1, flags, senderKey: this.localKey })];
        const n = this.joinNonces.get(sf)!;
        const hmac = joinSynAckHmac(this.localKey, this.remoteKey!, n.local, n.remote);
        return [mptcp({ type: 'mp-join-synack', backup: sf.backup, addressId: sf.localAddressId, hmac, nonce: n.local })];
      }
      case 'third-ack':
        if (sf.isInitial) return [mptcp({ type: 'mp-capable', version: 1, flags, senderKey: this.localKey, receiverKey: this.remoteKey! })];
        {
          const n = this.joinNonces.get(sf)!;
          return [mptcp({ type: 'mp-join-ack', hmac: joinAckHmac(this.localKey, this.remoteKey!, n.local, n.remote) })];
        }
      case 'ack': {
        // Until the server shows it has our key, every pure ACK repeats it (RFC 8684 §3.1).
        if (this.isClient && sf.isInitial && !this.peerHasKeys && this.remoteKey !== null) {
          return [mptcp({ type: 'mp-capable', version: 1, flags, senderKey: this.localKey, receiverKey: this.remoteKey })];
        }
        const out: TcpOption[] = [];
        let room = ctx.room;
        const dss = this.dssFor(null);
        if (this.bareFinDue) {
          // A DATA_FIN with no data: subflow sequence 0, length 1 (RFC 8684 §3.3.3).
          this.bareFinDue = false;
          dss.dataFin = true;
          dss.mapping = { dsn: dsnOf(this.localIdsn, this.finOffset), dsn64: true, subflowSeq: 0, length: 1 };
          if (this.checksums) dss.mapping.checksum = dssChecksum(dss.mapping.dsn, 0, 1, EMPTY);
          this.bareFinDeadline = this.subflowRto(sf);
        }
        out.push(mptcp(dss));
        room -= dss.mapping ? (this.checksums ? 28 : 26) : 12;
        if (this.mpFailDsn !== null && room >= 12) {
          out.push(mptcp({ type: 'mp-fail', dsn: this.mpFailDsn }));
          room -= 12;
        }
        if (this.prioDue.has(sf) && room >= 3) {
          this.prioDue.delete(sf);
          out.push(mptcp({ type: 'mp-prio', backup: sf.backup }));
          room -= 3;
        }
        const addr = this.addrOut.find((a) => a.due);
        if (addr) {
          const len = mptcpOptionLength(addr.option);
          // An IPv6 announcement may not fit beside the DSS: it then goes without it.
          if (len > room && len <= room + 12 && !dss.mapping && this.mpFailDsn === null && out.length === 1) {
            out.pop();
            room += 12;
          }
          if (len <= room) {
            out.push(mptcp(addr.option));
            room -= len;
            addr.due = false;
            if (addr.option.echo) this.addrOut.splice(this.addrOut.indexOf(addr), 1);
            else addr.deadline = this.clock + Math.max(this.host.config.minRtoMs, sf.rtt.rto) * 2;
            // One announcement per ACK: the next one asks for the next ACK, or it would wait
            // for a pure ACK a subflow busy sending data may not send for a long time.
            if (this.addrOut.some((a) => a.due)) sf.requestAck();
          }
        }
        if (this.removeOut.length > 0 && room >= 4) {
          const ids = this.removeOut.splice(0, Math.min(this.removeOut.length, room - 3));
          out.push(mptcp({ type: 'remove-addr', addressIds: ids }));
        }
        return out;
      }
      case 'data':
        return [mptcp(this.dssFor(ctx.segment!, sf))];
      case 'rst':
        return [];
    }
  }

  private dssFor(seg: SentSegment | null, sf?: Subflow): Dss {
    const dss: Dss = { type: 'dss', dataAck64: true, dataFin: false };
    if (this.remoteKey !== null) dss.dataAck = dsnOf(this.remoteIdsn, this.reasm.rcvNxt);
    if (seg && sf && seg.dataOffset >= 0 && seg.data.length > 0) {
      const dsn = dsnOf(this.localIdsn, seg.dataOffset);
      const subflowSeq = toDssSubflowSeq(seg.rel);
      const length = seg.data.length + (seg.dataFin ? 1 : 0);
      dss.mapping = { dsn, dsn64: true, subflowSeq, length };
      if (this.checksums) dss.mapping.checksum = dssChecksum(dsn, subflowSeq, length, seg.data);
      dss.dataFin = seg.dataFin;
    }
    return dss;
  }

  receiveWindow(): number {
    return this.reasm.window();
  }

  deliver(sf: Subflow, dataOffset: number, data: Uint8Array): void {
    const added = this.reasm.insert(dataOffset, data);
    if (added < 0) {
      // Beyond any window we offered (RFC 8684 §3.3.4): a broken or forged mapping. Dropped,
      // so one forged segment cannot end the connection.
      this.outOfWindowDrops++;
      return;
    }
    if (added > 0) this.armIdle(this.clock);
    if (added > 0 && !this.readableSignalled) {
      this.readableSignalled = true;
      this.host.emit({ type: 'readable', connection: this });
    }
  }

  onEstablished(sf: Subflow, now: number): void {
    this.refreshMembers();
    // The listener now has the client's key: a DSS data ACK right away tells the client so
    // (it stops repeating its key, RFC 8684 §3.1) even if we have nothing left to send.
    if (!this.isClient && sf.isInitial) sf.requestAck();
    if (this.state === 'connecting') {
      this.state = 'established';
      if (this.isClient) {
        this.host.emit({ type: 'connected', connection: this });
        this.startPendingJoins(now);
      }
    }
    this.host.emit({ type: 'subflow-up', connection: this, subflowId: sf.id });
    this.host.wake(this);
  }

  onAcked(sf: Subflow, segments: readonly SentSegment[], now: number): void {
    if (!this.fallback) return;
    // Plain TCP: the subflow's ACK is the data ACK.
    let top = this.sndUna;
    for (const s of segments) if (s.dataOffset >= 0) top = Math.max(top, s.dataOffset + s.data.length);
    // Once a segment that announced the infinite mapping is acknowledged, the peer has it.
    if (this.infiniteFrom >= 0 && segments.some((s) => this.infiniteCarriers.has(s))) this.infiniteFrom = -1;
    if (top > this.sndUna) this.onDataAck(now, top);
  }

  onRto(sf: Subflow, consecutive: number, now: number): void {
    // RFC 8684 §3.3.6: data stranded on a failing subflow goes out again on the others.
    if (consecutive === 1 && this.subflowList.some((s) => s !== sf && s.state === 'established')) this.rescue(sf);
  }

  onClosed(sf: Subflow, reason: SubflowCloseReason, now: number): void {
    this.refreshMembers();
    this.host.unregisterSubflow(this, sf);
    this.joinNonces.delete(sf);
    this.prioDue.delete(sf);
    if (this.state !== 'closed') this.rescue(sf);
    if (this.state !== 'closed') this.host.emit({ type: 'subflow-down', connection: this, subflowId: sf.id, reason });
    const alive = this.subflowList.filter((s) => s.state !== 'closed');
    const idx = this.subflowList.indexOf(sf);
    if (idx >= 0) this.subflowList.splice(idx, 1);
    if (this.state === 'closed') return;
    if (alive.length === 0) {
      if (this.closeComplete()) this.finish(now);
      else if (reason === 'reset') this.finish(now, new EngineError('ERR_MPTUN_RESET', 'peer reset the connection'));
      else if (reason === 'handshake-failed') this.finish(now, new EngineError('ERR_MPTUN_HANDSHAKE', 'the handshake did not complete'));
      else if (reason === 'path-gone') this.finish(now, new EngineError('ERR_MPTUN_NO_PATH', 'no path left for the connection'));
      else this.finish(now, new EngineError('ERR_MPTUN_TIMEOUT', 'every subflow timed out'));
    }
    this.host.wake(this);
  }

  /** Queue the data a subflow carries but the peer has not acknowledged for other subflows. */
  private rescue(sf: Subflow): void {
    if (this.fallback) return;
    for (const s of sf.outstanding()) {
      if (s.dataOffset < 0 || s.data.length === 0) continue;
      const end = s.dataOffset + s.data.length;
      if (end <= this.sndUna) continue;
      this.reinject.push({ start: Math.max(s.dataOffset, this.sndUna), end, avoid: sf.id });
    }
    this.reinject.sort((a, b) => a.start - b.start);
  }

  // --- Output -------------------------------------------------------------------------------

  /** The next segment to send and its path, or null. */
  poll(now: number): { sf: Subflow; seg: TcpSegment } | null {
    this.host.touch(this);
    const r = this.pendingResets.shift();
    if (r) return { sf: r.sf, seg: r.sf.buildReset(r.options) };
    if (this.state === 'closed') return null;
    this.clock = now;
    this.scheduleData(now);
    if (this.bareFinDeadline <= now && this.finOffset >= 0 && this.sndUna <= this.finOffset) {
      this.bareFinDeadline = Infinity;
      this.bareFinDue = true;
      this.bestSubflow()?.requestAck();
    }
    // Round-robin over subflows so one busy path does not starve another's ACKs.
    const n = this.subflowList.length;
    for (let i = 0; i < n; i++) {
      const sf = this.subflowList[(this.rr + i) % n]!;
      const seg = sf.poll(now);
      if (seg) {
        this.rr = (this.rr + i + 1) % n;
        return { sf, seg };
      }
    }
    this.reapFinished(now);
    return null;
  }

  private rr = 0;

  /** Hand new (or rescued) data to subflows while the scheduler finds room. */
  private scheduleData(now: number): void {
    if (this.state !== 'established' && !this.subflowList.some((sf) => sf.mayCarryData)) return;
    for (let guard = 0; guard < 4096; guard++) {
      const chunk = this.nextChunk();
      if (!chunk) break;
      const candidates = this.schedCandidates(chunk.avoid);
      if (candidates.length === 0) break;
      const input = {
        subflows: candidates,
        unsentBytes: this.sendBuf.end - this.sndNxt,
        peerWindowRemaining: Math.max(0, this.peerWindowRight - this.sndNxt),
      };
      const ids = this.scheduler.pick(input);
      if (ids.length === 0) break;
      let mss = Infinity;
      const chosen: Subflow[] = [];
      for (const id of ids) {
        const sf = this.subflowList.find((s) => s.id === id);
        if (sf && sf.sendable > 0) {
          chosen.push(sf);
          mss = Math.min(mss, sf.mss);
        }
      }
      if (chosen.length === 0) break;
      const len = Math.min(mss, chunk.end - chunk.start);
      const data = this.sendBuf.slice(chunk.start, len);
      // Plain TCP has no DATA_FIN: its FIN goes out after the data instead. Rescued data that
      // ends at the DATA_FIN carries it again: the subflow it rode on is failing (RFC 8684 §3.3.3).
      const isFin = (!chunk.rescued || this.finSent) && !this.fallback && this.finOffset >= 0 && chunk.start + len === this.finOffset;
      for (const sf of chosen) sf.enqueue(chunk.start, data, isFin);
      if (chunk.rescued) this.consumeReinject(len);
      else {
        this.sndNxt += len;
        if (isFin) this.finSent = true;
      }
    }
    // A DATA_FIN with no data left to carry it goes on its own (RFC 8684 §3.3.3).
    if (this.state === 'established' && this.finOffset >= 0 && !this.finSent && this.sndNxt === this.finOffset && this.reinject.length === 0) {
      this.finSent = true;
      if (this.fallback) {
        for (const sf of this.subflowList) sf.close();
      } else {
        this.bareFinDue = true;
        this.bestSubflow()?.requestAck();
      }
    }
    this.opportunisticRetransmit();
    this.updatePersist(now);
    if (this.sndNxt === this.sendBuf.end) for (const sf of this.subflowList) sf.markAppLimited();
  }

  /**
   * Opportunistic retransmission (Raiciu et al., "How hard can it be?", NSDI 2012 §4.2):
   * when the peer's receive window stops new data and a faster subflow has room, send the
   * segment holding up the window's left edge again on that subflow.
   */
  private opportunisticRetransmit(): void {
    if (this.fallback || this.sndNxt < this.peerWindowRight || this.sndNxt >= this.sendBuf.end) return;
    if (this.sndUna >= this.sndNxt || this.opportunisticAt === this.sndUna) return;
    let blocker: Subflow | undefined;
    for (const sf of this.subflowList) {
      for (const s of sf.outstanding()) {
        if (s.dataOffset <= this.sndUna && this.sndUna < s.dataOffset + s.data.length) blocker = sf;
        if (blocker || s.dataOffset > this.sndUna) break;
      }
      if (blocker) break;
    }
    let fast: Subflow | undefined;
    for (const sf of this.subflowList) {
      if (sf.state !== 'established' || sf.potentiallyFailed || sf.sendable <= 0 || sf === blocker) continue;
      if (!fast || sf.srtt < fast.srtt) fast = sf;
    }
    if (!fast || (blocker && blocker.state === 'established' && !blocker.potentiallyFailed && fast.srtt >= blocker.srtt)) return;
    const len = Math.min(fast.mss, this.sndNxt - this.sndUna);
    fast.enqueue(this.sndUna, this.sendBuf.slice(this.sndUna, len));
    this.opportunisticAt = this.sndUna;
    this.opportunisticRetransmissions++;
  }

  /**
   * The persist timer (RFC 9293 §3.8.6.1, at the data level of RFC 8684 §3.3.4): data waits,
   * the peer's window is closed and nothing is in flight, so no ACK will come by itself; a
   * window update the peer sent may have been lost. Probe, backing off, until it opens.
   */
  private updatePersist(now: number): void {
    const blocked =
      this.state === 'established' &&
      this.sndNxt >= this.peerWindowRight &&
      this.sndNxt < this.sendBuf.end &&
      this.subflowList.every((sf) => sf.bytesInFlight === 0);
    if (!blocked) {
      this.persistDeadline = Infinity;
      this.persistBackoff = 1;
    } else if (this.persistDeadline === Infinity) {
      this.persistDeadline = now + this.persistInterval();
    }
  }

  private persistInterval(): number {
    const sf = this.bestSubflow();
    const rto = Math.max(this.host.config.minRtoMs, sf ? sf.rtt.rto : this.host.config.initialRtoMs);
    return Math.min(rto * this.persistBackoff, PERSIST_MAX_MS);
  }

  private persistDeadline = Infinity;
  private persistBackoff = 1;
  private opportunisticAt = -1;
  /** Segments sent again on a faster subflow to unblock the receive window. */
  opportunisticRetransmissions = 0;

  private nextChunk(): { start: number; end: number; avoid: number; rescued: boolean } | null {
    while (this.reinject.length > 0) {
      const r = this.reinject[0]!;
      const start = Math.max(r.start, this.sndUna);
      if (start >= r.end || start >= this.sndNxt) {
        this.reinject.shift();
        continue;
      }
      return { start, end: Math.min(r.end, this.sndNxt), avoid: r.avoid, rescued: true };
    }
    const end = Math.min(this.sendBuf.end, this.peerWindowRight);
    if (this.sndNxt >= end) return null;
    return { start: this.sndNxt, end, avoid: -1, rescued: false };
  }

  private consumeReinject(len: number): void {
    const r = this.reinject[0]!;
    r.start = Math.max(r.start, this.sndUna) + len;
    if (r.start >= r.end) this.reinject.shift();
  }

  private schedCandidates(avoid: number): SchedSubflow[] {
    const out: SchedSubflow[] = [];
    for (const sf of this.subflowList) {
      if (!sf.mayCarryData || sf.id === avoid) continue;
      out.push({
        id: sf.id,
        backup: sf.backup || sf.peerBackup,
        srtt: sf.srtt,
        rttVar: sf.rttVar,
        cwnd: sf.cwnd,
        bytesInFlight: sf.bytesInFlight,
        mss: sf.mss,
        sendable: sf.sendable,
        potentiallyFailed: sf.potentiallyFailed,
      });
    }
    return out;
  }

  private bestSubflow(): Subflow | undefined {
    let best: Subflow | undefined;
    for (const sf of this.subflowList) {
      if (sf.state !== 'established') continue;
      if (!best || (sf.potentiallyFailed ? 1 : 0) < (best.potentiallyFailed ? 1 : 0) || sf.srtt < best.srtt) best = sf;
    }
    return best;
  }

  /** When to send a bare DATA_FIN again if its DATA_ACK has not come. */
  private subflowRto(sf: Subflow): number {
    return this.clock + Math.max(sf.rtt.rto, this.host.config.minRtoMs) * 2;
  }

  private requestAck(): void {
    for (const sf of this.subflowList) if (sf.state === 'established') sf.requestAck();
    this.host.wake(this);
  }

  /** Earliest time this connection needs handleTimeout. */
  nextDeadline(): number {
    let t = Math.min(this.idleDeadline, this.bareFinDeadline, this.lingerDeadline, this.persistDeadline);
    for (const a of this.addrOut) if (a.deadline < t) t = a.deadline;
    for (const sf of this.subflowList) {
      const d = sf.nextDeadline();
      if (d < t) t = d;
    }
    return t;
  }

  handleTimeout(now: number): void {
    this.host.touch(this);
    if (this.state === 'closed') return;
    this.clock = now;
    if (now >= this.idleDeadline) {
      this.abort(now, new EngineError('ERR_MPTUN_IDLE', 'idle timeout'));
      return;
    }
    if (now >= this.lingerDeadline) {
      // The peer never finished the subflow FIN exchange: the data is delivered, so close.
      this.lingerDeadline = Infinity;
      for (const sf of [...this.subflowList]) sf.terminate('closed', now);
      return;
    }
    for (const sf of [...this.subflowList]) if (sf.nextDeadline() <= now) sf.handleTimeout(now);
    if (now >= this.persistDeadline) {
      this.bestSubflow()?.probe();
      this.persistBackoff = Math.min(this.persistBackoff * 2, 64);
      this.persistDeadline = now + this.persistInterval();
    }
    for (const a of this.addrOut) {
      if (a.deadline > now) continue;
      a.deadline = Infinity;
      if (a.tries++ >= ADD_ADDR_TRIES) this.addrOut.splice(this.addrOut.indexOf(a), 1);
      else {
        a.due = true;
        this.requestAck();
      }
      break; // the list changed; the rest wait for the next call
    }
    this.host.wake(this);
  }

  wantsToSend(now: number): boolean {
    if (this.pendingResets.length > 0) return true;
    if (this.state === 'closed') return false;
    if (this.nextChunk() !== null || (this.finOffset >= 0 && !this.finSent)) return true;
    for (const sf of this.subflowList) if (sf.wantsToSend(now)) return true;
    return false;
  }

  // --- Closing ------------------------------------------------------------------------------

  private closeComplete(): boolean {
    const ourFinDone = this.finOffset >= 0 && this.sndUna > this.finOffset - (this.fallback ? 1 : 0);
    return ourFinDone && this.endEmitted;
  }

  /** RFC 8684 §3.3.3: once both DATA_FINs are acknowledged, close the subflows. */
  private maybeFinishClose(now: number): void {
    if (this.state === 'closed') return;
    if (!this.fallback) {
      if (!this.closeComplete()) return;
      for (const sf of [...this.subflowList]) {
        if (sf.state === 'established') sf.close();
        else sf.terminate('closed', now); // still handshaking: nothing to close politely
      }
    }
    if (this.lingerDeadline === Infinity && this.closeComplete()) this.lingerDeadline = now + CLOSE_LINGER_MS;
  }

  /** Subflows whose FIN exchange is over leave once their last ACK is out. */
  private reapFinished(now: number): void {
    for (const sf of [...this.subflowList]) {
      if (sf.finished && !sf.wantsToSend(now) && (!this.fallback || this.endEmitted)) sf.terminate('closed', now);
    }
  }

  private terminateAll(now: number, reason: SubflowCloseReason): void {
    for (const sf of [...this.subflowList]) sf.terminate(reason, now);
  }

  /** Move to closed (once) and tell the application. */
  private finish(now: number, error?: EngineError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const err = error ?? this.closeError;
    this.closeError = err;
    for (const sf of [...this.subflowList]) {
      if (sf.state !== 'closed') {
        sf.terminate('aborted', now);
      }
    }
    this.host.emit(err ? { type: 'closed', connection: this, error: err } : { type: 'closed', connection: this });
    this.host.connectionClosed(this);
  }

  private armIdle(now: number): void {
    const t = this.host.config.idleTimeoutMs;
    this.idleDeadline = t > 0 ? now + t : Infinity;
  }

  /** Why the connection ended, if it did with an error. */
  get error(): EngineErrorCode | undefined {
    return this.closeError?.code;
  }
}

const EMPTY = new Uint8Array(0);

function mptcp(option: MptcpOption): TcpOption {
  return { kind: 'mptcp', option };
}

function randomKey(r: RandomSource): bigint {
  const b = new Uint8Array(8);
  r.fill(b);
  return new DataView(b.buffer).getBigUint64(0);
}

/** Smallest shift that lets the window field express the whole buffer (RFC 7323 §2.3). */
function windowScaleFor(buffer: number): number {
  let shift = 0;
  while (shift < 14 && buffer / 2 ** shift > 0xffff) shift++;
  return shift;
}
