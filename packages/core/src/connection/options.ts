import type { ResolvedConfig } from '../config.js';
import { dssChecksum } from '../crypto/checksum.js';
import { joinAckHmac, joinSynAckHmac } from '../crypto/hmac.js';
import type { SentSegment } from '../subflow/sent-segment.js';
import { dsnOf, toDssSubflowSeq } from '../subflow/seq.js';
import type { OutgoingContext, Subflow } from '../subflow/subflow.js';
import { mptcpOptionLength } from '../wire/mptcp/codec.js';
import { CapableFlag, type Dss, type MptcpOption } from '../wire/mptcp/option.js';
import type { TcpOption } from '../wire/tcp-option.js';
import type { Addresses } from './addresses.js';
import type { Fallback } from './fallback.js';
import type { Handshake } from './handshake.js';
import type { ReceivePath } from './receive-path.js';
import type { SendPath } from './send-path.js';

const EMPTY = new Uint8Array(0);

export function mptcp(option: MptcpOption): TcpOption {
  return { kind: 'mptcp', option };
}

/**
 * The MPTCP options each outgoing segment carries (RFC 8684 §3): MP_CAPABLE (§3.1) and
 * MP_JOIN (§3.2) on handshakes, DSS with data ACK and mapping (§3.3) on data, and on pure
 * ACKs whatever signalling fits the room left: a bare DATA_FIN (§3.3.3), MP_FAIL (§3.7),
 * MP_PRIO (§3.3.8), ADD_ADDR (§3.4.1), REMOVE_ADDR (§3.4.2). Option sizes come from the
 * codec, so what is counted here is what gets written.
 */
export class OptionBuilder {
  constructor(
    private readonly isClient: boolean,
    private readonly config: ResolvedConfig,
    private readonly handshake: Handshake,
    private readonly addresses: Addresses,
    private readonly fallback: Fallback,
    private readonly send: SendPath,
    private readonly receive: ReceivePath,
  ) {}

  build(sf: Subflow, ctx: OutgoingContext, now: number): TcpOption[] {
    const hs = this.handshake;
    if (this.fallback.active) {
      // After MP_FAIL, data segments announce the infinite mapping until it is acknowledged.
      const seg = ctx.segment;
      if (ctx.kind === 'data' && seg && this.fallback.announcesInfiniteMapping(seg)) {
        return [mptcp({ type: 'dss', dataAck64: true, dataFin: false, mapping: { dsn: dsnOf(hs.localIdsn, seg.dataOffset), dsn64: true, subflowSeq: toDssSubflowSeq(seg.rel), length: 0 } })];
      }
      // RFC 8684 §3.7: after falling back on unmapped data, MP_FAIL asks the peer to follow;
      // until it has, its data still counts on our DATA_ACK (its bytes map one to one).
      const failDsn = this.fallback.mpFailDsn;
      if (ctx.kind === 'ack' && failDsn !== null) return [mptcp(this.dssFor(null)), mptcp({ type: 'mp-fail', dsn: failDsn })];
      return [];
    }
    const flags =
      CapableFlag.HMAC_SHA256 |
      (this.fallback.checksums ? CapableFlag.CHECKSUM : 0) |
      (this.config.refuseJoinsToInitialAddress ? CapableFlag.NO_JOIN_TO_SOURCE : 0); // RFC 8684 §3.1 C bit
    switch (ctx.kind) {
      case 'syn':
        if (sf.isInitial) return [mptcp({ type: 'mp-capable', version: 1, flags })];
        return [mptcp({ type: 'mp-join-syn', backup: sf.backup, addressId: sf.localAddressId, token: hs.remoteToken, nonce: hs.noncesOf(sf)!.local })];
      case 'syn-ack': {
        if (sf.isInitial) return [mptcp({ type: 'mp-capable', version: 1, flags, senderKey: hs.localKey })];
        const n = hs.noncesOf(sf)!;
        const hmac = joinSynAckHmac(hs.localKey, hs.remoteKey!, n.local, n.remote);
        return [mptcp({ type: 'mp-join-synack', backup: sf.backup, addressId: sf.localAddressId, hmac, nonce: n.local })];
      }
      case 'third-ack':
        if (sf.isInitial) return [mptcp({ type: 'mp-capable', version: 1, flags, senderKey: hs.localKey, receiverKey: hs.remoteKey! })];
        {
          const n = hs.noncesOf(sf)!;
          return [mptcp({ type: 'mp-join-ack', hmac: joinAckHmac(hs.localKey, hs.remoteKey!, n.local, n.remote) })];
        }
      case 'ack':
        // Until the server shows it has our key, every pure ACK repeats it (RFC 8684 §3.1).
        if (this.isClient && sf.isInitial && !hs.peerHasKeys && hs.remoteKey !== null) {
          return [mptcp({ type: 'mp-capable', version: 1, flags, senderKey: hs.localKey, receiverKey: hs.remoteKey })];
        }
        return this.pureAck(sf, ctx.room, now);
      case 'data':
        return [mptcp(this.dssFor(ctx.segment!))];
      case 'rst':
        return [];
    }
  }

