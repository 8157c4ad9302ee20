/**
 * Path liveness under traffic (Endpoint.pollPathEvent): a path cut mid-transfer is reported
 * stalled within 1 s of virtual time on both ends (the sender by its RTO, RFC 6298 §5.5 and
 * RFC 8684 §3.3.6; the receiver by an unanswered keepalive probe, RFC 9293 §3.8.4), resumed
 * when it comes back, and nothing on it is closed; a healthy transfer reports nothing.
 * Seeds are printed; MPTUN_SEED runs one.
 */
import { describe, expect, it } from 'vitest';
import type { PathLivenessEvent } from '@mptun/core';
import { describeResult, lteLink, runTransfer, wifiLink, type TransferContext } from '../support/transfer.js';

const seedList = process.env.MPTUN_SEED ? [Number(process.env.MPTUN_SEED)] : [1, 2, 3, 4, 5];

interface Seen {
  side: 'client' | 'server';
  at: number;
  ev: PathLivenessEvent;
  /** What Endpoint.pathStalled said of the path when the edge was read. */
  stalledNow: boolean;
}

/** Drains both endpoints' liveness edges on every step, with the virtual time they were read. */
function collector(): { seen: Seen[]; onTick: (ctx: TransferContext) => void } {
  const seen: Seen[] = [];
  return {
    seen,
    onTick: (ctx) => {
      for (let ev = ctx.client.pollPathEvent(); ev; ev = ctx.client.pollPathEvent()) seen.push({ side: 'client', at: ctx.pair.now, ev, stalledNow: ctx.client.pathStalled(ev.pathId) });
      for (let ev = ctx.server.pollPathEvent(); ev; ev = ctx.server.pollPathEvent()) seen.push({ side: 'server', at: ctx.pair.now, ev, stalledNow: ctx.server.pathStalled(ev.pathId) });
    },
  };
}

function cut(ctx: TransferContext, path: number, at: number, until: number): void {
  for (const l of [ctx.pair.forward(path), ctx.pair.backward(path)]) l.schedule([{ at, down: true }, { at: until, up: true }]);
}

/** The first edge of `type` on a side's path `pathId` at or after `from`. */
function first(seen: Seen[], side: 'client' | 'server', type: PathLivenessEvent['type'], pathId: number, from: number): Seen | undefined {
  return seen.find((s) => s.side === side && s.ev.type === type && s.ev.pathId === pathId && s.at >= from);
}

function show(s: Seen | undefined, from: number): string {
  if (!s) return 'none';
  const detail = s.ev.type === 'path-stalled' ? `cause=${s.ev.cause} silent=${s.ev.silentMs.toFixed(0)}ms` : `stalled for ${s.ev.stalledMs.toFixed(0)}ms`;
  return `${(s.at - from).toFixed(0)} ms after (${detail})`;
}

