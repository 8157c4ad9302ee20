/**
 * The path session on virtual time: a client and a small server (one shared responder,
 * sessions filed by index) joined by a link with a fixed one-way delay and a switch that
 * drops everything. Deterministic: seeded keys and indexes, the seed printed.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { libsodiumWrappersBackend } from '../src/crypto/libsodium-wrappers.js';
import { HandshakeInitiator, HandshakeResponder } from '../src/handshake.js';
import { IndexTable } from '../src/index-table.js';
import { MessageType, messageType, receiverIndex } from '../src/messages.js';
import { PathSession, type PathDownReason, type PathSessionTimers } from '../src/path-session.js';
import { SessionDriver } from '../src/session-driver.js';
import { seededKeypair } from './helpers.js';

const SEED = 20261206;
const START = 1_790_000_000_000; // wall clock ms (the handshake timestamp is wall-clock time)
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A virtual clock with one-shot timers, run in time order. */
class VirtualTime {
  now = START;
  private seq = 0;
  private events: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  after(delayMs: number, fn: () => void): () => void {
    const ev = { at: this.now + delayMs, seq: this.seq++, fn, live: true };
    this.events.push(ev);
    return () => {
      ev.live = false;
    };
  }

  runUntil(t: number): void {
    for (;;) {
      this.events = this.events.filter((e) => e.live);
      this.events.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const ev = this.events[0];
      if (ev === undefined || ev.at > t) break;
      this.events.shift();
      this.now = Math.max(this.now, ev.at);
      ev.fn();
    }
    this.now = t;
  }
}

interface Log {
  up: number[];
  down: { reason: PathDownReason; at: number }[];
  got: string[];
}

const newLog = (): Log => ({ up: [], down: [], got: [] });

const DEFAULTS: PathSessionTimers = { handshakeTimeoutMs: 10_000, handshakeRetryMs: 1_000, keepaliveMs: 15_000, idleTimeoutMs: 60_000 };

async function world(opts: { oneWayMs: number; timers?: Partial<PathSessionTimers>; serverTimers?: Partial<PathSessionTimers>; oldServer?: boolean }) {
  console.log(`path-session world seed ${SEED}, one-way delay ${opts.oneWayMs} ms`);
  const crypto = await libsodiumWrappersBackend();
  const time = new VirtualTime();
  const clientKeys = seededKeypair(crypto, SEED + 1);
  const serverKeys = seededKeypair(crypto, SEED + 2);
  const responder = new HandshakeResponder(crypto, { staticKeypair: serverKeys, isAllowed: () => true, random: new SeededRandom(SEED + 3) });
  const initiator = new HandshakeInitiator(crypto, { staticKeypair: clientKeys, serverPublicKey: serverKeys.publicKey, random: new SeededRandom(SEED + 4) });
  // mtu: the largest datagram the link carries either way (path MTU discovery tests).
  const link = { up: true, mtu: Infinity, toServer: [] as Uint8Array[], toClient: [] as Uint8Array[], underLoad: false };

  // Server: sessions by index, one log for all of them.
  const table = new IndexTable<SessionDriver>(new SeededRandom(SEED + 5));
  const server = { log: newLog(), drivers: [] as SessionDriver[], dropRekeys: false, maxDatagram: [] as Array<{ bytes: number; at: number }> };
  const serverTimers = { ...DEFAULTS, ...opts.timers, ...opts.serverTimers };
  const toClient = (m: Uint8Array): void => {
    link.toClient.push(m);
    if (link.up && m.length <= link.mtu) time.after(opts.oneWayMs, () => clientDriver.receive(m));
  };
  const serverReceive = (m: Uint8Array): void => {
    if (messageType(m) === MessageType.Data || messageType(m) === MessageType.Probe) {
      const d = table.get(receiverIndex(m)!);
      const r = d?.receive(m);
      if (r instanceof Uint8Array && r.length > 0) server.log.got.push(str(r));
      return;
    }
    if (messageType(m) !== MessageType.Initiation) return;
    const result = responder.consumeInitiation(m, { now: time.now, source: 'client', underLoad: link.underLoad, allocateIndex: () => table.freshIndex() });
    if (result.kind === 'cookie') toClient(result.reply);
    if (result.kind !== 'accept') return;
    const replaced = result.replacesIndex === 0 ? undefined : table.get(result.replacesIndex);
    if (replaced !== undefined) {
      if (server.dropRekeys) return;
      expect(replaced.session.acceptRekey(result, time.now)).toBe(true);
      table.set(result.keys.localIndex, replaced);
      replaced.flush();
      return;
    }
    const session = PathSession.responder({ ...serverTimers, crypto, accepted: result, onKeyRetired: (i) => table.delete(i), now: time.now });
    const driver = new SessionDriver(session, {
      now: () => time.now,
      setTimer: (ms, fn) => time.after(ms, fn),
      transmit: toClient,
      onUp: () => server.log.up.push(time.now),
      onDown: (reason) => server.log.down.push({ reason, at: time.now }),
      onMaxDatagram: (bytes) => server.maxDatagram.push({ bytes, at: time.now }),
    });
    table.set(result.keys.localIndex, driver);
    server.drivers.push(driver);
    driver.start();
  };

  // Client.
  const clientIndexes = new IndexTable<true>(new SeededRandom(SEED + 6));
  const client = { log: newLog(), claimed: 0, silence: [] as Array<{ silent: boolean; at: number }>, maxDatagram: [] as Array<{ bytes: number; at: number }> };
  const clientSession = PathSession.initiator({
    ...DEFAULTS,
    ...opts.timers,
    initiator,
    now: time.now,
    indexes: {
      claim: () => {
        const i = clientIndexes.freshIndex();
        clientIndexes.set(i, true);
        client.claimed++;
        return i;
      },
      release: (i) => clientIndexes.delete(i),
    },
  });
  const clientDriver = new SessionDriver(clientSession, {
    now: () => time.now,
    setTimer: (ms, fn) => time.after(ms, fn),
    transmit: (m) => {
      link.toServer.push(m);
      // oldServer: a server from before probes, which drops type 5 like any unknown message.
      if (opts.oldServer && m[0] === MessageType.Probe) return;
      if (link.up && m.length <= link.mtu) time.after(opts.oneWayMs, () => serverReceive(m));
    },
    onUp: () => client.log.up.push(time.now),
    onDown: (reason) => client.log.down.push({ reason, at: time.now }),
    onSilence: (silent) => client.silence.push({ silent, at: time.now }),
    onMaxDatagram: (bytes) => client.maxDatagram.push({ bytes, at: time.now }),
  });
  const originalReceive = clientDriver.receive.bind(clientDriver);
  clientDriver.receive = (m) => {
    const r = originalReceive(m);
    if (r instanceof Uint8Array && r.length > 0) client.log.got.push(str(r));
    return r;
  };
  clientDriver.start();
  return { time, link, client, clientDriver, clientSession, clientIndexes, server, table, serverReceive, toClient };
}

