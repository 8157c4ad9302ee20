/**
 * A path that dies mid-transfer: what it carried is reinjected on the others
 * (RFC 8684 §3.3.6) and the transfer completes; the connection survives losing any
 * subflow, the initial one included, while one remains.
 */
import { describe, expect, it } from 'vitest';
import type { LinkOptions, PacketTransform } from '../../src/index.js';
import { parseSegment } from '@mptun/core';
import { describeResult, runTransfer } from '../support/transfer.js';

/**
 * A path that dies the moment a DATA_FIN is sent over it, in either direction: that segment
 * and everything after it, both ways, is lost. Returns the two directions' transforms.
 */
function dieAtDataFin(): { transform: PacketTransform; finsSeen: () => number } {
  let dead = false;
  let fins = 0;
  const transform: PacketTransform = (bytes) => {
    if (dead) return null;
    const fin = parseSegment(bytes).options.some((o) => o.kind === 'mptcp' && o.option.type === 'dss' && o.option.dataFin);
    if (fin) {
      fins++;
      dead = true;
      return null;
    }
    return bytes;
  };
  return { transform, finsSeen: () => fins };
}

const wifi: LinkOptions = { rateBps: 50e6, delayMs: 10, queue: { ms: 50 }, loss: 0.002 };
const lte: LinkOptions = { rateBps: 20e6, delayMs: 30, queue: { ms: 80 }, loss: 0.005 };
const seedList = process.env.MPTUN_SEED ? [Number(process.env.MPTUN_SEED)] : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('path failure', () => {
  for (const dead of [0, 1]) {
    it(`path ${dead} blackholes for good mid-transfer: data moves to the survivor`, () => {
      for (const seed of seedList) {
        const r = runTransfer({
          seed,
          paths: [{ forward: wifi }, { forward: lte }],
          upload: 4_000_000,
          download: 4_000_000,
          setup: (ctx) => {
            ctx.pair.forward(dead).schedule([{ at: 300, down: true }]);
            ctx.pair.backward(dead).schedule([{ at: 300, down: true }]);
          },
        });
        console.log(`dead=${dead}`, describeResult(r));
        expect(r.uploadOk && r.downloadOk, describeResult(r)).toBe(true);
      }
    });
  }

  it('an outage of one path that ends: transfer completes, the path is used again', () => {
    for (const seed of seedList) {
      let bytesAfter = 0;
      const r = runTransfer({
        seed,
        paths: [{ forward: wifi }, { forward: lte }],
        upload: 8_000_000,
        download: 0,
        setup: (ctx) => {
          for (const l of [ctx.pair.forward(0), ctx.pair.backward(0)]) l.schedule([{ at: 200, down: true }, { at: 700, up: true }]);
          ctx.pair.onPacket = (ev) => {
            if (ev.type === 'deliver' && ev.to === 'b' && ev.path === 0 && ev.time > 800) bytesAfter += ev.bytes.length;
          };
        },
      });
      console.log(describeResult(r), 'bytes on path 0 after it came back', bytesAfter);
      expect(r.ok, describeResult(r)).toBe(true);
      expect(bytesAfter).toBeGreaterThan(100_000);
    }
  });

  it('a path restored after a 7 s outage carries data again within about a second (backoff probes)', () => {
    for (const seed of seedList.slice(0, 3)) {
      let backAt = -1;
      const r = runTransfer({
        seed,
        paths: [{ forward: wifi }, { forward: lte }],
        upload: 40_000_000,
        download: 0,
        setup: (ctx) => {
          for (const l of [ctx.pair.forward(0), ctx.pair.backward(0)]) l.schedule([{ at: 500, down: true }, { at: 7_500, up: true }]);
          ctx.pair.onPacket = (ev) => {
            // Back means: data the server acknowledges is flowing again, not one probe.
            if (backAt < 0 && ev.type === 'deliver' && ev.to === 'b' && ev.path === 0 && ev.time > 7_500 && ev.bytes.length > 1000) backAt = ev.time;
          };
        },
      });
      console.log(describeResult(r), `path 0 carries data again ${(backAt - 7_500).toFixed(0)} ms after it is restored`);
      expect(r.ok, describeResult(r)).toBe(true);
      expect(backAt).toBeGreaterThan(7_500);
      expect(backAt - 7_500).toBeLessThan(1_500);
    }
  });

  it('the path carrying a DATA_FIN dies with it: the DATA_FIN goes again with the rescued data', () => {
    for (const seed of seedList.slice(0, 5)) {
      const die = dieAtDataFin();
      const r = runTransfer({
        seed,
        // Path 0 is the faster one, so the last segments (and the DATA_FIN with them) go there.
        paths: [{ forward: { ...wifi, loss: 0, transforms: [die.transform] }, backward: { ...wifi, loss: 0, transforms: [die.transform] } }, { forward: { ...lte, loss: 0 } }],
        upload: 300_000,
        download: 300_000,
        limitMs: 120_000,
      });
      console.log(describeResult(r), `DATA_FINs lost with path 0: ${die.finsSeen()}`);
      expect(die.finsSeen()).toBe(1);
      expect(r.ok, describeResult(r)).toBe(true);
    }
  });

  it('the driver closes a path (interface gone): its subflow ends, the connection carries on', () => {
    const seed = seedList[0]!;
    let closedAt = -1;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }],
      upload: 4_000_000,
      download: 4_000_000,
      onTick: (ctx) => {
        if (closedAt < 0 && ctx.pair.now >= 250) {
          closedAt = ctx.pair.now;
          ctx.client.closePath(ctx.pair.now, ctx.clientPaths[0]!);
        }
      },
    });
    console.log(describeResult(r));
    expect(r.uploadOk && r.downloadOk, describeResult(r)).toBe(true);
    expect(r.ctx.clientConn.subflows().every((s) => s.pathId !== r.ctx.clientPaths[0])).toBe(true);
  });

  it('every path dies: the connection ends with a clean error, no hang', () => {
    const seed = seedList[0]!;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }],
      upload: 4_000_000,
      download: 4_000_000,
      config: { maxRetries: 4 },
      setup: (ctx) => {
        for (const i of [0, 1]) for (const l of [ctx.pair.forward(i), ctx.pair.backward(i)]) l.schedule([{ at: 300, down: true }]);
      },
    });
    console.log(describeResult(r));
    expect(r.ok).toBe(false);
    expect(r.clientError).toBe('ERR_MPTUN_TIMEOUT');
    expect(r.ctx.clientConn.state).toBe('closed');
  });
});

