/**
 * Endpoint.setPathMss mid-transfer: a path MTU search that confirms a larger size lets the
 * subflows grow their segments, and one that finds a black hole shrinks them, with segments
 * already sent at the old size split when resent. Every byte arrives (SHA-256 compared), and
 * no segment larger than the path's current MSS leaves after the change.
 * A failing seed reproduces with MPTUN_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import { describeResult, runTransfer, wifiLink, lteLink, type PathSpec, type TransferContext } from '../support/transfer.js';

const only = process.env.MPTUN_SEED ? [Number(process.env.MPTUN_SEED)] : null;
const seeds = (n: number, base: number): number[] => only ?? Array.from({ length: n }, (_, i) => base + i);

/** Payload bytes of a simulated TCP segment (its data offset says where the header ends). */
function payloadLength(segment: Uint8Array): number {
  return segment.length - ((segment[12]! >> 4) * 4);
}

/** Payload of every data segment sent after `fromMs`, largest first seen per direction. */
function watchPayloads(ctx: TransferContext, fromMs: number): { before: number; after: number } {
  const seen = { before: 0, after: 0 };
  const prev = ctx.pair.onPacket;
  ctx.pair.onPacket = (ev) => {
    prev?.(ev);
    if (ev.type !== 'send') return;
    const n = payloadLength(ev.bytes);
    if (ev.time < fromMs) seen.before = Math.max(seen.before, n);
    else seen.after = Math.max(seen.after, n);
  };
  return seen;
}

function setBoth(ctx: TransferContext, mss: number): void {
  for (const id of ctx.clientPaths) ctx.client.setPathMss(id, mss);
  for (const id of ctx.serverPaths) ctx.server.setPathMss(id, mss);
}

describe('setPathMss mid-transfer', () => {
  it('grows segments from 1140 to 8000 when the path search confirms it', () => {
    const failures: string[] = [];
    for (const seed of seeds(6, 500)) {
      const raiseAt = 300;
      let seen = { before: 0, after: 0 };
      let raised = false;
      const paths: PathSpec[] = [
        { forward: { ...wifiLink, loss: 0.005, mtu: 8060 }, pathOptions: { mss: 8000, sendMss: 1140 } },
        { forward: { ...lteLink, loss: 0.005, mtu: 8060 }, pathOptions: { mss: 8000, sendMss: 1140 } },
      ];
      const r = runTransfer({
        seed,
        paths,
        upload: 3_000_000,
        download: 3_000_000,
        setup: (ctx) => { seen = watchPayloads(ctx, raiseAt); },
        onTick: (ctx) => {
          if (!raised && ctx.pair.now >= raiseAt) {
            raised = true;
            setBoth(ctx, 8000);
          }
        },
      });
      console.log(describeResult(r), 'largest payload before/after', seen);
      if (!r.ok || seen.before > 1140 || seen.after <= 1140 || seen.after > 8000) failures.push(`${describeResult(r)} ${JSON.stringify(seen)}`);
    }
    expect(failures).toEqual([]);
  });

  it("each side sends no more than the other's MSS option: the client advertises 1140, the server 8000", () => {
    const seed = only?.[0] ?? 700;
    const largest = { toServer: 0, toClient: 0 };
    const r = runTransfer({
      seed,
      paths: [{ forward: { ...wifiLink, mtu: 8060 }, pathOptions: { mss: 1140, sendMss: 1140 }, serverPathOptions: { mss: 8000, sendMss: 1140 } }],
      upload: 1_000_000,
      download: 1_000_000,
      setup: (ctx) => {
        setBoth(ctx, 8000);
        const prev = ctx.pair.onPacket;
        ctx.pair.onPacket = (ev) => {
          prev?.(ev);
          if (ev.type !== 'send') return;
          const key = ev.from === 'a' ? 'toServer' : 'toClient';
          largest[key] = Math.max(largest[key], payloadLength(ev.bytes));
        };
      },
    });
    console.log(describeResult(r), 'largest payload', largest);
    expect(r.ok).toBe(true);
    expect(largest).toEqual({ toServer: 8000, toClient: 1140 });
  });

  it('shrinks to 1140 after a black hole at 1200 bytes, resending what was lost split', () => {
    const failures: string[] = [];
    for (const seed of seeds(6, 600)) {
      const holeAt = 250;
      // What the black-hole detection would take: a few RTTs of losses before the search falls back.
      const detectedAt = holeAt + 120;
      let seen = { before: 0, after: 0 };
      let holed = false;
      let shrunk = false;
      const paths: PathSpec[] = [
        { forward: { ...wifiLink, mtu: 8060 }, pathOptions: { mss: 8000 } },
        { forward: { ...lteLink, mtu: 8060 }, pathOptions: { mss: 8000 } },
      ];
      const r = runTransfer({
        seed,
        paths,
        upload: 3_000_000,
        download: 3_000_000,
        setup: (ctx) => { seen = watchPayloads(ctx, detectedAt); },
        onTick: (ctx) => {
          if (!holed && ctx.pair.now >= holeAt) {
            holed = true;
            for (let i = 0; i < paths.length; i++) {
              ctx.pair.forward(i).setOptions({ mtu: 1200 });
              ctx.pair.backward(i).setOptions({ mtu: 1200 });
            }
          }
          if (!shrunk && ctx.pair.now >= detectedAt) {
            shrunk = true;
            setBoth(ctx, 1140);
          }
        },
      });
      console.log(describeResult(r), 'largest payload before/after', seen);
      if (!r.ok || seen.before <= 1140 || seen.after > 1140) failures.push(`${describeResult(r)} ${JSON.stringify(seen)}`);
    }
    expect(failures).toEqual([]);
  });
});
