/**
 * The handshakes' security and fallbacks: a forged MP_JOIN HMAC is refused and leaves no
 * subflow, an unknown token is reset, an option-stripping middlebox makes both sides fall
 * back to plain TCP cleanly, MP_FASTCLOSE aborts, tokens never collide.
 */
import { describe, expect, it } from 'vitest';
import { mptcpOptionStripper, Pair, type LinkOptions } from '../../src/index.js';
import { ccFactory, emitSegment, Endpoint, minRttScheduler, parseSegment, SeededRandom, TcpFlag, type RandomSource } from '@mptun/core';
import { describeResult, runTransfer, type PathSpec } from '../support/transfer.js';

const wifi: LinkOptions = { rateBps: 50e6, delayMs: 10 };
const lte: LinkOptions = { rateBps: 20e6, delayMs: 30 };
const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 11;

/** A link transform that flips one bit of the HMAC in MP_JOIN options of the given type. */
function corruptJoin(type: 'mp-join-synack' | 'mp-join-ack'): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => {
    const seg = parseSegment(bytes);
    let hit = false;
    for (const o of seg.options) {
      if (o.kind === 'mptcp' && o.option.type === type) {
        o.option.hmac[0]! ^= 0x01;
        hit = true;
      }
    }
    return hit ? emitSegment(seg) : bytes;
  };
}

describe('MP_JOIN authentication', () => {
  it('a SYN/ACK with a forged HMAC is refused by the client; the connection stays on its first path', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte, backward: { ...lte, transforms: [corruptJoin('mp-join-synack')] } }],
      upload: 500_000,
      download: 500_000,
    });
    console.log(describeResult(r), r.bytesPerPath);
    expect(r.ok).toBe(true);
    expect(r.bytesPerPath[1]).toBeLessThan(1000); // only the refused handshake crossed path 1
  });

  it('a third ACK with a forged HMAC is refused by the server', () => {
    console.log('seed', seed);
    let serverSubflowsSeen = 0;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: { ...lte, transforms: [corruptJoin('mp-join-ack')] }, backward: lte }],
      upload: 500_000,
      download: 500_000,
      onTick: (ctx) => {
        if (ctx.serverConn) serverSubflowsSeen = Math.max(serverSubflowsSeen, ctx.serverConn.subflows().filter((s) => s.isEstablished).length);
      },
    });
    console.log(describeResult(r), r.bytesPerPath);
    expect(r.ok).toBe(true);
    expect(serverSubflowsSeen).toBe(1);
  });

  it('MP_JOINs with a stolen token but no keys hold at most 4 half-open subflows; the honest join still gets in', () => {
    console.log('seed', seed);
    let injected = 0;
    let maxPending = 0;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }],
      upload: 2_000_000,
      download: 2_000_000,
      onTick: (ctx) => {
        const s = ctx.serverConn;
        if (!s || s.state !== 'established') return;
        // The attacker saw the token (in clear on an unsealed path) and floods join SYNs.
        for (let i = 0; i < 4 && injected < 400; i++, injected++) {
          const syn = emitSegment({
            srcPort: 20000 + injected, dstPort: 443, seq: injected, ack: 0, flags: TcpFlag.SYN, window: 65535, checksum: 0, urgent: 0,
            options: [{ kind: 'mptcp', option: { type: 'mp-join-syn', backup: false, addressId: 9, token: s.localToken, nonce: injected } }],
            payload: new Uint8Array(0),
          });
          ctx.server.handleSegment(ctx.pair.now, ctx.serverPaths[0]!, syn);
        }
        maxPending = Math.max(maxPending, s.subflows().filter((f) => !f.isInitial && f.state === 'syn-received').length);
      },
    });
    console.log(describeResult(r), r.bytesPerPath, `injected ${injected}, most half-open at once ${maxPending}`);
    expect(r.ok).toBe(true);
    expect(injected).toBe(400);
    expect(maxPending).toBeLessThanOrEqual(4);
    expect(r.bytesPerPath[1]).toBeGreaterThan(0);
  });

  it('an MP_JOIN naming an unknown token gets a reset and creates nothing', () => {
    const rng = new SeededRandom(seed);
    const server = new Endpoint({ random: rng, scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
    server.listen(443);
    const p = server.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.2', port: 4000 });
    const syn = emitSegment({
      srcPort: 50000, dstPort: 443, seq: 1, ack: 0, flags: TcpFlag.SYN, window: 65535, checksum: 0, urgent: 0,
      options: [{ kind: 'mptcp', option: { type: 'mp-join-syn', backup: false, addressId: 1, token: 0xdeadbeef, nonce: 7 } }],
      payload: new Uint8Array(0),
    });
    server.handleSegment(0, p, syn);
    const out = server.pollTransmit(0);
    expect(out).not.toBeNull();
    expect(parseSegment(out!.bytes).flags & TcpFlag.RST).toBeTruthy();
    expect([...server.connections()].length).toBe(0);
    expect(server.stats.joinsRefused).toBe(1);
  });
});