describe('path liveness under traffic', () => {
  const CUT = 1_000;
  const BACK = 1_600; // a 600 ms outage: quiet, not dead

  for (const direction of ['download', 'upload'] as const) {
    it(`${direction}: path 0 cut for 600 ms is stalled within 1 s on both ends, resumed after, and nothing on it closes`, () => {
      for (const seed of seedList) {
        const { seen, onTick } = collector();
        const r = runTransfer({
          seed,
          paths: [{ forward: wifiLink }, { forward: lteLink }],
          upload: direction === 'upload' ? 16_000_000 : 0,
          download: direction === 'download' ? 16_000_000 : 0,
          setup: (ctx) => cut(ctx, 0, CUT, BACK),
          onTick,
        });
        const [cp, sp] = [r.ctx.clientPaths[0]!, r.ctx.serverPaths[0]!];
        const clientStall = first(seen, 'client', 'path-stalled', cp, CUT);
        const serverStall = first(seen, 'server', 'path-stalled', sp, CUT);
        const clientBack = first(seen, 'client', 'path-resumed', cp, BACK);
        const serverBack = first(seen, 'server', 'path-resumed', sp, BACK);
        // Subflows that ended other than by the connection's own close at the end.
        const downs = r.ctx.events.filter((e) => e.ev.type === 'subflow-down' && e.ev.reason !== 'closed');
        console.log(`seed=${seed} ${direction}: client stalled ${show(clientStall, CUT)}, resumed ${show(clientBack, BACK)}; server stalled ${show(serverStall, CUT)}, resumed ${show(serverBack, BACK)}; subflows closed ${downs.length}; ${describeResult(r)}`);
        expect(r.ok, describeResult(r)).toBe(true);
        for (const stall of [clientStall, serverStall]) {
          expect(stall, 'a stalled edge').toBeDefined();
          expect(stall!.stalledNow, 'Endpoint.pathStalled agrees').toBe(true);
          expect(stall!.at - CUT).toBeLessThan(1_000);
          expect(stall!.at).toBeLessThan(BACK);
        }
        // The sending end knows by its retransmission timeout, the receiving end by its probe.
        const [sender, receiver] = direction === 'download' ? [serverStall!, clientStall!] : [clientStall!, serverStall!];
        expect(sender.ev.type === 'path-stalled' && sender.ev.cause).toBe('rto');
        expect(receiver.ev.type === 'path-stalled' && receiver.ev.cause).toBe('probe');
        for (const back of [clientBack, serverBack]) {
          expect(back, 'a resumed edge').toBeDefined();
          expect(back!.stalledNow).toBe(false);
          expect(back!.at - BACK).toBeLessThan(1_000);
        }
        // Reported, not acted on: the path's subflows outlive the outage.
        expect(downs.map((e) => e.ev.type === 'subflow-down' && e.ev.reason)).toEqual([]);
      }
    });
  }

  it('a transfer over healthy paths reports no stall (the probes after each burst of data are answered)', () => {
    for (const seed of seedList) {
      const { seen, onTick } = collector();
      const r = runTransfer({ seed, paths: [{ forward: wifiLink }, { forward: lteLink }], upload: 4_000_000, download: 4_000_000, onTick });
      console.log(`seed=${seed} healthy: liveness edges ${seen.length}; ${describeResult(r)}`);
      expect(r.ok, describeResult(r)).toBe(true);
      expect(seen).toEqual([]);
    }
  });

  it('every path cut at once: both stall, the engine keeps sending on them, and one coming back carries the transfer to its end', () => {
    for (const seed of seedList.slice(0, 3)) {
      const { seen, onTick } = collector();
      const sentDuring = [0, 0];
      const r = runTransfer({
        seed,
        paths: [{ forward: wifiLink }, { forward: lteLink }],
        upload: 12_000_000,
        download: 0,
        setup: (ctx) => {
          cut(ctx, 0, CUT, 600_000);
          cut(ctx, 1, CUT, 2_500);
          ctx.pair.onPacket = (ev) => {
            if (ev.type === 'send' && ev.from === 'a' && ev.time > CUT + 1_000 && ev.time < 2_500) sentDuring[ev.path]! += 1;
          };
        },
        onTick,
        limitMs: 120_000,
      });
      const stalls = [0, 1].map((i) => first(seen, 'client', 'path-stalled', r.ctx.clientPaths[i]!, CUT));
      const back = first(seen, 'client', 'path-resumed', r.ctx.clientPaths[1]!, 2_500);
      console.log(`seed=${seed} all cut: client stalled path 0 ${show(stalls[0], CUT)}, path 1 ${show(stalls[1], CUT)}; segments sent into the outage after the stalls ${sentDuring.join(' + ')}; path 1 resumed ${show(back, 2_500)}; ${describeResult(r)}`);
      for (const s of stalls) expect(s!.at - CUT).toBeLessThan(1_000);
      expect(sentDuring[0]! + sentDuring[1]!, 'segments still leave while every path is potentially failed').toBeGreaterThan(0);
      expect(back).toBeDefined();
      expect(r.uploadOk, describeResult(r)).toBe(true);
    }
  });
});