  /** A pure ACK's options: the DSS first, then signalling while it fits in `room`. */
  private pureAck(sf: Subflow, room: number, now: number): TcpOption[] {
    const out: TcpOption[] = [];
    const dss = this.dssFor(null);
    if (this.send.takeBareFin(sf)) {
      // A DATA_FIN with no data: subflow sequence 0, length 1 (RFC 8684 §3.3.3).
      dss.dataFin = true;
      dss.mapping = { dsn: dsnOf(this.handshake.localIdsn, this.send.finOffset), dsn64: true, subflowSeq: 0, length: 1 };
      if (this.fallback.checksums) dss.mapping.checksum = dssChecksum(dss.mapping.dsn, 0, 1, EMPTY);
      this.send.armBareFinRetry(this.retryAt(sf, now));
    }
    out.push(mptcp(dss));
    const dssLength = mptcpOptionLength(dss);
    room -= dssLength;
    const failDsn = this.fallback.mpFailDsn;
    if (failDsn !== null) {
      const fail: MptcpOption = { type: 'mp-fail', dsn: failDsn };
      if (room >= mptcpOptionLength(fail)) {
        out.push(mptcp(fail));
        room -= mptcpOptionLength(fail);
      }
    }
    if (this.addresses.prioPending(sf)) {
      const prio: MptcpOption = { type: 'mp-prio', backup: sf.backup };
      if (room >= mptcpOptionLength(prio)) {
        this.addresses.prioSent(sf);
        out.push(mptcp(prio));
        room -= mptcpOptionLength(prio);
      }
    }
    const addr = this.addresses.dueAnnouncement();
    if (addr) {
      const len = mptcpOptionLength(addr.option);
      // An IPv6 announcement may not fit beside the DSS: it then goes without it.
      if (len > room && len <= room + dssLength && !dss.mapping && failDsn === null && out.length === 1) {
        out.pop();
        room += dssLength;
      }
      if (len <= room) {
        out.push(mptcp(addr.option));
        room -= len;
        this.addresses.sent(addr, this.retryAt(sf, now));
        // One announcement per ACK: the next one asks for the next ACK, or it would wait for a
        // pure ACK that a subflow busy sending data may not send for a long time.
        if (this.addresses.dueAnnouncement()) sf.requestAck();
      }
    }
    const ids = this.addresses.takeRemovals(room - REMOVE_ADDR_HEADER);
    if (ids) out.push(mptcp({ type: 'remove-addr', addressIds: ids }));
    return out;
  }

  /** A DSS with our data ACK, and for a data segment its mapping (RFC 8684 §3.3). */
  private dssFor(seg: SentSegment | null): Dss {
    const hs = this.handshake;
    const dss: Dss = { type: 'dss', dataAck64: true, dataFin: false };
    if (hs.remoteKey !== null) dss.dataAck = dsnOf(hs.remoteIdsn, this.receive.rcvNxt);
    if (seg && seg.dataOffset >= 0 && seg.data.length > 0) {
      const dsn = dsnOf(hs.localIdsn, seg.dataOffset);
      const subflowSeq = toDssSubflowSeq(seg.rel);
      const length = seg.data.length + (seg.dataFin ? 1 : 0);
      dss.mapping = { dsn, dsn64: true, subflowSeq, length };
      if (this.fallback.checksums) dss.mapping.checksum = dssChecksum(dsn, subflowSeq, length, seg.data);
      dss.dataFin = seg.dataFin;
    }
    return dss;
  }

  /** When a signal sent on `sf` without an answer is due again: two of its RTOs. */
  private retryAt(sf: Subflow, now: number): number {
    return now + Math.max(sf.rtt.rto, this.config.minRtoMs) * 2;
  }
}

/** REMOVE_ADDR's bytes before its list of ids (RFC 8684 §3.4.2). */
const REMOVE_ADDR_HEADER = mptcpOptionLength({ type: 'remove-addr', addressIds: [0] }) - 1;
