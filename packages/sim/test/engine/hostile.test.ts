/**
 * Hostile input fed to live endpoints: random bytes, mutated copies of real segments, and
 * well-formed forgeries aimed at live subflows (random flags, sequence numbers and MPTCP
 * options). The endpoints must never throw, must keep their state bounded, and every
 * connection must end, gracefully or with a typed error, within the time limit.
 * Without the sealed transport an in-window forgery can corrupt data, as with plain TCP,
 * so integrity is not asserted here; the sealed transport is what prevents injection.
 * Injected segments never carry RST: a replayed segment with RST set has an exact sequence
 * number and must end the subflow (RFC 5961 §3.2), which the last test checks on its own.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ccFactory, emitSegment, Endpoint, minRttScheduler, parseSegment, SeededRandom, TcpFlag } from '@mptun/core';
import { arbTcpSegment } from '../../../core/test/wire/tcp-arbitraries.js';
import { describeResult, runTransfer } from '../support/transfer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 99;

describe('hostile segments', () => {
  it('a transfer under a stream of random, mutated and forged segments: no crash, bounded state, it ends', () => {
    console.log('seed', seed);
    const rng = new SeededRandom(seed);
    const forged = fc.sample(arbTcpSegment(), { seed, numRuns: 3000 });
    const seen: Uint8Array[] = [];
    let injected = 0;
    let maxConns = 0;
    const r = runTransfer({
      seed,
      paths: [{ forward: { rateBps: 20e6, delayMs: 10 } }, { forward: { rateBps: 20e6, delayMs: 20 } }],
      upload: 1_000_000,
      download: 1_000_000,
      // Forgeries can desynchronise a subflow (a fake FIN, say) as they would plain TCP;
      // retries and the idle timeout bound how long such a connection lingers.
      config: { maxRetries: 5, idleTimeoutMs: 30_000 },
      limitMs: 600_000,
      setup: (ctx) => {
        ctx.pair.onPacket = (ev) => {
          if (ev.type === 'send' && seen.length < 512) seen.push(ev.bytes.slice());
        };
      },
      onTick: (ctx) => {
        const now = ctx.pair.now;
        const live = ctx.serverConn?.state === 'established' && ctx.clientConn.state === 'established';
        for (let i = 0; live && i < 3 && injected < 9000; i++, injected++) {
          const target = rng.next() < 0.5 ? ctx.server : ctx.client;
          const paths = target === ctx.server ? ctx.serverPaths : ctx.clientPaths;
          const pathId = paths[rng.int(paths.length)]!;
          const kind = rng.int(3);
          let bytes: Uint8Array;
          if (kind === 0) {
            bytes = new Uint8Array(rng.int(80));
            rng.fill(bytes);
          } else if (kind === 1 && seen.length > 0) {
            bytes = seen[rng.int(seen.length)]!.slice();
            for (let k = 0; k < 3; k++) bytes[rng.int(bytes.length)] = rng.int(256);
          } else {
            // A forgery aimed at a live subflow: its ports, anything else random.
            const sf = (target === ctx.server ? ctx.serverConn : ctx.clientConn)?.subflows()[0];
            const seg = forged[rng.int(forged.length)]!;
            if (sf) {
              seg.srcPort = sf.remotePort;
              seg.dstPort = sf.localPort;
            }
            bytes = emitSegment(seg);
          }
          if (bytes.length > 13) bytes[13]! &= ~TcpFlag.RST;
          target.handleSegment(now, pathId, bytes);
        }
        maxConns = Math.max(maxConns, [...ctx.server.connections()].length);
      },
    });
    console.log(describeResult(r), 'injected', injected, 'max server connections', maxConns);
    expect(injected).toBeGreaterThan(1000);
    // It ended one way or the other, well before the limit, with typed errors only.
    expect(r.ctx.clientConn.state).toBe('closed');
    expect(r.ctx.serverConn?.state).toBe('closed');
    expect(r.timeMs).toBeLessThan(600_000);
    for (const e of [r.clientError, r.serverError]) if (e) expect(e).toMatch(/^ERR_MPTUN_/);
    expect(maxConns).toBeLessThanOrEqual(r.ctx.server.config.maxHalfOpen + 1);
  });

  it('a SYN flood keeps at most maxHalfOpen half-open connections, and they expire', () => {
    console.log('seed', seed);
    const rng = new SeededRandom(seed);
    const server = new Endpoint({ random: rng.fork(), scheduler: minRttScheduler, congestionControl: ccFactory('cubic'), maxHalfOpen: 64 });
    server.listen(443);
    const p = server.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.2', port: 4000 });
    for (let i = 0; i < 5000; i++) {
      const syn = emitSegment({
        srcPort: 1024 + (i % 60000), dstPort: 443, seq: rng.nextU32(), ack: 0, flags: TcpFlag.SYN, window: 65535, checksum: 0, urgent: 0,
        options: [{ kind: 'mptcp', option: { type: 'mp-capable', version: 1, flags: 1 } }],
        payload: new Uint8Array(0),
      });
      server.handleSegment(0, p, syn);
      while (server.pollTransmit(0)) { /* SYN/ACKs into the void */ }
    }
    expect([...server.connections()].length).toBe(64);
    expect(server.stats.synsDropped).toBe(5000 - 64);
    // Nobody answers: the SYN/ACK retries run out and every half-open connection goes.
    let now = 0;
    for (let i = 0; i < 1000 && [...server.connections()].length > 0; i++) {
      const t = server.pollTimeout();
      if (t === null) break;
      now = t;
      server.handleTimeout(now);
      while (server.pollTransmit(now)) { /* drain */ }
    }
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) { /* drain */ }
    expect([...server.connections()].length).toBe(0);
    console.log('half-open connections gone after', (now / 1000).toFixed(0), 's of virtual time');
  });

  it('every byte string fed to a listening endpoint parses or is counted malformed, never throws', () => {
    console.log('seed', seed);
    const server = new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
    server.listen(443);
    const p = server.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.2', port: 4000 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        server.handleSegment(0, p, bytes);
        while (server.pollTransmit(0)) { /* drain */ }
      }),
      { seed, numRuns: 20_000 },
    );
    // Whatever parsed as a SYN may have opened a half-open connection; nothing else did.
    expect([...server.connections()].length).toBeLessThanOrEqual(server.config.maxHalfOpen);
  });

  it('RST handling follows RFC 5961: exact sequence resets, in-window earns a challenge ACK, outside is ignored', () => {
    console.log('seed', seed);
    let sent: Uint8Array[] = [];
    const r = runTransfer({
      seed,
      paths: [{ forward: { rateBps: 20e6, delayMs: 10 } }],
      upload: 2_000_000,
      download: 0,
      setup: (ctx) => {
        ctx.pair.onPacket = (ev) => {
          if (ev.type === 'send' && ev.from === 'b') sent.push(ev.bytes);
        };
      },
      onTick: (ctx) => {
        const now = ctx.pair.now;
        if (now < 100 || ctx.clientConn.state !== 'established' || sent.length === 0) return;
        const last = parseSegment(sent[sent.length - 1]!);
        const rst = (seq: number): Uint8Array =>
          emitSegment({ ...last, seq: seq >>> 0, flags: TcpFlag.RST, options: [], payload: new Uint8Array(0) });
        const sf = ctx.clientConn.subflows()[0]!;
        const before = sf.stats.segmentsSent;
        ctx.client.handleSegment(now, ctx.clientPaths[0]!, rst(last.seq + 5000)); // in window, not exact
        while (ctx.client.pollTransmit(now)) { /* the challenge ACK */ }
        expect(sf.state).toBe('established');
        expect(sf.stats.segmentsSent).toBeGreaterThan(before);
        ctx.client.handleSegment(now, ctx.clientPaths[0]!, rst(last.seq + 0x40000000)); // far outside
        expect(sf.state).toBe('established');
        ctx.client.handleSegment(now, ctx.clientPaths[0]!, rst(last.seq)); // exact
        expect(sf.state).toBe('closed');
        sent = [];
      },
    });
    console.log(describeResult(r));
    expect(r.clientError).toBe('ERR_MPTUN_RESET');
  });
});
