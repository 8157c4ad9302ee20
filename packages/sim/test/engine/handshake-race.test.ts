/**
 * Handshake racing: when the first MP_CAPABLE SYN goes unanswered, the client sends another
 * on the next path it was given, keeps the first SYN/ACK and resets the other handshake.
 * A dead or very slow first path then costs one initial RTO (1 s), not the SYN backoff.
 */
import { describe, expect, it } from 'vitest';
import type { LinkOptions } from '../../src/index.js';
import { describeResult, runTransfer, type TransferContext } from '../support/transfer.js';

const wifi: LinkOptions = { rateBps: 50e6, delayMs: 10 };
const lte: LinkOptions = { rateBps: 20e6, delayMs: 30 };
const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 17;

const connectedAt = (ctx: TransferContext): number | undefined =>
  ctx.events.find((e) => e.side === 'client' && e.ev.type === 'connected')?.time;

/** Path 0 carries nothing until `untilMs`, both ways. */
function blackhole(untilMs: number): (ctx: TransferContext) => void {
  return (ctx) => {
    for (const l of [ctx.pair.forward(0), ctx.pair.backward(0)]) l.schedule([{ at: 0, down: true }, { at: untilMs, up: true }]);
  };
}

describe('handshake racing', () => {
  it('the first path is dead: the SYN raced on the second connects after one RTO, 0-RTT bytes and all', () => {
    console.log('seed', seed);
    let bytesOnPath0After = 0;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }],
      upload: 8_000_000,
      download: 8_000_000,
      synData: 300,
      serverApps: 'each',
      setup: (ctx) => {
        blackhole(2_000)(ctx);
        const prev = ctx.pair.onPacket;
        ctx.pair.onPacket = (ev) => {
          prev?.(ev);
          if (ev.type === 'deliver' && ev.path === 0 && ev.time > 2_000) bytesOnPath0After += ev.bytes.length;
        };
      },
    });
    const at = connectedAt(r.ctx);
    console.log(describeResult(r), 'connected at', at, 'ms; server connections', r.ctx.serverConns.length, 'bytes on path 0 after it came back', bytesOnPath0After);
    expect(r.ok, describeResult(r)).toBe(true);
    expect(at).toBeGreaterThanOrEqual(1000);
    expect(at).toBeLessThan(1200); // one initial RTO, then one lte round trip
    expect(r.ctx.serverConns).toHaveLength(1); // the dead path's SYN never arrived
    // The first path was not forgotten: it is joined once it works again.
    expect(bytesOnPath0After).toBeGreaterThan(100_000);
  });

  it('the first path answers too late: the race is won on the second, the late SYN/ACK is reset at both ends', () => {
    console.log('seed', seed);
    let loserClosedAt = -1;
    const slow: LinkOptions = { rateBps: 50e6, delayMs: 800 }; // a 1.6 s round trip, beyond the 1 s initial RTO
    const r = runTransfer({
      seed,
      paths: [{ forward: slow }, { forward: lte }],
      upload: 6_000_000,
      download: 6_000_000,
      synData: 300,
      serverApps: 'each',
      onTick: (ctx) => {
        if (loserClosedAt < 0 && ctx.serverConns[0]?.state === 'closed') loserClosedAt = ctx.pair.now;
      },
    });
    const at = connectedAt(r.ctx);
    const states = r.ctx.serverConns.map((c) => c.state);
    console.log(describeResult(r), 'connected at', at, 'ms; server connections at the end', states.join(' '), '; the loser closed at', loserClosedAt, 'ms');
    expect(r.ok, describeResult(r)).toBe(true);
    expect(at).toBeLessThan(1200);
    // Both SYNs reached the server, so it opened two connections; the loser was reset.
    expect(r.ctx.serverConns).toHaveLength(2);
    expect(r.ctx.serverConns[1]).toBe(r.ctx.serverConn);
    // The client's RST for the losing handshake leaves at about 1.06 s and takes 0.8 s.
    expect(loserClosedAt).toBeGreaterThan(1800);
    expect(loserClosedAt).toBeLessThan(2000);
  });

  it('without racing, the same dead first path fails the connection after the SYN backoff', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }],
      upload: 1000,
      download: 1000,
      synData: 300,
      config: { raceHandshake: false, maxSynRetries: 3 },
      setup: blackhole(600_000),
      limitMs: 60_000,
    });
    console.log(describeResult(r));
    expect(r.clientError).toBe('ERR_MPTUN_HANDSHAKE');
    expect(connectedAt(r.ctx)).toBeUndefined();
  });

  it('with one path only there is nothing to race: a dead path fails the connection as before', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }],
      upload: 1000,
      download: 1000,
      config: { maxSynRetries: 3 },
      setup: blackhole(600_000),
      limitMs: 60_000,
    });
    console.log(describeResult(r));
    expect(r.clientError).toBe('ERR_MPTUN_HANDSHAKE');
  });

  it('every path is dead: each raced SYN gives up and the connection fails with a handshake error, no hang', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }, { forward: lte }],
      upload: 1000,
      download: 1000,
      config: { maxSynRetries: 3 },
      setup: (ctx) => {
        for (let i = 0; i < 3; i++) for (const l of [ctx.pair.forward(i), ctx.pair.backward(i)]) l.schedule([{ at: 0, down: true }]);
      },
      limitMs: 60_000,
    });
    const initials = r.ctx.events.filter((e) => e.side === 'client' && e.ev.type === 'subflow-down').length;
    const closedAt = r.ctx.events.find((e) => e.side === 'client' && e.ev.type === 'closed')?.time;
    console.log(describeResult(r), 'handshakes given up', initials, 'closed at', closedAt, 'ms');
    expect(r.clientError).toBe('ERR_MPTUN_HANDSHAKE');
    expect(initials).toBe(3); // one per path: the race adds at most one SYN per path
    expect(closedAt).toBeLessThan(60_000);
  });
});