/** A path whose middlebox strips MPTCP options in both directions. */
function strippedPath(link: LinkOptions): PathSpec {
  const stripped = { ...link, transforms: [mptcpOptionStripper] };
  return { forward: stripped, backward: stripped };
}

describe('fallback to TCP (RFC 8684 §3.7)', () => {
  it('a middlebox that strips MPTCP options both ways: both ends fall back, data still arrives', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [strippedPath({ ...wifi, loss: 0.01 })],
      upload: 1_000_000,
      download: 1_000_000,
    });
    console.log(describeResult(r));
    expect(r.ok).toBe(true);
    expect(r.ctx.clientConn.fallback).toBe(true);
    expect(r.ctx.serverConn?.fallback).toBe(true);
  });

  it('a client that refuses fallback: the connect fails with a handshake error', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [strippedPath(wifi)],
      upload: 1000,
      download: 1000,
      config: { allowFallback: false },
      serverConfig: { allowFallback: true },
      limitMs: 60_000,
    });
    console.log(describeResult(r));
    expect(r.clientError).toBe('ERR_MPTUN_HANDSHAKE');
  });

  it('a server that refuses fallback resets a plain SYN', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [strippedPath(wifi)],
      upload: 1000,
      download: 1000,
      serverConfig: { allowFallback: false },
      limitMs: 60_000,
    });
    console.log(describeResult(r));
    expect(r.clientError).toBe('ERR_MPTUN_RESET');
    expect([...r.ctx.server.connections()].length).toBe(0);
  });
});

describe('closing', () => {
  it('MP_FASTCLOSE: the client aborts mid-transfer, the server sees a reset at once', () => {
    console.log('seed', seed);
    let aborted = false;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: lte }],
      upload: 5_000_000,
      download: 5_000_000,
      limitMs: 10_000,
      onTick: (ctx) => {
        if (!aborted && ctx.pair.now > 300) {
          aborted = true;
          ctx.clientConn.abort(ctx.pair.now);
        }
      },
    });
    console.log(describeResult(r));
    expect(r.clientError).toBe('ERR_MPTUN_ABORTED');
    expect(r.serverError).toBe('ERR_MPTUN_RESET');
    expect(r.timeMs).toBeLessThan(400);
  });

  it('nothing to send: both half-close at once and the close completes within a few RTTs', () => {
    console.log('seed', seed);
    const r = runTransfer({ seed, paths: [{ forward: wifi }], upload: 0, download: 0 });
    console.log(describeResult(r));
    expect(r.ok).toBe(true);
    expect(r.timeMs).toBeLessThan(200);
  });
});

/** Two endpoints on one path, connected, then left alone. */
function quietPair(config: { idleTimeoutMs?: number; keepaliveMs?: number; maxRetries?: number }) {
  const rng = new SeededRandom(seed);
  const mk = () => new Endpoint({ random: rng.fork(), scheduler: minRttScheduler, congestionControl: ccFactory('cubic'), ...config });
  const client = mk();
  const server = mk();
  server.listen(443);
  const pc = client.openPath({ host: '10.0.0.2', port: 4000 }, { host: '10.9.9.9', port: 443 });
  const ps = server.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.2', port: 4000 });
  const pair = new Pair(client, server, [{ forward: { delayMs: 10 }, pathIdA: pc, pathIdB: ps }], { seed });
  const conn = client.connect(0, { path: pc });
  const errors: Record<string, string | undefined> = {};
  const closedAt: Record<string, number> = {};
  const drain = () => {
    for (const [name, ep] of [['client', client], ['server', server]] as const) {
      for (let ev = ep.pollEvent(); ev; ev = ep.pollEvent()) {
        if (ev.type === 'closed') {
          errors[name] = ev.error?.code;
          closedAt[name] = pair.now;
        }
      }
    }
    return 'client' in closedAt && 'server' in closedAt;
  };
  return { pair, conn, errors, closedAt, drain };
}

