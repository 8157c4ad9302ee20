/**
 * RFC 8684 §3.3.3 with §3.4.2's rule for signals: a DATA_FIN counts only on a segment the
 * subflow would accept (RFC 9293 §3.10.7.4), as REMOVE_ADDR, MP_PRIO and MP_FAIL already do;
 * one outside the window (a blind injection) does not end the peer's stream.
 */
import { describe, expect, it } from 'vitest';
import type { TcpOption } from '@mptun/core';
import { establishedForgedClient, pattern } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 43;

describe('DATA_FIN and the subflow sequence check', () => {
  it('a DATA_FIN outside the window is ignored; the same DATA_FIN in the window ends the stream', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    const server = peer.engine;
    peer.send({ options: [peer.dss(0, 100)], payload: pattern(100) });
    const ends = (): number => {
      let n = 0;
      for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) if (ev.type === 'end') n++;
      return n;
    };
    ends();
    // A bare DATA_FIN (RFC 8684 §3.3.3: subflow sequence 0, length 1) at data offset 100.
    const dataFin: TcpOption = { kind: 'mptcp', option: { type: 'dss', dataAck64: true, dataFin: true, mapping: { dsn: peer.idsn + 1n + 100n, dsn64: true, subflowSeq: 0, length: 1 } } };
    const blind = (peer.iss + 1 + peer.rel + 1_500_000_000) >>> 0; // far beyond any receive window
    peer.send({ seq: blind, options: [dataFin] });
    peer.rel = 100; // the forged segment moved nothing
    expect(ends(), 'an end from a DATA_FIN outside the window').toBe(0);
    peer.send({ options: [dataFin] });
    expect(ends(), 'an end from the DATA_FIN in the window').toBe(1);
  });
});
