/**
 * RFC 8684 §3.3.6: a subflow ACK is no promise of delivery. A receiver short of memory drops
 * data it already acknowledged on the subflow (the Linux kernel does, counting
 * MPTcpExtRcvPruned), so its DATA_ACK stays below a hole while its window is open. The sender
 * must send that data again (once an RTO has passed with no progress, backing off), or the
 * connection hangs with everything written and nothing left in flight.
 */
import { describe, expect, it } from 'vitest';
import { forgedServerOf, pattern } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 29;

// With the window open, and closed: out-of-order data behind the hole fills the peer's buffer
// (the kernel's MP_PRIO case: NoDSSInWindow 1, OFOQueue 47, DATA_ACK stuck).
describe.each([
  { window: 65535, label: 'window open' },
  { window: 0, label: 'window closed' },
])('data dropped after its subflow ACK ($label)', ({ window }) => {
  it('is sent again after a second without DATA_ACK progress, backing off, and never once the DATA_ACK covers it', () => {
    console.log('seed', seed);
    const { conn, peer } = forgedServerOf(seed);
    const total = 8000; // one initial window: everything goes out in the first flight
    expect(conn.write(pattern(total))).toBe(total);
    peer.synAck(65535);
    peer.idle(20);
    const flight = peer.dataSent();
    expect(Math.max(...flight.map((d) => d.offset + d.len))).toBe(total);
    let relEnd = Math.max(...flight.map((d) => d.rel + d.len));
    const first = flight.find((d) => d.offset === 0)!;

    // The peer acknowledges every byte on the subflow but dropped the first segment: its
    // DATA_ACK stays at 0, its window wide open.
    peer.ack(relEnd, 0, window);
    const copyTimes: number[] = [];
    const seenRels = new Set([first.rel]);
    const start = peer.now;
    for (let t = 0; t < 10_000 && copyTimes.length < 2; t += 10) {
      for (const d of peer.dataSent(peer.collect(10))) {
        if (d.offset === 0 && !seenRels.has(d.rel)) {
          seenRels.add(d.rel);
          copyTimes.push(peer.now - start);
          // The copy reaches the peer's subflow and is dropped again.
          relEnd = Math.max(relEnd, d.rel + d.len);
          peer.ack(relEnd, 0, window);
        }
      }
    }
    console.log('copies of the dropped segment at (ms after the subflow ACK):', copyTimes);
    expect(copyTimes).toHaveLength(2);
    // Not before a second: a DATA_ACK that merely lags (a reader that paused) is not a loss.
    expect(copyTimes[0]).toBeGreaterThanOrEqual(1000);
    // Backed off: the second wait is at least twice the first.
    expect(copyTimes[1]! - copyTimes[0]!).toBeGreaterThanOrEqual(2 * copyTimes[0]! - 10);
    expect(conn.dataLevelRetransmissions).toBe(2);

    // The DATA_ACK finally covers everything: no further copies.
    const before = peer.received.length;
    peer.ack(relEnd, total, 65535);
    peer.idle(5000, 50);
    expect(peer.dataSent(peer.received.slice(before)), 'data sent after the DATA_ACK covered it').toEqual([]);
    expect(conn.dataLevelRetransmissions).toBe(2);
  });
});
