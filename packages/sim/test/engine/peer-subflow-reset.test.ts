/**
 * RFC 8684 §3.6: a RST may carry MP_TCPRST with a reason code and the T (transient) flag;
 * the subflow's close event reports both. A hand-driven client sends the exact segments.
 */
import { describe, expect, it } from 'vitest';
import { keyToken, TCPRST_TRANSIENT, TcpFlag, TcpRstReason, type TcpOption } from '@mptun/core';
import { establishedForgedClient } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 31;

const tcprst = (flags: number, reason: number): TcpOption => ({ kind: 'mptcp', option: { type: 'mp-tcprst', flags, reason } });

describe('MP_TCPRST from the peer (RFC 8684 §3.6)', () => {
  for (const transient of [true, false]) {
    it(`a RST with MP_TCPRST (T=${transient ? 1 : 0}, reason "unacceptable performance") reports both on subflow-down`, () => {
      console.log('seed', seed);
      const peer = establishedForgedClient(seed);
      peer.collect(200);
      peer.events();
      peer.send({ flags: TcpFlag.RST | TcpFlag.ACK, options: [tcprst(transient ? 0x1 : 0x0, TcpRstReason.UNACCEPTABLE_PERFORMANCE)] });
      const down = peer.events().find((e) => e.type === 'subflow-down');
      expect(down).toBeDefined();
      expect(down?.type === 'subflow-down' ? down.peerReset : undefined).toEqual({ reason: TcpRstReason.UNACCEPTABLE_PERFORMANCE, transient });
    });
  }

  it('a RST without MP_TCPRST reports no peer reason', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    peer.collect(200);
    peer.events();
    peer.send({ flags: TcpFlag.RST | TcpFlag.ACK });
    const down = peer.events().find((e) => e.type === 'subflow-down');
    expect(down?.type).toBe('subflow-down');
    expect(down?.type === 'subflow-down' ? down.peerReset : 'x').toBeUndefined();
  });

  it('an MP_TCPRST on a RST outside the window (challenge ACK, RFC 5961 §3.2) closes nothing and is not remembered', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    peer.collect(200);
    peer.events();
    const at = peer.iss + 1 + peer.rel;
    peer.send({ seq: (at + 100) >>> 0, flags: TcpFlag.RST | TcpFlag.ACK, options: [tcprst(0x1, TcpRstReason.MPTCP_ERROR)] });
    expect(peer.events().some((e) => e.type === 'subflow-down')).toBe(false);
    peer.send({ seq: at >>> 0, flags: TcpFlag.RST | TcpFlag.ACK });
    const down = peer.events().find((e) => e.type === 'subflow-down');
    expect(down?.type === 'subflow-down' ? down.peerReset : 'x').toBeUndefined();
  });
});

describe('MP_TCPRST we send (RFC 8684 §3.6)', () => {
  it('a half-open join evicted to make room for a newer one is reset with T=1 (try again later)', () => {
    console.log('seed', seed);
    const peer = establishedForgedClient(seed);
    peer.collect(200);
    const token = keyToken(peer.serverKey!);
    const rsts = [];
    for (let i = 0; i < 5; i++) {
      const answers = peer.send({ srcPort: 51_000 + i, seq: 5000 + i, ack: 0, flags: TcpFlag.SYN, options: [{ kind: 'mptcp', option: { type: 'mp-join-syn', backup: false, addressId: 1, token, nonce: 77 + i } }] });
      rsts.push(...answers.filter((a) => a.flags & TcpFlag.RST));
    }
    // Four half-open joins are held; the fifth pushes out the first.
    expect(rsts.map((r) => r.dstPort)).toEqual([51_000]);
    const opt = rsts[0]!.options.find((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst');
    expect(opt?.kind === 'mptcp' && opt.option.type === 'mp-tcprst' ? opt.option : null).toEqual({ type: 'mp-tcprst', flags: TCPRST_TRANSIENT, reason: TcpRstReason.LACK_OF_RESOURCES });
  });
});
