/**
 * RFC 8684 §3.1 versions: a SYN offering a later version than ours is answered with
 * version 1 and MPTCP goes on; an RFC 6824 (version 0) SYN, whose option our codec does not
 * read, gets plain TCP rather than silence. An MPTCP option that cannot be read does not
 * make the segment carrying it vanish.
 */
import { describe, expect, it } from 'vitest';
import { ccFactory, Endpoint, minRttScheduler, SeededRandom, TcpFlag, type TcpOption } from '@mptun/core';
import { ForgedClient, pattern, rawMptcp, SERVER_PORT } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 41;

function listener(): { server: Endpoint; path: number } {
  const server = new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
  server.listen(SERVER_PORT);
  return { server, path: server.openPath({ host: '10.0.0.1', port: SERVER_PORT }, { host: '10.0.0.2', port: 50_000 }) };
}

const capableOf = (opts: readonly TcpOption[]) => opts.flatMap((o) => (o.kind === 'mptcp' && o.option.type === 'mp-capable' ? [o.option] : []))[0];

describe('MP_CAPABLE versions (RFC 8684 §3.1)', () => {
  it('a SYN offering version 2 is answered with version 1 and the connection runs MPTCP', () => {
    console.log('seed', seed);
    const { server, path } = listener();
    const peer = new ForgedClient(server, path);
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
    const { server, path } = listener();
    const peer = new ForgedClient(server, path);
    // Version 0's SYN form: subtype 0, version 0, flags, the sender's 64-bit key (RFC 6824 §3.1).
    const v0 = rawMptcp([0x00, 0x81, 1, 2, 3, 4, 5, 6, 7, 8]);
    const synAck = peer.syn([v0]);
    expect(synAck, 'a SYN/ACK').toBeDefined();
    expect(capableOf(synAck!.options), 'no MP_CAPABLE in the answer').toBeUndefined();
    expect(server.stats.malformed).toBe(0);
    const data = pattern(500);
    peer.send({ flags: TcpFlag.ACK | TcpFlag.PSH, payload: data });
    const conn = peer.connection()!;
    expect(conn.fallback).toBe(true);
    const got: number[] = [];
    for (let d = conn.read(); d; d = conn.read()) got.push(...d);
    expect(got).toEqual([...data]);
  });

  it('an MPTCP option with a length no form has is ignored, not the segment that carries it', () => {
    console.log('seed', seed);
    const { server, path } = listener();
    const peer = new ForgedClient(server, path);
    peer.syn();
    peer.send({ options: [peer.capableAck()] });
    const data = pattern(300);
    // Beside a good DSS, a second DSS claiming a mapping and too short for one.
    const broken = rawMptcp([0x20, 0x05, 0, 0, 0, 0, 0, 0, 0]);
    peer.send({ options: [peer.dss(0, 300), broken], payload: data });
    expect(server.stats.malformed).toBe(0);
    const got: number[] = [];
    for (let d = peer.connection()!.read(); d; d = peer.connection()!.read()) got.push(...d);
    expect(got).toEqual([...data]);
  });
});
