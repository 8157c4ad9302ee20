/**
 * RFC 8684 §3.4.2: a REMOVE_ADDR naming the address of the last subflow resets that subflow
 * with MP_TCPRST, as for any other; the connection then waits a while for a new subflow
 * (break-before-make) and closes with ERR_MPTUN_NO_PATH when none comes. A hand-driven
 * client sends the exact segments.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag, type MptcpOption, type TcpOption } from '@mptun/core';
import { establishedForgedClient, pattern, readAll } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 37;

const mptcp = (option: MptcpOption): TcpOption => ({ kind: 'mptcp', option });

describe('REMOVE_ADDR for the address of the last subflow (RFC 8684 §3.4.2)', () => {
  it('the subflow is reset with MP_TCPRST; the connection waits for a new subflow, then closes with ERR_MPTUN_NO_PATH', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    peer.collect(200);
    peer.events();
    const conn = peer.connection()!;
    expect(conn.subflows().length).toBe(1);
    // The initial subflow's remote address id is 0 (RFC 8684 §3.4.1).
    const answers = peer.send({ options: [mptcp({ type: 'remove-addr', addressIds: [0] })] });
    const rst = answers.find((s) => s.flags & TcpFlag.RST);
    expect(rst, 'a RST for the removed subflow').toBeDefined();
    expect(rst!.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst')).toBe(true);
    const evs = peer.events();
    expect(evs.some((e) => e.type === 'subflow-down')).toBe(true);
    expect(evs.some((e) => e.type === 'closed'), 'the connection outlives its last subflow for a while').toBe(false);
    expect(conn.state).toBe('established');
    expect(conn.subflows().length).toBe(0);
    // No subflow comes: the connection ends.
    peer.idle(40_000, 1000);
    const closed = peer.events().find((e) => e.type === 'closed');
    expect(closed?.type === 'closed' ? closed.error?.code : undefined).toBe('ERR_MPTUN_NO_PATH');
    expect(conn.state).toBe('closed');
  });
});

describe('break-before-make after REMOVE_ADDR of the last subflow (RFC 8684 §3.4.2, §3.2)', () => {
  it('the client joins from a new address within the wait: the connection carries on and data flows', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    peer.collect(200);
    const conn = peer.connection()!;
    peer.send({ options: [mptcp({ type: 'remove-addr', addressIds: [0] })] });
    expect(conn.subflows().length).toBe(0);
    peer.idle(5_000, 1000);
    const second = peer.joinFrom('10.0.0.3');
    expect(second, 'the join is accepted while no subflow is left').not.toBeNull();
    expect(conn.subflows().filter((s) => s.state === 'established').length).toBe(1);
    const data = pattern(800);
    second!.send({ flags: TcpFlag.ACK | TcpFlag.PSH, options: [second!.dss(0, data.length)], payload: data });
    expect(readAll(conn)).toEqual([...data]);
    // The wait is over: well past it, the connection is still open.
    second!.idle(40_000, 1000);
    expect(conn.state).toBe('established');
  });
});
