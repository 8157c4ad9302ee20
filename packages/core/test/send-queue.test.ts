/**
 * SendQueue.split: a segment too large for the path's new MSS (Endpoint.setPathMss after a
 * black hole) is cut in place into pieces that keep the queue's order, its sent/unsent
 * boundary, their own parts of the DSS mapping, and FIN/DATA_FIN on the last piece only.
 */
import { describe, expect, it } from 'vitest';
import { SendQueue } from '../src/subflow/send-queue.js';
import type { SentSegment } from '../src/subflow/sent-segment.js';

function seg(rel: number, length: number, dataOffset: number, extra: Partial<SentSegment> = {}): SentSegment {
  const data = Uint8Array.from({ length }, (_, i) => (rel + i) & 0xff);
  return { rel, data, dataOffset, dataFin: false, fin: false, xmitTime: -1, xmits: 0, sacked: false, lost: false, inFlight: false, ...extra };
}

describe('SendQueue.split', () => {
  it('cuts a lost segment into MSS pieces with consecutive sequence, mapping and bytes; FIN and DATA_FIN ride the last', () => {
    const q = new SendQueue();
    const a = seg(0, 1000, 5000);
    const big = seg(1000, 2500, 6000, { xmits: 1, xmitTime: 10, lost: true, dataFin: true, fin: true });
    const c = seg(3501, 500, 8500);
    for (const s of [a, big, c]) q.push(s);
    for (let i = 0; i < 3; i++) q.advanceUnsent(); // all three sent
    const original = big.data.slice();
    const pieces = q.split(big, 1000);
    expect(pieces.map((p) => [p.rel, p.data.length, p.dataOffset, p.lost, p.xmits, p.fin, p.dataFin])).toEqual([
      [2000, 1000, 7000, true, 1, false, false],
      [3000, 500, 8000, true, 1, true, true],
    ]);
    expect([big.rel, big.data.length, big.dataOffset, big.fin, big.dataFin]).toEqual([1000, 1000, 6000, false, false]);
    expect(Buffer.concat([big.data, ...pieces.map((p) => p.data)])).toEqual(Buffer.from(original));
    expect([...q.all()].map((s) => s.rel)).toEqual([0, 1000, 2000, 3000, 3501]);
    // Still all sent: the unsent boundary moved past the new pieces.
    expect(q.sentCount()).toBe(5);
    expect(q.nextUnsent()).toBeUndefined();
  });

  it('cuts a never-sent segment and leaves the pieces unsent, in order', () => {
    const q = new SendQueue();
    const a = seg(0, 100, 0);
    const big = seg(100, 250, 100);
    q.push(a);
    q.push(big);
    q.advanceUnsent(); // a sent, big not
    q.split(big, 100);
    expect(q.unsentBytes()).toBe(250);
    const order: number[] = [];
    for (let s = q.nextUnsent(); s; s = q.nextUnsent()) {
      order.push(s.rel);
      q.advanceUnsent();
    }
    expect(order).toEqual([100, 200, 300]);
  });

  it('leaves a segment in flight, or one that fits, as it is', () => {
    const q = new SendQueue();
    const flying = seg(0, 3000, 0, { inFlight: true, xmits: 1 });
    const fits = seg(3000, 800, 3000);
    q.push(flying);
    q.push(fits);
    expect(q.split(flying, 1000)).toEqual([]);
    expect(q.split(fits, 1000)).toEqual([]);
    expect([...q.all()].map((s) => s.data.length)).toEqual([3000, 800]);
  });
});