describe('closed receive window', () => {
  it('a lost window update does not strand the sender: the persist timer probes until the window opens', () => {
    const seed = seedList[0]!;
    console.log('seed', seed);
    let now = 0;
    let dropped = 0;
    // Client → server: drop every pure ACK (the client's window updates) from 400 to 500 ms.
    const dropUpdates = (bytes: Uint8Array): Uint8Array | null => {
      const headerLen = (bytes[12]! >> 4) * 4;
      const pure = bytes.length === headerLen && (bytes[13]! & 0x07) === 0;
      if (pure && now >= 400 && now < 500) {
        dropped++;
        return null;
      }
      return bytes;
    };
    const r = runTransfer({
      seed,
      paths: [{ forward: { rateBps: 20e6, delayMs: 10, transforms: [dropUpdates] }, backward: { rateBps: 20e6, delayMs: 10 } }],
      upload: 0,
      download: 1_000_000,
      config: { receiveBuffer: 64 * 1024 },
      pauseReading: { side: 'client', fromMs: 100, toMs: 400 },
      limitMs: 120_000,
      onTick: (ctx) => {
        now = ctx.pair.now;
      },
    });
    console.log(describeResult(r), 'window updates dropped', dropped);
    expect(dropped).toBeGreaterThan(0);
    expect(r.ok).toBe(true);
    expect(r.timeMs).toBeLessThan(10_000);
  });
});
