/**
 * RFC 8684 §3.7: data without a mapping after the handshake (a middlebox that starts
 * stripping MPTCP options mid-connection). A lone subflow falls back to TCP, the bytes are
 * delivered in order, and MP_FAIL asks the peer to follow; nothing waits for a mapping that
 * will never come.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '@mptun/core';
import { establishedForgedClient, pattern, readAll } from '../support/forged-peer.js';

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
});