describe(`PathSession (seed ${SEED})`, () => {
  it('completes a handshake at 3 s round trip with 1 s retries: earlier initiations stay answerable', async () => {
    const w = await world({ oneWayMs: 1_500 });
    w.time.runUntil(START + 2_999);
    // Three initiations in flight by now, none answered yet.
    expect(w.client.log.up).toEqual([]);
    expect(w.clientSession.pendingInitiations).toBe(3);
    w.time.runUntil(START + 3_000);
    // The response to the FIRST initiation arrives at 3 s and completes the session.
    expect(w.client.log.up).toEqual([START + 3_000]);
    expect(w.clientSession.pendingInitiations).toBe(0);
    // Only the index under which the keys live is still claimed.
    expect(w.clientIndexes.size).toBe(1);
    w.time.runUntil(START + 20_000);
    // The server reports exactly one session up (the one the client confirmed) …
    expect(w.server.log.up).toEqual([START + 4_500]);
    // … and forgets the others it answered, unconfirmed, after the handshake timeout.
    expect(w.server.log.down.map((d) => d.reason)).toEqual(['unconfirmed', 'unconfirmed']);
    expect(w.client.log.down).toEqual([]);
    expect(w.clientDriver.send(text('over a long path'))).toBe(true);
    w.time.runUntil(START + 22_000);
    expect(w.server.log.got).toEqual(['over a long path']);
  });

  it('gives up with handshake-timeout when nothing answers, and releases every index it claimed', async () => {
    const w = await world({ oneWayMs: 10 });
    w.link.up = false;
    w.time.runUntil(START + 9_999);
    expect(w.clientSession.pendingInitiations).toBe(10);
    w.time.runUntil(START + 10_000);
    expect(w.client.log.down).toEqual([{ reason: 'handshake-timeout', at: START + 10_000 }]);
    expect(w.client.claimed).toBe(10);
    expect(w.clientIndexes.size).toBe(0);
    expect(w.clientSession.nextDeadline()).toBeNull();
  });

  it('a reliable carrier (retry null) sends exactly one initiation', async () => {
    const w = await world({ oneWayMs: 4_000, timers: { handshakeRetryMs: null } });
    w.time.runUntil(START + 8_000);
    expect(w.link.toServer.filter((m) => messageType(m) === MessageType.Initiation)).toHaveLength(1);
    expect(w.client.log.up).toEqual([START + 8_000]);
  });

  it('answers a cookie reply at once with a fresh initiation carrying mac2', async () => {
    const w = await world({ oneWayMs: 50 });
    // The server is under load from the start: the first initiation gets a cookie reply.
    w.link.underLoad = true;
    w.time.runUntil(START + 500);
    expect(w.link.toClient.filter((m) => messageType(m) === MessageType.CookieReply)).toHaveLength(1);
    // The second initiation went out at 100 ms (on the cookie), not at the 1 s retry.
    expect(w.client.log.up).toEqual([START + 200]);
    expect(w.server.log.up).toEqual([START + 250]);
  });

  it('keepalives hold an idle path; a silent peer is declared gone at the idle timeout', async () => {
    const w = await world({ oneWayMs: 20, timers: { keepaliveMs: 1_000, idleTimeoutMs: 5_000 } });
    w.time.runUntil(START + 30_000);
    expect(w.client.log.down).toEqual([]);
    expect(w.server.log.down).toEqual([]);
    const keepalives = w.link.toServer.filter((m) => messageType(m) === MessageType.Data && m.length === 32).length;
    expect(keepalives).toBeGreaterThanOrEqual(29);
    w.link.up = false;
    const cut = w.time.now;
    w.time.runUntil(cut + 10_000);
    expect(w.client.log.down.map((d) => d.reason)).toEqual(['peer-gone']);
    expect(w.server.log.down.map((d) => d.reason)).toEqual(['peer-gone']);
    // Both sides give up within one idle timeout (+ the last message's flight) of the cut.
    for (const d of [...w.client.log.down, ...w.server.log.down]) expect(d.at - cut).toBeLessThanOrEqual(5_000);
  });

  it('a cut-off path: the client reports silence, handshakes again, and the same path carries on when the link returns', async () => {
    const w = await world({ oneWayMs: 20, timers: { keepaliveMs: 500, idleTimeoutMs: 30_000, silenceMs: 2_500 } });
    w.time.runUntil(START + 5_000);
    const serverDriver = w.server.drivers[0]!;
    w.link.up = false;
    const cut = w.time.now;
    w.time.runUntil(cut + 6_000);
    // Silent within silenceMs of the last message heard; no side ended its session.
    expect(w.client.silence.map((e) => e.silent)).toEqual([true]);
    expect(w.client.silence[0]!.at - cut).toBeLessThanOrEqual(2_500);
    const tries = w.link.toServer.filter((m, i) => i > 0 && messageType(m) === MessageType.Initiation).length;
    expect(tries, 'handshakes again every retry while silent').toBeGreaterThanOrEqual(3);
    w.link.up = true;
    w.time.runUntil(cut + 8_000);
    expect(w.client.silence.map((e) => e.silent)).toEqual([true, false]);
    // The live server took the handshake as a rekey of the same session: one server session.
    expect(w.server.drivers).toHaveLength(1);
    expect(serverDriver.session.isUp).toBe(true);
    expect(w.clientDriver.send(text('after the outage'))).toBe(true);
    w.time.runUntil(cut + 8_100);
    expect(w.server.log.got).toEqual(['after the outage']);
    expect([...w.client.log.down, ...w.server.log.down]).toEqual([]);
  });

  it('a frozen server that wakes to every retry queued: the client settles on the keys the server kept', async () => {
    const w = await world({ oneWayMs: 20, timers: { keepaliveMs: 500, idleTimeoutMs: 30_000, silenceMs: 2_500 } });
    w.time.runUntil(START + 2_000);
    w.link.up = false;
    const frozenFrom = w.link.toServer.length;
    w.time.runUntil(START + 7_000);
    const queued = w.link.toServer.slice(frozenFrom);
    expect(queued.filter((m) => messageType(m) === MessageType.Initiation).length, 'retries queued').toBeGreaterThanOrEqual(2);
    // The server wakes and reads its socket's queue in one go; the link works again.
    w.link.up = true;
    for (const m of queued) w.serverReceive(m);
    w.time.runUntil(START + 7_500);
    expect(w.client.silence.map((e) => e.silent)).toEqual([true, false]);
    expect(w.server.drivers).toHaveLength(1);
    expect(w.clientDriver.send(text('after the thaw'))).toBe(true);
    w.time.runUntil(START + 7_600);
    expect(w.server.log.got).toEqual(['after the thaw']);
    // And still, well past the grace of the keys it replaced.
    w.time.runUntil(START + 30_000);
    expect(w.clientDriver.send(text('much later'))).toBe(true);
    w.time.runUntil(START + 30_100);
    expect(w.server.log.got).toEqual(['after the thaw', 'much later']);
    expect([...w.client.log.down, ...w.server.log.down]).toEqual([]);
  });

  it('a restarted server answers the silent client as a new session', async () => {
    const w = await world({ oneWayMs: 20, timers: { keepaliveMs: 500, idleTimeoutMs: 30_000, silenceMs: 2_500 } });
    w.time.runUntil(START + 2_000);
    // The server forgets everything (a restart): its sessions and their indexes are gone.
    for (const d of w.server.drivers.splice(0)) {
      for (const i of d.session.localIndexes) w.table.delete(i);
      d.close();
    }
    w.time.runUntil(START + 7_000);
    expect(w.client.silence.map((e) => e.silent)).toEqual([true, false]);
    expect(w.server.drivers).toHaveLength(1);
    expect(w.server.log.up).toHaveLength(2);
    expect(w.clientDriver.send(text('to the new server'))).toBe(true);
    w.time.runUntil(START + 7_100);
    expect(w.server.log.got).toEqual(['to the new server']);
    expect(w.client.log.down).toEqual([]);
  });

  it('rekeys on time while segments flow, both ways, losing none', async () => {
    const limits = { rekeyAfterMs: 2_000, rejectAfterMs: 5_000, previousKeyGraceMs: 500 };
    const w = await world({ oneWayMs: 30, timers: { channelLimits: limits } });
    w.time.runUntil(START + 100);
    const sent: string[] = [];
    const serverDriver = w.server.drivers[0]!;
    for (let i = 0; i < 200; i++) {
      w.time.runUntil(START + 100 + i * 50);
      const up = `u${i}`;
      const down = `d${i}`;
      expect(w.clientDriver.send(text(up))).toBe(true);
      expect(serverDriver.send(text(down))).toBe(true);
      sent.push(up);
    }
    w.time.runUntil(START + 11_000);
    expect(w.server.log.got).toEqual(sent);
    expect(w.client.log.got).toHaveLength(200);
    expect(w.clientSession.rekeyCount).toBeGreaterThanOrEqual(4);
    expect(serverDriver.session.rekeyCount).toBe(w.clientSession.rekeyCount);
    expect(w.client.log.down).toEqual([]);
    // Retired key sets were unfiled: the server holds at most current, previous and next.
    expect(w.table.size).toBeLessThanOrEqual(3);
  });

  it('a rekey the server never answers ends the path with keys-expired', async () => {
    const limits = { rekeyAfterMs: 2_000, rejectAfterMs: 5_000 };
    const w = await world({ oneWayMs: 30, timers: { channelLimits: limits, keepaliveMs: 500 } });
    w.time.runUntil(START + 100);
    w.server.dropRekeys = true;
    w.time.runUntil(START + 6_000);
    expect(w.client.log.down.map((d) => d.reason)).toEqual(['keys-expired']);
    expect(w.server.log.down.map((d) => d.reason)).toEqual(['keys-expired']);
    expect(w.clientIndexes.size).toBe(0);
  });

  it('a replayed initiation gets an answer but never a path: its sender cannot confirm', async () => {
    const w = await world({ oneWayMs: 10 });
    w.time.runUntil(START + 100);
    expect(w.server.log.up).toHaveLength(1);
    // A second server with its own replay record (another listener, a restart) sees a captured initiation.
    const captured = w.link.toServer.find((m) => messageType(m) === MessageType.Initiation)!;
    const other = await world({ oneWayMs: 10 });
    other.link.up = false; // its own client stays quiet
    other.serverReceive(captured);
    expect(other.server.drivers).toHaveLength(1); // the responder answered …
    other.time.runUntil(other.time.now + 20_000);
    expect(other.server.log.up).toEqual([]); // … but no path was ever reported
    expect(other.server.log.down.map((d) => d.reason)).toEqual(['unconfirmed']);
    expect(other.table.size).toBe(0);
  });

  it('acceptRekey refuses keys of another client or for indexes the session does not hold', async () => {
    const w = await world({ oneWayMs: 10 });
    w.time.runUntil(START + 100);
    const serverSession = w.server.drivers[0]!.session;
    const crypto = await libsodiumWrappersBackend();
    const stranger = new HandshakeInitiator(crypto, { staticKeypair: seededKeypair(crypto, 99), serverPublicKey: seededKeypair(crypto, SEED + 2).publicKey });
    const responder = new HandshakeResponder(crypto, { staticKeypair: seededKeypair(crypto, SEED + 2), isAllowed: () => true });
    const foreign = responder.consumeInitiation(stranger.initiate(w.time.now, 7, serverSession.localIndexes[0]).message, {
      now: w.time.now,
      source: 's',
      underLoad: false,
      allocateIndex: () => 12345,
    });
    if (foreign.kind !== 'accept') throw new Error(`the responder said ${foreign.kind}`);
    expect(serverSession.acceptRekey(foreign, w.time.now)).toBe(false);
    expect(serverSession.rekeyCount).toBe(0);
  });

  it('close() zeroes the session and releases its indexes without reporting down', async () => {
    const w = await world({ oneWayMs: 10 });
    w.time.runUntil(START + 100);
    w.clientDriver.close();
    expect(w.clientIndexes.size).toBe(0);
    expect(w.clientDriver.send(text('late'))).toBe(false);
    w.time.runUntil(START + 100_000);
    expect(w.client.log.down).toEqual([]);
  });
});

