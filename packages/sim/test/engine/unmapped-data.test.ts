/**
 * RFC 8684 §3.7: data without a mapping after the handshake (a middlebox that starts
 * stripping MPTCP options mid-connection). A lone subflow falls back to TCP, the bytes are
 * delivered in order, and MP_FAIL asks the peer to follow; nothing waits for a mapping that
 * will never come.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '@mptun/core';
import { establishedForgedClient, mptcp, pattern, readAll } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 29;

describe('data without a DSS after the handshake (RFC 8684 §3.7)', () => {
  it('on the only subflow: the listener falls back to TCP at once and delivers every byte in order', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    const mapped = pattern(1000, 1);
    peer.send({ options: [peer.dss(0, mapped.length)], payload: mapped });
    const conn = peer.connection()!;
    expect(readAll(conn)).toEqual([...mapped]);
    expect(conn.fallback).toBe(false);
    // The options are gone from here on.
    const bare = [pattern(700, 2), pattern(900, 3)];
    const answers = bare.flatMap((b) => peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, payload: b })).concat(peer.collect(200));
    expect(conn.fallback, 'fell back to TCP').toBe(true);
    expect(conn.state).toBe('established');
    expect(readAll(conn)).toEqual([...bare[0]!, ...bare[1]!]);
    expect(peer.acked).toBe(1000 + 700 + 900);
    // Its ACKs ask the peer to fall back too (MP_FAIL at the first unmapped byte) and, until
    // it has, acknowledge its data at the data level as well.
    const last = answers.filter((s) => s.payload.length === 0).at(-1)!;
    const opts = last.options.flatMap((o) => (o.kind === 'mptcp' ? [o.option] : []));
    expect(opts.find((o) => o.type === 'mp-fail')).toMatchObject({ dsn: peer.idsn + 1n + 1000n });
    expect(opts.find((o) => o.type === 'dss')).toMatchObject({ dataAck: peer.idsn + 1n + 2600n });
    // Our own data now goes as plain TCP under an infinite mapping until it is acknowledged.
    conn.write(pattern(100, 4));
    const out = peer.collect(10).filter((s) => s.payload.length > 0);
    expect(out.length).toBe(1);
    const dss = out[0]!.options.find((o) => o.kind === 'mptcp' && o.option.type === 'dss');
    expect(dss && dss.kind === 'mptcp' && dss.option.type === 'dss' ? dss.option.mapping?.length : undefined, 'an infinite mapping').toBe(0);
  });

  it('a segment whose mapping covers it (the mapping rode an earlier segment) is not taken for unmapped data', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    const data = pattern(2000, 5);
    peer.send({ options: [peer.dss(0, 2000)], payload: data.subarray(0, 1200) });
    peer.send({ payload: data.subarray(1200) });
    peer.collect(200);
    const conn = peer.connection()!;
    expect(readAll(conn)).toEqual([...data]);
    expect(conn.fallback).toBe(false);
  });

  /**
   * Linux answers MP_FAIL with an infinite mapping only on its next new data. A peer that had
   * sent everything before the middlebox began stripping never sends one, and its DATA_FIN
   * stays stripped: the connection could never end. It is reset once neither side moves data
   * for 3 s (found beside the kernel: "A options stripped mid-transfer").
   */
  describe('when the peer does not follow the fallback', () => {
    function fallenBack(): { peer: ReturnType<typeof establishedForgedClient>; conn: NonNullable<ReturnType<ReturnType<typeof establishedForgedClient>['connection']>> } {
      const peer = establishedForgedClient(seed);
      peer.send({ options: [peer.dss(0, 500)], payload: pattern(500, 6) });
      peer.send({ payload: pattern(400, 7) });
      const conn = peer.connection()!;
      expect(conn.fallback).toBe(true);
      readAll(conn);
      return { peer, conn };
    }
    const resets = (segs: readonly { flags: number }[]): number => segs.filter((s) => (s.flags & TcpFlag.RST) !== 0).length;

    it('a quiet peer that never sends the infinite mapping is reset after 3 s, not left hanging', () => {
      console.log('seed', seed);
      const { peer, conn } = fallenBack();
      expect(resets(peer.idle(2900)), 'no reset while the peer may still follow').toBe(0);
      expect(conn.state).toBe('established');
      const out = peer.idle(200);
      expect(resets(out)).toBeGreaterThan(0);
      expect(conn.state).toBe('closed');
      expect(conn.error).toBe('ERR_MPTUN_PROTOCOL');
    });

    it('waits while the peer keeps sending: its next new data may carry the infinite mapping', () => {
      console.log('seed', seed);
      const { peer, conn } = fallenBack();
      for (let i = 0; i < 5; i++) {
        expect(resets(peer.idle(2000))).toBe(0);
        peer.send({ payload: pattern(300, 8 + i) });
      }
      readAll(conn);
      expect(conn.state).toBe('established');
      // 3 s after the last data, seen by a check every 250 ms.
      expect(resets(peer.idle(3600))).toBeGreaterThan(0);
      expect(conn.error).toBe('ERR_MPTUN_PROTOCOL');
    });

    it('an infinite mapping from the peer ends the wait: the connection goes on as TCP', () => {
      console.log('seed', seed);
      const { peer, conn } = fallenBack();
      const infinite = mptcp({ type: 'dss', dataAck64: true, dataFin: false, mapping: { dsn: peer.idsn + 1n + 900n, dsn64: true, subflowSeq: peer.rel + 1, length: 0 } });
      peer.send({ options: [infinite], payload: pattern(200, 20) });
      expect(readAll(conn)).toEqual([...pattern(200, 20)]);
      expect(resets(peer.idle(10_000))).toBe(0);
      expect(conn.state).toBe('established');
    });

    it('our own data under the infinite mapping, once acknowledged, ends the wait too', () => {
      console.log('seed', seed);
      const { peer, conn } = fallenBack();
      conn.write(pattern(100, 21));
      const sent = peer.collect(10).filter((s) => s.payload.length > 0);
      expect(sent.length).toBe(1);
      peer.send({ ack: (sent[0]!.seq + 100) >>> 0 });
      expect(resets(peer.idle(10_000))).toBe(0);
      expect(conn.state).toBe('established');
    });
  });
});
