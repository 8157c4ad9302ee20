/**
 * RFC 8684 §3.3.1, §3.7: with DSS checksums negotiated, the checksum covers a whole mapping,
 * which may span several segments. Nothing of a mapping reaches the application before the
 * checksum over all of it checked out; a mapping without a checksum is not accepted. A
 * hand-driven client sends the exact segments.
 */
import { describe, expect, it } from 'vitest';
import { CapableFlag, dssChecksum, TcpFlag, TcpRstReason, type TcpOption, type TcpSegment } from '@mptun/core';
import { establishedForgedClient, pattern, readAll, type ForgedClient } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 29;
const CHECKSUM_FLAGS = CapableFlag.HMAC_SHA256 | CapableFlag.CHECKSUM;

/** A DSS mapping `len` bytes at `offset` onto the next subflow bytes, with the given checksum (or none). */
function dssWith(peer: ForgedClient, offset: number, len: number, checksum: number | undefined): TcpOption {
  const mapping = { dsn: peer.idsn + 1n + BigInt(offset), dsn64: true, subflowSeq: peer.rel + 1, length: len };
  return { kind: 'mptcp', option: { type: 'dss', dataAck64: true, dataFin: false, mapping: checksum === undefined ? mapping : { ...mapping, checksum } } };
}

function mptcpOf(segs: readonly TcpSegment[], type: string): number {
  let n = 0;
  for (const s of segs) for (const o of s.options) if (o.kind === 'mptcp' && o.option.type === type) n++;
  return n;
}

/**
 * Sends `data` as one mapping at connection offset 0 in segments of `segment` bytes, the
 * checksum computed over `data`; `corrupt` (an index) flips that byte after the checksum was
 * taken, as a middlebox would. Reads after every segment; returns what the application got.
 */
function sendMapping(peer: ForgedClient, data: Uint8Array, segment: number, corrupt: number | null): number[] {
  const sum = dssChecksum(peer.idsn + 1n, peer.rel + 1, data.length, data);
  const wire = data.slice();
  if (corrupt !== null) wire[corrupt]! ^= 0x5a;
  const got: number[] = [];
  for (let at = 0; at < wire.length; at += segment) {
    const options = at === 0 ? [dssWith(peer, 0, data.length, sum)] : [];
    peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, options, payload: wire.subarray(at, Math.min(at + segment, wire.length)) });
    got.push(...readAll(peer.connection()));
  }
  peer.collect(200);
  got.push(...readAll(peer.connection()));
  return got;
}

