/**
 * Issue 14 item 3: on an unauthenticated (plain) path a server sends an unverified source no
 * more bytes than it received, over the whole SYN/ACK retry schedule, so a spoofed SYN is no
 * amplifier. Honest clients pad their SYN so one SYN/ACK fits; to a peer that does not (a
 * kernel) the SYN/ACK goes without timestamps, which makes it fit too.
 */
import { describe, expect, it } from 'vitest';
import { emitSegment, parseSegment, SeededRandom, TcpFlag } from '@mptun/core';
import { bareClientServer, bareEndpoint, clientAddress, drainEvents, serverAddress, shuttle } from '../support/bare-endpoints.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 14;

/** A client SYN with 11 bytes riding it: 55 bytes, as in the report. */
function spoofedSyn(random: SeededRandom): Uint8Array {
  const c = bareEndpoint(random);
  const path = c.openPath(clientAddress, serverAddress); // unpadded, as an attacker would send it
  c.connect(0, { path, data: new TextEncoder().encode('GET / HTTP/') });
  return c.pollTransmit(0)!.bytes;
}

/** Bytes the server sends back to one SYN over its whole retry schedule (virtual time). */
function replyBytes(authenticated: boolean): { syn: number; replies: number; datagrams: number; until: number } {
  const random = new SeededRandom(seed);
  const syn = spoofedSyn(random);
  const s = bareEndpoint(random);
  s.listen();
  const path = s.openPath(serverAddress, clientAddress, { authenticated });
  s.handleSegment(0, path, syn);
  let replies = 0;
  let datagrams = 0;
  let now = 0;
  for (;;) {
    for (let t = s.pollTransmit(now); t; t = s.pollTransmit(now)) {
      replies += t.bytes.length;
      datagrams++;
    }
    const next = s.pollTimeout();
    if (next === null || next > 10 * 60_000) break;
    now = next;
    s.handleTimeout(now);
  }
  drainEvents(s);
  return { syn: syn.length, replies, datagrams, until: now };
}

describe('reflection from an unauthenticated path', () => {
  it('one spoofed SYN draws at most its own size in replies over the whole retry schedule', () => {
    console.log('seed', seed);
    const r = replyBytes(false);
    const factor = r.replies / r.syn;
    console.log(`plain path: SYN ${r.syn} B drew ${r.replies} B in ${r.datagrams} datagrams until t=${r.until} ms: amplification ${factor.toFixed(2)}x`);
    expect(r.syn).toBe(55);
    expect(factor).toBeLessThanOrEqual(1);
    const sealed = replyBytes(true);
    console.log(`authenticated path (for comparison): ${sealed.replies} B in ${sealed.datagrams} datagrams`);
    expect(sealed.datagrams).toBeGreaterThan(r.datagrams); // retransmissions are kept where the peer is known
  });

  it('an honest client pads its SYN on a plain path and completes in one round trip', () => {
    console.log('seed', seed);
    const { c, s } = bareClientServer(new SeededRandom(seed), { client: false, server: false });
    c.ep.connect(0, { path: c.path });
    let synLength = 0;
    let synAckLength = 0;
    const at = shuttle(c, s, (events) => events.some((e) => e.type === 'subflow-up'), {
      drop: (bytes, toServer) => {
        const f = parseSegment(bytes).flags;
        if (toServer && f & TcpFlag.SYN) synLength = bytes.length;
        if (!toServer && f & TcpFlag.SYN) synAckLength = bytes.length;
        return false;
      },
    });
    console.log(`padded SYN ${synLength} B, SYN/ACK ${synAckLength} B, server up at ${at} ms; withheld ${s.ep.stats.repliesWithheld}`);
    expect(synAckLength).toBeGreaterThan(0);
    expect(synLength).toBeGreaterThanOrEqual(synAckLength);
    expect(at).toBeLessThanOrEqual(20);
    expect(s.ep.stats.repliesWithheld).toBe(0);
  });

  it('a client that does not pad (as a kernel) is answered at once: the SYN/ACK leaves its timestamps out to fit', () => {
    console.log('seed', seed);
    // The client's path counts as authenticated, so it does not pad: its SYN has the shape of
    // Linux's (MSS, SACK permitted, timestamps, window scale, MP_CAPABLE), 44 bytes.
    const { c, s } = bareClientServer(new SeededRandom(seed), { client: true, server: false });
    c.ep.connect(0, { path: c.path });
    let syn: Uint8Array | undefined;
    let synAck: Uint8Array | undefined;
    const at = shuttle(c, s, (events) => events.some((e) => e.type === 'subflow-up'), {
      maxMs: 5_000,
      drop: (bytes, toServer) => {
        if (parseSegment(bytes).flags & TcpFlag.SYN) {
          if (toServer) syn ??= bytes;
          else synAck ??= bytes;
        }
        return false;
      },
    });
    const hasTimestamps = (b: Uint8Array): boolean => parseSegment(b).options.some((o) => o.kind === 'timestamps');
    console.log(`unpadded client: SYN ${syn?.length} B (timestamps ${hasTimestamps(syn!)}), SYN/ACK ${synAck?.length} B (timestamps ${hasTimestamps(synAck!)}), server up at ${at} ms; withheld ${s.ep.stats.repliesWithheld}`);
    expect(hasTimestamps(syn!)).toBe(true);
    expect(hasTimestamps(synAck!), 'RFC 7323 §3.2: left out, so neither side uses them').toBe(false);
    expect(synAck!.length).toBeLessThanOrEqual(syn!.length);
    expect(s.ep.stats.repliesWithheld).toBe(0);
    expect(at).toBeLessThanOrEqual(20); // one round trip, not the client's 1 s SYN retransmission
    const sf = [...c.ep.connections()][0]!.subflows()[0]!;
    expect(sf.state).toBe('established');
  });

  it('a forged SYN repeated from the same source earns replies only in step with it', () => {
    const random = new SeededRandom(seed);
    const syn = parseSegment(spoofedSyn(random));
    const s = bareEndpoint(random);
    s.listen();
    const path = s.openPath(serverAddress, clientAddress, { authenticated: false });
    let sent = 0;
    let received = 0;
    for (let i = 0; i < 5; i++) {
      const bytes = emitSegment(syn);
      received += bytes.length;
      s.handleSegment(i * 100, path, bytes);
      for (let t = s.pollTransmit(i * 100); t; t = s.pollTransmit(i * 100)) sent += t.bytes.length;
    }
    console.log(`5 SYNs, ${received} B in, ${sent} B out`);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(received);
  });
});
