/**
 * closeSubflow (RFC 8684 §3.6) while the peer is still sending on that subflow: the peer's
 * segments that arrive after the subflow is gone are answered with a RST, and the RST that
 * carries MP_TCPRST must reach the peer first, or the peer resets its subflow without the
 * reason (the Linux kernel then never counts MPRstRx).
 */
import { describe, expect, it } from 'vitest';
import { parseSegment, TcpFlag, type TcpSegment } from '@mptun/core';
import { runTransfer } from '../support/transfer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 37;

describe('closing a subflow the peer is sending on', () => {
  it('the first RST the peer gets for it carries MP_TCPRST', () => {
    console.log('seed', seed);
    const delivered: Array<{ pathId: number; seg: TcpSegment; bytes: Uint8Array }> = [];
    const sentAfter: TcpSegment[] = [];
    let target: { id: number; pathId: number; localPort: number; remotePort: number } | null = null;
    const r = runTransfer({
      seed,
      paths: [{ forward: { rateBps: 20e6, delayMs: 10 } }, { forward: { rateBps: 20e6, delayMs: 15 } }],
      upload: 0,
      download: 3_000_000,
      setup: (ctx) => {
        ctx.pair.onPacket = (ev) => {
          if (ev.type === 'deliver' && ev.to === 'a' && !target) {
            delivered.push({ pathId: ev.toPathId, seg: parseSegment(ev.bytes), bytes: ev.bytes.slice() });
            if (delivered.length > 64) delivered.shift();
          }
          if (ev.type === 'send' && ev.from === 'a' && target) sentAfter.push(parseSegment(ev.bytes));
        };
      },
      onTick: (ctx) => {
        if (target) return;
        const live = ctx.clientConn.subflows().filter((f) => f.state === 'established');
        const second = live[1];
        if (!second || second.stats.bytesReceived < 200_000) return;
        const last = [...delivered].reverse().find((d) => d.seg.dstPort === second.localPort && d.seg.payload.length > 0);
        if (!last) return;
        target = { id: second.id, pathId: second.pathId, localPort: second.localPort, remotePort: second.remotePort };
        ctx.clientConn.closeSubflow(ctx.pair.now, second.id);
        // The peer's next segment on it is already on its way: it lands before we send anything.
        ctx.client.handleSegment(ctx.pair.now, last.pathId, last.bytes);
      },
    });
    expect(target, 'a subflow was closed mid-transfer').not.toBeNull();
    const rsts = sentAfter.filter((s) => (s.flags & TcpFlag.RST) !== 0 && s.srcPort === target!.localPort && s.dstPort === target!.remotePort);
    const kinds = rsts.map((s) => (s.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst') ? 'MP_TCPRST' : 'bare'));
    console.log(`RSTs sent on the closed subflow: ${kinds.length}, the first ${kinds[0]}, ${kinds.filter((k) => k === 'bare').length} bare`);
    expect(rsts.length).toBeGreaterThan(0);
    expect(rsts[0]!.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst'), 'the first RST carries MP_TCPRST').toBe(true);
    expect(r.downloadOk, 'the download completed over the other subflow').toBe(true);
  });
});
