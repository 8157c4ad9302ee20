/**
 * RFC 8684 §3.4.2: a REMOVE_ADDR closes the subflows to that address, and (§3.6) the close is
 * a RST with MP_TCPRST, so the peer's end of the subflow does not linger.
 */
import { describe, expect, it } from 'vitest';
import { parseSegment, TcpFlag, type TcpSegment } from '@mptun/core';
import { runTransfer } from '../support/transfer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 47;

describe('REMOVE_ADDR from the peer', () => {
  it('the subflow to the withdrawn address is reset with MP_TCPRST, and the transfer finishes on the other', () => {
    console.log('seed', seed);
    const fromClient: TcpSegment[] = [];
    /** The client's subflows to the withdrawn address. */
    let gone: Array<{ localPort: number; remotePort: number }> | null = null;
    const r = runTransfer({
      seed,
      // The second path reaches another server address, so withdrawing it leaves the first.
      paths: [{ forward: { rateBps: 20e6, delayMs: 10 } }, { forward: { rateBps: 20e6, delayMs: 15 }, serverHost: '10.9.9.20' }],
      upload: 1_000_000,
      download: 1_000_000,
      setup: (ctx) => {
        ctx.pair.onPacket = (ev) => {
          if (ev.type === 'send' && ev.from === 'a' && gone) fromClient.push(parseSegment(ev.bytes));
        };
      },
      onTick: (ctx) => {
        const s = ctx.serverConn;
        if (gone || !s) return;
        const joined = ctx.clientConn.subflows().find((f) => !f.isInitial && f.state === 'established');
        if (!joined || joined.stats.bytesReceived < 100_000) return;
        gone = ctx.clientConn.subflows().filter((f) => f.remoteAddressId === joined.remoteAddressId).map((f) => ({ localPort: f.localPort, remotePort: f.remotePort }));
        s.withdrawAddresses([joined.remoteAddressId]);
      },
    });
    expect(gone, 'a joined subflow carried data before the withdrawal').not.toBeNull();
    // Every subflow to that address closes; the first RST on each carries MP_TCPRST.
    const firstRsts = gone!.flatMap((g) => fromClient.filter((seg) => (seg.flags & TcpFlag.RST) !== 0 && seg.srcPort === g.localPort && seg.dstPort === g.remotePort).slice(0, 1));
    expect(firstRsts.length, 'subflows to the withdrawn address reset').toBeGreaterThan(0);
    for (const rst of firstRsts) expect(rst.options.some((o) => o.kind === 'mptcp' && o.option.type === 'mp-tcprst')).toBe(true);
    expect(r.ok).toBe(true);
  });
});
