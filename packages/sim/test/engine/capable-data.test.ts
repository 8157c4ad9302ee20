/**
 * RFC 8684 §3.1: the initiator's first data may ride an MP_CAPABLE ACK carrying a
 * Data-Level Length (and a checksum when negotiated) instead of a DSS; the Linux kernel
 * sends its first data segment this way. The listener maps it at the connection's first
 * data byte. A hand-driven client sends the forms our own client never does.
 */
import { describe, expect, it } from 'vitest';
import { CapableFlag, dssChecksum, TcpFlag, type TcpSegment } from '@mptun/core';
import { establishedForgedClient, forgedClientOf, pattern, readAll, type ForgedClient } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 17;

/** The DATA_ACK of the newest DSS the server sent, as an offset from the client's IDSN+1. */
function dataAcked(peer: ForgedClient, segs: readonly TcpSegment[]): number | undefined {
  for (const s of [...segs].reverse()) {
    for (const o of s.options) if (o.kind === 'mptcp' && o.option.type === 'dss' && o.option.dataAck !== undefined) return Number(o.option.dataAck - peer.idsn - 1n);
  }
  return undefined;
}

describe('data on the MP_CAPABLE ACK (RFC 8684 §3.1)', () => {
  for (const thirdAckFirst of [false, true]) {
    it(`${thirdAckFirst ? 'after a bare third ACK, the first data segment' : 'the third ACK itself'} carries 1000 bytes with a Data-Level Length: they reach the application and are DATA_ACKed`, () => {
      console.log('seed', seed);
      const peer = forgedClientOf(seed);
      expect(peer.syn()).toBeDefined();
      if (thirdAckFirst) peer.send({ options: [peer.capableAck()] });
      const data = pattern(1000);
      peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, options: [peer.capableAck({ length: data.length })], payload: data });
      const answers = peer.collect(200); // past the delayed ACK
      expect(readAll(peer.connection())).toEqual([...data]);
      expect(peer.acked, 'subflow-level ACK').toBe(1000);
      expect(dataAcked(peer, [...peer.received, ...answers]), 'DATA_ACK').toBe(1000);
      expect(peer.connection()?.fallback).toBe(false);
    });
  }

  it('a mapping longer than the segment covers the next segment too (which carries no option)', () => {
    console.log('seed', seed);
    const peer = forgedClientOf(seed);
    peer.syn();
    const data = pattern(1500);
    peer.send({ options: [peer.capableAck({ length: 1500 })], payload: data.subarray(0, 1000) });
    peer.send({ payload: data.subarray(1000) });
    peer.collect(200);
    expect(readAll(peer.connection())).toEqual([...data]);
  });

  it('with checksums negotiated, a correct checksum delivers the bytes and a wrong one does not', () => {
    console.log('seed', seed);
    for (const good of [true, false]) {
      const peer = forgedClientOf(seed, { checksums: true }, CapableFlag.HMAC_SHA256 | CapableFlag.CHECKSUM);
      peer.syn();
      peer.send({ options: [peer.capableAck()] });
      const data = pattern(700);
      const sum = dssChecksum(peer.idsn + 1n, 1, data.length, data);
      peer.send({ options: [peer.capableAck({ length: data.length, checksum: good ? sum : sum ^ 0x0101 })], payload: data });
      peer.collect(200);
      expect(peer.connection()?.checksums).toBe(true);
      expect(readAll(peer.connection()), good ? 'delivered' : 'not delivered').toEqual(good ? [...data] : []);
    }
  });

  it('an MP_CAPABLE with data but keys that do not match the connection maps nothing', () => {
    console.log('seed', seed);
    const peer = forgedClientOf(seed);
    peer.syn();
    peer.send({ options: [peer.capableAck()] });
    const forged = peer.capableAck({ length: 100 });
    if (forged.kind === 'mptcp' && forged.option.type === 'mp-capable') forged.option.senderKey = 0x5555n;
    peer.send({ options: [forged], payload: pattern(100) });
    peer.collect(200);
    expect(readAll(peer.connection())).toEqual([]);
  });
});

describe('a mapping without a checksum once checksums are negotiated (RFC 8684 §3.3.1)', () => {
  it('is not valid: its data is not delivered and the subflow is reset with MP_TCPRST', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed, { checksums: true }, CapableFlag.HMAC_SHA256 | CapableFlag.CHECKSUM);
    expect(peer.connection()?.checksums).toBe(true);
    const answers = peer.send({ options: [peer.dss(0, 400)], payload: pattern(400) }).concat(peer.collect(10));
    expect(readAll(peer.connection())).toEqual([]);
    const rst = answers.find((s) => s.flags & TcpFlag.RST);
    expect(rst, 'a RST').toBeDefined();
    expect(rst!.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst')).toBe(true);
  });
});