describe('idle connections', () => {
  it('a connection that moves no data is closed by the idle timeout', () => {
    console.log('seed', seed);
    const q = quietPair({ idleTimeoutMs: 5000 });
    q.pair.run({ until: 60_000, stopWhen: q.drain });
    expect(q.errors.client).toBe('ERR_MPTUN_IDLE');
    expect(q.closedAt.client).toBeGreaterThanOrEqual(5000);
    expect(q.closedAt.client).toBeLessThan(5100);
    // The client's MP_FASTCLOSE ends the server's side too.
    expect(q.errors.server).toBe('ERR_MPTUN_RESET');
  });

  it('keepalive finds a path that died under an idle connection', () => {
    console.log('seed', seed);
    const q = quietPair({ keepaliveMs: 2000, maxRetries: 3 });
    q.pair.run({ until: 1000, stopWhen: q.drain });
    expect(q.conn.state).toBe('established');
    q.pair.forward(0).setUp(false);
    q.pair.backward(0).setUp(false);
    q.pair.run({ until: 120_000, stopWhen: q.drain });
    expect(q.errors.client).toBe('ERR_MPTUN_TIMEOUT');
    expect(q.closedAt.client).toBeLessThan(20_000);
  });

  it('without keepalive an idle, healthy connection stays up', () => {
    console.log('seed', seed);
    const q = quietPair({});
    q.pair.run({ until: 600_000, stopWhen: q.drain });
    expect(q.conn.state).toBe('established');
  });
});

describe('tokens', () => {
  it('a key whose token is taken is drawn again (RFC 8684 §3.1)', () => {
    const base = new SeededRandom(seed);
    let eightByteDraws = 0;
    // Hands out the same 8-byte key twice, then real randomness.
    const sticky: RandomSource = {
      fill(buf) {
        if (buf.length === 8 && eightByteDraws++ < 2) buf.set([1, 2, 3, 4, 5, 6, 7, 8]);
        else base.fill(buf);
      },
    };
    const client = new Endpoint({ random: sticky, scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
    const p = client.openPath({ host: '10.0.0.2', port: 4000 }, { host: '10.9.9.9', port: 443 });
    const a = client.connect(0, { path: p });
    const b = client.connect(0, { path: p });
    expect(a.token).toBe(0x66840dda); // the worked example of docs/architecture.md for key 0x0102030405060708
    expect(b.token).not.toBe(a.token);
  });

  it('when every key drawn collides, a token in use is never taken over: connect() throws, a SYN is dropped', () => {
    const base = new SeededRandom(seed);
    // Every 8-byte draw (a key) is the same: every token collides with the first connection's.
    const stuck: RandomSource = {
      fill(buf) {
        if (buf.length === 8) buf.set([1, 2, 3, 4, 5, 6, 7, 8]);
        else base.fill(buf);
      },
    };
    const ep = new Endpoint({ random: stuck, scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
    ep.listen(443);
    const out = ep.openPath({ host: '10.0.0.2', port: 4000 }, { host: '10.9.9.9', port: 443 });
    const first = ep.connect(0, { path: out });
    expect(() => ep.connect(0, { path: out })).toThrow(/unique token/);
    const inbound = ep.openPath({ host: '10.9.9.9', port: 443 }, { host: '10.0.0.3', port: 5000 });
    const syn = emitSegment({
      srcPort: 5000, dstPort: 443, seq: 1, ack: 0, flags: TcpFlag.SYN, window: 65535, checksum: 0, urgent: 0,
      options: [{ kind: 'mptcp', option: { type: 'mp-capable', version: 1, flags: 1 } }],
      payload: new Uint8Array(0),
    });
    ep.handleSegment(0, inbound, syn);
    expect(ep.stats.synsDropped).toBe(1);
    expect([...ep.connections()]).toEqual([first]);
  });
});

/** Flips one payload byte of the n-th data segment that passes, once (an ALG rewriting content). */
function corruptNthData(n: number): (bytes: Uint8Array) => Uint8Array {
  let seen = 0;
  return (bytes) => {
    const seg = parseSegment(bytes);
    if (seg.payload.length === 0 || ++seen !== n) return bytes;
    const out = bytes.slice();
    out[out.length - 1]! ^= 0xff;
    return out;
  };
}

describe('DSS checksums (RFC 8684 §3.3.1, §3.7)', () => {
  it('a payload changed in flight on the only subflow: MP_FAIL, infinite mapping, plain TCP, data intact', () => {
    console.log('seed', seed);
    let mpFailSeen = 0;
    let infiniteSeen = 0;
    const r = runTransfer({
      seed,
      paths: [{ forward: { ...wifi, transforms: [corruptNthData(20)] }, backward: wifi }],
      upload: 1_000_000,
      download: 1_000_000,
      config: { checksums: true },
      setup: (ctx) => {
        ctx.pair.onPacket = (ev) => {
          if (ev.type !== 'send') return;
          for (const o of parseSegment(ev.bytes).options) {
            if (o.kind !== 'mptcp') continue;
            if (o.option.type === 'mp-fail') mpFailSeen++;
            if (o.option.type === 'dss' && o.option.mapping?.length === 0 && !o.option.dataFin) infiniteSeen++;
          }
        };
      },
    });
    console.log(describeResult(r), 'MP_FAIL sent', mpFailSeen, 'infinite mappings sent', infiniteSeen);
    expect(r.ok).toBe(true);
    expect(mpFailSeen).toBeGreaterThan(0);
    expect(infiniteSeen).toBeGreaterThan(0);
    expect(r.ctx.clientConn.fallback).toBe(true);
    expect(r.ctx.serverConn?.fallback).toBe(true);
  });

  it('a payload changed on one of two subflows: that subflow is reset, the other carries everything', () => {
    console.log('seed', seed);
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi }, { forward: { ...lte, transforms: [corruptNthData(5)] }, backward: lte }],
      upload: 2_000_000,
      download: 1_000_000,
      config: { checksums: true },
      // minRTT only spills onto the slower path once the fast one is full; round-robin uses both at once.
      scheduler: 'roundrobin',
    });
    console.log(describeResult(r));
    expect(r.ok).toBe(true);
    expect(r.ctx.clientConn.fallback).toBe(false);
    expect(r.ctx.serverConn?.subflows().filter((s) => s.pathId === r.ctx.serverPaths[1]).length).toBe(0);
  });
});

