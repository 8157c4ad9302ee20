/**
 * RFC 8684 §3.1 versions: a SYN offering a later version than ours is answered with
 * version 1 and MPTCP goes on; an RFC 6824 (version 0) SYN, whose option our codec does not
 * read, gets plain TCP rather than silence. An MPTCP option that cannot be read does not
 * make the segment carrying it vanish.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag, type TcpOption } from '@mptun/core';
import { establishedForgedClient, forgedClientOf, pattern, rawMptcp, readAll } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 41;

const capableOf = (opts: readonly TcpOption[]) => opts.flatMap((o) => (o.kind === 'mptcp' && o.option.type === 'mp-capable' ? [o.option] : []))[0];

describe('MP_CAPABLE versions (RFC 8684 §3.1)', () => {
  it('a SYN offering version 2 is answered with version 1 and the connection runs MPTCP', () => {
    console.log('seed', seed);
    const peer = forgedClientOf(seed);
    const synAck = peer.syn([{ kind: 'mptcp', option: { type: 'mp-capable', version: 2, flags: peer.flags } }]);
    expect(synAck, 'a SYN/ACK').toBeDefined();
    expect(capableOf(synAck!.options)).toMatchObject({ version: 1 });
    peer.send({ options: [peer.capableAck()] });
    const conn = peer.connection()!;
    expect(conn.state).toBe('established');
    expect(conn.fallback).toBe(false);
  });

  it('an RFC 6824 (version 0) SYN is answered as plain TCP, and data then flows as TCP', () => {
    console.log('seed', seed);
    const peer = forgedClientOf(seed);
    // Version 0's SYN form: subtype 0, version 0, flags, the sender's 64-bit key (RFC 6824 §3.1).
    const v0 = rawMptcp([0x00, 0x81, 1, 2, 3, 4, 5, 6, 7, 8]);
    const synAck = peer.syn([v0]);
    expect(synAck, 'a SYN/ACK').toBeDefined();
    expect(capableOf(synAck!.options), 'no MP_CAPABLE in the answer').toBeUndefined();
    expect(peer.engine.stats.malformed).toBe(0);
    const data = pattern(500);
    peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, payload: data });
    const conn = peer.connection()!;
    expect(conn.fallback).toBe(true);
    expect(readAll(conn)).toEqual([...data]);
  });

  it('an MPTCP option with a length no form has is ignored, not the segment that carries it', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    const data = pattern(300);
    // Beside a good DSS, a second DSS claiming a mapping and too short for one.
    const broken = rawMptcp([0x20, 0x05, 0, 0, 0, 0, 0, 0, 0]);
    peer.send({ options: [peer.dss(0, 300), broken], payload: data });
    expect(peer.engine.stats.malformed).toBe(0);
    expect(readAll(peer.connection())).toEqual([...data]);
  });
});
