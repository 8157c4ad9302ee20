/**
 * A peer whose application stopped reading (RFC 8684 §3.3.4): it acknowledges our segments
 * at the subflow level but its DATA_ACK stays behind and its window is zero, as the Linux
 * kernel does. What it holds must not be sent again in a flood (the kernel counts each copy as
 * MPTcpExtDuplicateData): window probes go, and one copy of the segment at the DATA_ACK after
 * a second (the data-level retransmission, for a peer that dropped it: see
 * data-level-drop.test.ts), nothing else, until the window opens.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '@mptun/core';
import { forgedServerOf, pattern } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 23;

describe('zero window at the data level', () => {
  it('data the peer acknowledged on its subflow but holds unread is not flooded again, and the transfer resumes when the window opens', () => {
    console.log('seed', seed);
    const { conn, peer } = forgedServerOf(seed);
    const data = pattern(60_000);
    expect(conn.write(data)).toBe(data.length);
    // The peer offers 20 000 bytes: the engine sends that much (one round trip per flight)
    // and waits; the peer acknowledges the first flight at both levels, keeping the right edge.
    peer.synAck(20_000);
    peer.idle(50);
    const flight = peer.dataSent();
    const flightEnd = Math.max(...flight.map((d) => d.offset + d.len));
    peer.ack(Math.max(...flight.map((d) => d.rel + d.len)), flightEnd, 20_000 - flightEnd);
    peer.idle(50);
    const first = peer.dataSent();
    expect(Math.max(...first.map((d) => d.offset + d.len))).toBe(20_000);
    const relEnd = Math.max(...first.map((d) => d.rel + d.len));
    // Every byte arrived; the application read nothing more: the DATA_ACK stays, window 0.
    const before = peer.received.length;
    peer.ack(relEnd, flightEnd, 0);
    const whileClosed = peer.idle(3000);
    const resent = peer.dataSent(peer.received.slice(before));
    console.log('segments while the window was closed:', peer.received.length - before, 'with data:', resent.length);
    // The one copy (and its subflow retransmissions, same subflow sequence) is of the segment
    // at the DATA_ACK; the data-level timer waits at least a second for it.
    expect(new Set(resent.map((d) => `${d.offset}@${d.rel}`)).size, 'distinct data segments while the window was zero').toBeLessThanOrEqual(1);
    expect(resent.every((d) => d.offset === flightEnd), 'only the segment at the DATA_ACK is sent again').toBe(true);
    // Something probed the closed window (the persist timer, RFC 9293 §3.8.6.1, until the copy
    // went; then the copy's own retransmissions), backing off: a few, not a flood.
    const probes = peer.received.slice(before).filter((s) => s.flags & TcpFlag.ACK);
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.length).toBeLessThan(10);
    expect(whileClosed.length + 1, 'nothing but probes, the copy (and the first answer)').toBeGreaterThanOrEqual(peer.received.length - before);
    // The application reads everything: the window opens and only new data follows.
    const opened = peer.received.length;
    const relAll = Math.max(...peer.dataSent().map((d) => d.rel + d.len)); // the copy, too
    peer.ack(relAll, 20_000, 40_000);
    peer.idle(100);
    const after = peer.dataSent(peer.received.slice(opened));
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after.map((d) => d.offset)), 'the first byte sent after the window opened').toBe(20_000);
    // A subflow may retransmit a segment (same subflow sequence); a second subflow sequence
    // for the same data is a copy the peer receives twice.
    const relsOf = new Map<number, Set<number>>();
    for (const d of peer.dataSent()) relsOf.set(d.offset, (relsOf.get(d.offset) ?? new Set()).add(d.rel));
    const copied = [...relsOf].filter(([, rels]) => rels.size > 1).map(([offset]) => offset);
    expect(copied.filter((o) => o !== flightEnd), 'data offsets sent under two subflow sequence numbers').toEqual([]);
  });
});