describe('address signalling (RFC 8684 §3.4)', () => {
  it('ADD_ADDR with a valid HMAC reaches the peer and is echoed; REMOVE_ADDR withdraws it', () => {
    console.log('seed', seed);
    let step = 0;
    const r = runTransfer({
      seed,
      paths: [{ forward: { ...wifi, loss: 0.02 } }],
      upload: 300_000,
      download: 300_000,
      onTick: (ctx) => {
        const s = ctx.serverConn;
        if (!s || s.state !== 'established') return;
        if (step === 0 && ctx.pair.now > 50) {
          step = 1;
          expect(s.announceAddress(7, '10.9.9.10', 4433)).toBe(true);
          expect(s.announceAddress(8, '2001:db8::1')).toBe(true);
        } else if (step === 1 && ctx.pair.now > 150) {
          step = 2;
          s.withdrawAddresses([7]);
        }
      },
    });
    console.log(describeResult(r));
    expect(r.ok).toBe(true);
    const added = r.ctx.events.filter((e) => e.side === 'client' && e.ev.type === 'address-added').map((e) => e.ev);
    expect(added).toMatchObject([
      { addressId: 7, host: '10.9.9.10', port: 4433 },
      { addressId: 8, host: '2001:db8:0:0:0:0:0:1', port: undefined },
    ]);
    const removed = r.ctx.events.filter((e) => e.side === 'client' && e.ev.type === 'address-removed');
    expect(removed.map((e) => e.ev)).toMatchObject([{ addressIds: [7] }]);
    expect(r.ctx.clientConn.peerAddressList().map((a) => a.addressId)).toEqual([8]);
  });

  it('announcements go one at a time: the second ADD_ADDR waits for the echo of the first', () => {
    console.log('seed', seed);
    // What crossed the paths, in order: `ann N` from the server, `echo N` from the client.
    const seen: string[] = [];
    const watch = (echo: boolean) => (bytes: Uint8Array): Uint8Array => {
      for (const o of parseSegment(bytes).options) {
        if (o.kind === 'mptcp' && o.option.type === 'add-addr' && o.option.echo === echo) seen.push(`${echo ? 'echo' : 'ann'} ${o.option.addressId}`);
      }
      return bytes;
    };
    let announced = false;
    const r = runTransfer({
      seed,
      paths: [{ forward: { ...wifi, transforms: [watch(true)] }, backward: { ...wifi, transforms: [watch(false)] } }],
      upload: 300_000,
      download: 300_000,
      onTick: (ctx) => {
        const s = ctx.serverConn;
        if (announced || s?.state !== 'established') return;
        announced = s.announceAddress(7, '10.9.9.10') && s.announceAddress(8, '10.9.9.11');
      },
    });
    console.log(describeResult(r), seen.join(', '));
    expect(r.ok).toBe(true);
    expect(announced).toBe(true);
    // Linux's path manager drops an announcement that comes before it handled the last one.
    expect(seen.indexOf('ann 8')).toBeGreaterThan(seen.indexOf('echo 7'));
    expect(seen.indexOf('echo 7')).toBeGreaterThan(seen.indexOf('ann 7'));
    expect(seen).toContain('echo 8');
    expect(r.ctx.clientConn.peerAddressList().map((a) => a.addressId)).toEqual([7, 8]);
  });

  for (const shift of [0, 0x40000000]) {
    it(`a REMOVE_ADDR ${shift === 0 ? 'in the receive window acts' : 'outside the receive window (a blind injection) is ignored'}`, () => {
      console.log('seed', seed);
      // Moves every REMOVE_ADDR-bearing segment `shift` bytes along the sequence space.
      const displace = (bytes: Uint8Array): Uint8Array => {
        const seg = parseSegment(bytes);
        if (!seg.options.some((o) => o.kind === 'mptcp' && o.option.type === 'remove-addr')) return bytes;
        seg.seq = (seg.seq + shift) >>> 0;
        return emitSegment(seg);
      };
      let step = 0;
      const r = runTransfer({
        seed,
        paths: [{ forward: wifi, backward: { ...wifi, transforms: [displace] } }],
        upload: 1_000_000,
        download: 1_000_000,
        onTick: (ctx) => {
          const s = ctx.serverConn;
          if (!s || s.state !== 'established') return;
          if (step === 0) {
            step = 1;
            s.announceAddress(7, '10.9.9.10');
          } else if (step === 1 && ctx.clientConn.peerAddressList().length === 1) {
            step = 2;
            s.withdrawAddresses([7]);
          }
        },
      });
      expect(r.ok).toBe(true);
      expect(step).toBe(2);
      expect(r.ctx.clientConn.peerAddressList().map((a) => a.addressId)).toEqual(shift === 0 ? [] : [7]);
    });
  }

  it('an ADD_ADDR with a forged HMAC is ignored', () => {
    console.log('seed', seed);
    const forge = (bytes: Uint8Array): Uint8Array => {
      const seg = parseSegment(bytes);
      let hit = false;
      for (const o of seg.options) if (o.kind === 'mptcp' && o.option.type === 'add-addr' && o.option.hmac) {
        o.option.hmac[3]! ^= 0x10;
        hit = true;
      }
      return hit ? emitSegment(seg) : bytes;
    };
    let announced = false;
    const r = runTransfer({
      seed,
      paths: [{ forward: wifi, backward: { ...wifi, transforms: [forge] } }],
      upload: 100_000,
      download: 100_000,
      onTick: (ctx) => {
        if (!announced && ctx.serverConn?.state === 'established') announced = ctx.serverConn.announceAddress(3, '10.9.9.11');
      },
    });
    expect(announced).toBe(true);
    expect(r.ok).toBe(true);
    expect(r.ctx.events.some((e) => e.ev.type === 'address-added')).toBe(false);
  });
});

describe('0-RTT (the first bytes ride the SYN)', () => {
  for (const upload of [40, 1000, 5000]) {
    it(`a ${upload}-byte request in the SYN, then only the server sends: the reply arrives`, () => {
      console.log('seed', seed);
      const r = runTransfer({ seed, paths: [{ forward: { ...wifi, loss: 0.01 } }, { forward: lte }], upload, download: 2_000_000, synData: Math.min(upload, 1000) });
      console.log(describeResult(r));
      expect(r.ok).toBe(true);
    });
  }
});

describe('first byte in one round trip', () => {
  it('the server answers data that rode the SYN before the third ACK arrives (RFC 7413 §4.2 style)', () => {
    console.log('seed', seed);
    // 10 ms each way: one round trip is 20 ms (plus serialization at 50 Mbit/s).
    const r = runTransfer({ seed, paths: [{ forward: wifi }], upload: 200, download: 5000, synData: 200 });
    const firstReadable = r.ctx.events.find((e) => e.side === 'client' && e.ev.type === 'readable');
    console.log(describeResult(r), 'first reply byte at', firstReadable?.time, 'ms');
    expect(r.ok).toBe(true);
    expect(firstReadable!.time).toBeLessThan(25);
  });
});