describe(`PathSession path MTU discovery (seed ${SEED})`, () => {
  const pmtu = { base: 1200, max: 65_507 };
  const last = (l: Array<{ bytes: number }>): number | undefined => l[l.length - 1]?.bytes;

  it('both ends find 1472 on a link that carries 1472-byte datagrams, and data still flows', async () => {
    const w = await world({ oneWayMs: 10, timers: { keepaliveMs: 200, pmtu } });
    w.link.mtu = 1472;
    w.time.runUntil(START + 10_000);
    console.log('client sizes', w.client.maxDatagram, 'server sizes', w.server.maxDatagram);
    expect(last(w.client.maxDatagram)).toBe(1472);
    expect(last(w.server.maxDatagram)).toBe(1472);
    expect(w.clientSession.maxDatagram).toBe(1472);
    expect(w.clientDriver.send(text('after the search'))).toBe(true);
    w.time.runUntil(START + 10_100);
    // Probes and their acks never reach the user of the path.
    expect(w.server.log.got).toEqual(['after the search']);
    expect(w.client.log.down).toEqual([]);
  });

  it('a black hole (the link shrinks to 1300) drops back to 1200, then finds the new size', async () => {
    const w = await world({ oneWayMs: 10, timers: { keepaliveMs: 200, pmtu } });
    w.link.mtu = 1472;
    w.time.runUntil(START + 10_000);
    expect(last(w.client.maxDatagram)).toBe(1472);
    w.link.mtu = 1300;
    // Large datagrams keep leaving (and are lost): what a black hole costs, and what makes
    // the search confirm its size.
    for (let t = START + 10_000; t < START + 30_000; t += 100) {
      w.clientDriver.send(new Uint8Array(1400));
      w.time.runUntil(t + 100);
    }
    console.log('client sizes', w.client.maxDatagram);
    const after = w.client.maxDatagram.filter((m) => m.at > START + 10_000).map((m) => m.bytes);
    expect(after[0]).toBe(1200);
    const final = last(w.client.maxDatagram)!;
    expect(final).toBeGreaterThan(1200);
    expect(final).toBeLessThanOrEqual(1300);
    // The drop came within the confirmation interval plus three probe timeouts.
    const fellAt = w.client.maxDatagram.find((m) => m.at > START + 10_000)!.at;
    expect(fellAt - (START + 10_000)).toBeLessThanOrEqual(2_000 + 3 * 1_000);
    expect(w.client.log.down).toEqual([]);
  });

  it('a peer that drops probes (from before type 5) leaves the path at its floor, up and working', async () => {
    const w = await world({ oneWayMs: 10, timers: { keepaliveMs: 200, pmtu }, serverTimers: { pmtu: null }, oldServer: true });
    w.time.runUntil(START + 10_000);
    expect(w.link.toServer.some((m) => m[0] === MessageType.Probe)).toBe(true);
    expect(w.client.maxDatagram).toEqual([]);
    expect(w.clientSession.maxDatagram).toBe(1200);
    expect(w.server.maxDatagram).toEqual([]);
    expect(w.clientDriver.send(text('at the floor'))).toBe(true);
    w.time.runUntil(START + 10_100);
    expect(w.server.log.got).toEqual(['at the floor']);
    expect(w.client.log.down).toEqual([]);
  });
});