describe('DSS checksum over a mapping that spans segments (RFC 8684 §3.3.1)', () => {
  for (const segment of [1000, 777]) {
    it(`one 3000-byte mapping in ${segment}-byte segments, unchanged: all 3000 bytes arrive`, () => {
      console.log('seed', seed);
      const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
      const data = pattern(3000);
      expect(sendMapping(peer, data, segment, null)).toEqual([...data]);
      expect(mptcpOf(peer.received, 'mp-fail')).toBe(0);
      expect(peer.connection()?.fallback).toBe(false);
    });
  }

  it('a spanning mapping that ends with the DATA_FIN (its length counts the FIN octet): the data and the end arrive', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    const data = pattern(3000);
    // RFC 8684 §3.3.3: the DATA_FIN takes one octet of the mapping, which carries no payload byte.
    const sum = dssChecksum(peer.idsn + 1n, peer.rel + 1, data.length + 1, data);
    const fin: TcpOption = { kind: 'mptcp', option: { type: 'dss', dataAck64: true, dataFin: true, mapping: { dsn: peer.idsn + 1n, dsn64: true, subflowSeq: peer.rel + 1, length: data.length + 1, checksum: sum } } };
    for (let at = 0; at < data.length; at += 1000) peer.send({ flags: TcpFlag.ACK, options: at === 0 ? [fin] : [], payload: data.subarray(at, at + 1000) });
    peer.collect(200);
    expect(readAll(peer.connection())).toEqual([...data]);
    expect(peer.events().some((e) => e.type === 'end')).toBe(true);
  });

  it('one byte changed in the middle segment: no byte of the mapping reaches the application, MP_FAIL is sent', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    const data = pattern(3000);
    const got = sendMapping(peer, data, 1000, 1500);
    expect(got.length, 'bytes delivered from the damaged mapping').toBe(0);
    // §3.7: on the only subflow the receiver asks the sender to fall back, naming the mapping's DSN.
    const fails = peer.received.flatMap((s) => s.options).filter((o) => o.kind === 'mptcp' && o.option.type === 'mp-fail');
    expect(fails.length).toBeGreaterThan(0);
    const f = fails[0]!;
    expect(f.kind === 'mptcp' && f.option.type === 'mp-fail' ? f.option.dsn : null).toBe(peer.idsn + 1n);
  });

  it('a longer mapping whose one segment checks out but repeats bytes already held: the held bytes are checked, not the copy', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    const data = pattern(3000);
    // 1000 changed bytes under a 2000-byte mapping wait for the rest of it.
    const bad = data.slice(0, 1000);
    bad[500]! ^= 0x5a;
    peer.send({ flags: TcpFlag.ACK, options: [dssWith(peer, 0, 2000, dssChecksum(peer.idsn + 1n, 1, 2000, data.subarray(0, 2000)))], payload: bad });
    expect(readAll(peer.connection())).toEqual([]);
    // The same subflow bytes again, intact, in one segment under a 3000-byte mapping that checks out over it.
    peer.rel = 0;
    peer.send({ flags: TcpFlag.ACK, options: [dssWith(peer, 0, 3000, dssChecksum(peer.idsn + 1n, 1, 3000, data))], payload: data });
    peer.collect(200);
    expect(readAll(peer.connection()), 'nothing of the damaged bytes arrives').toEqual([]);
    expect(mptcpOf(peer.received, 'mp-fail'), 'the failure is reported (RFC 8684 §3.7)').toBeGreaterThan(0);
  });

  it('after the MP_FAIL, the sender resends the data under an infinite mapping: the intact bytes arrive, once', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    const data = pattern(3000);
    expect(sendMapping(peer, data, 1000, 1500)).toEqual([]);
    // RFC 8684 §3.7: the infinite mapping (length 0) starts at the DSN the MP_FAIL named.
    const got: number[] = [];
    for (let at = 0; at < data.length; at += 1000) {
      const options = at === 0 ? [dssWith(peer, 0, 0, 0)] : [];
      peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, options, payload: data.subarray(at, at + 1000) });
      got.push(...readAll(peer.connection()));
    }
    peer.collect(200);
    got.push(...readAll(peer.connection()));
    expect(got).toEqual([...data]);
    expect(peer.connection()?.fallback).toBe(true);
  });

  it('a damaged mapping completed after the peer fell back (infinite mapping) is dropped without an MP_FAIL', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    const data = pattern(3000);
    const wire = data.slice();
    wire[100]! ^= 0x5a;
    peer.send({ flags: TcpFlag.ACK, options: [dssWith(peer, 0, 3000, dssChecksum(peer.idsn + 1n, 1, 3000, data))], payload: wire.subarray(0, 1000) });
    // The peer falls back (RFC 8684 §3.7) while the mapping is still open.
    peer.send({ flags: TcpFlag.ACK, options: [dssWith(peer, 1000, 0, 0)], payload: wire.subarray(1000, 2000) });
    expect(peer.connection()?.fallback).toBe(true);
    peer.send({ flags: TcpFlag.ACK, payload: wire.subarray(2000) });
    peer.collect(200);
    expect(readAll(peer.connection())).toEqual([]);
    expect(mptcpOf(peer.received, 'mp-fail'), 'no MP_FAIL once fallen back').toBe(0);
  });

  it('a mapping without a checksum is not taken: its bytes never arrive and the subflow is reset with MP_TCPRST', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    const data = pattern(1000);
    peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, options: [dssWith(peer, 0, data.length, undefined)], payload: data });
    peer.collect(200);
    expect(readAll(peer.connection())).toEqual([]);
    const rsts = peer.received.filter((s) => s.flags & TcpFlag.RST);
    expect(rsts.length).toBeGreaterThan(0);
    expect(mptcpOf(rsts, 'mp-tcprst')).toBeGreaterThan(0);
  });
});

describe('DSS checksum failure on one of two subflows (RFC 8684 §3.7)', () => {
  it('a changed byte in a 3000-byte mapping on the joined subflow: that subflow is reset with MP_TCPRST, nothing of it arrives, the other subflow carries the data', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CHECKSUM_FLAGS);
    peer.collect(200);
    const second = peer.joinFrom('10.0.0.3');
    expect(second, 'the join is accepted').not.toBeNull();
    const data = pattern(3000);
    expect(sendMapping(second!, data, 1000, 2500), 'bytes delivered from the damaged mapping').toEqual([]);
    const rst = second!.received.find((s) => s.flags & TcpFlag.RST);
    const reason = rst?.options.find((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst');
    expect(reason?.kind === 'mptcp' && reason.option.type === 'mp-tcprst' ? reason.option.reason : null).toBe(TcpRstReason.MIDDLEBOX_INTERFERENCE);
    expect(mptcpOf(peer.received, 'mp-fail'), 'no MP_FAIL while another subflow is up').toBe(0);
    const conn = peer.connection()!;
    expect(conn.fallback).toBe(false);
    expect(conn.subflows().filter((s) => s.state !== 'closed').length).toBe(1);
    // The sender sends the same data again on the first subflow.
    expect(sendMapping(peer, data, 1000, null)).toEqual([...data]);
  });
});
