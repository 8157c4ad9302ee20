import { describe, it, expect } from 'vitest';
import { SeededRandom } from '@mptun/core';
import type { LinkOptions } from '@mptun/sim';
import type { LinkClock } from '../src/clock.js';
import { RealtimeLink, type LinkMode } from '../src/realtime-link.js';

/**
 * A virtual clock: timers fire exactly at their time, in order, when the test advances.
 * It also watches the emulator's promise of one timer per link.
 */
class VirtualClock implements LinkClock {
  t = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  maxPending = 0;

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, delayMs: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + delayMs, fn });
    this.maxPending = Math.max(this.maxPending, this.timers.size);
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Move time to `to`, firing every timer due on the way at its own time. */
  advanceTo(to: number): void {
    for (;;) {
      let nextId = -1;
      let next: { at: number; fn: () => void } | undefined;
      for (const [id, timer] of this.timers) {
        if (timer.at <= to && (next === undefined || timer.at < next.at)) {
          next = timer;
          nextId = id;
        }
      }
      if (next === undefined) break;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = to;
  }
}

interface Delivery {
  id: number;
  at: number;
  length: number;
}

function makeLink(options: LinkOptions, opts: { seed?: number; mode?: LinkMode; maxHeldBytes?: number } = {}) {
  const clock = new VirtualClock();
  const deliveries: Delivery[] = [];
  const link = new RealtimeLink<number>({
    options,
    clock,
    mode: opts.mode ?? 'datagram',
    random: new SeededRandom(opts.seed ?? 1),
    deliver: (bytes, id) => deliveries.push({ id, at: clock.now(), length: bytes.length }),
    ...(opts.maxHeldBytes !== undefined ? { maxHeldBytes: opts.maxHeldBytes } : {}),
  });
  return { clock, link, deliveries };
}

const packet = (size: number): Uint8Array => new Uint8Array(size);

describe('RealtimeLink (virtual clock)', () => {
  it('delivers at once, synchronously, on an ideal link', () => {
    const { link, deliveries, clock } = makeLink({});
    link.offer(packet(100), 1);
    link.offer(packet(100), 2);
    expect(deliveries.map((d) => d.id)).toEqual([1, 2]);
    expect(clock.pending).toBe(0);
  });

  it('serializes at the rate: 1250-byte packets at 10 Mbit/s leave 1 ms apart', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 10e6, queue: { bytes: 1e6 } });
    for (let i = 0; i < 20; i++) link.offer(packet(1250), i);
    clock.advanceTo(100);
    expect(deliveries.map((d) => d.id)).toEqual([...Array(20).keys()]);
    deliveries.forEach((d, i) => expect(d.at).toBeCloseTo(i + 1, 9));
    expect(link.stats.peakQueueBytes).toBe(20 * 1250);
    expect(link.stats.queueBytes).toBe(0);
  });

  it('adds the propagation delay after serialization', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 10e6, delayMs: 25 });
    link.offer(packet(1250), 0);
    link.offer(packet(1250), 1);
    clock.advanceTo(100);
    expect(deliveries.map((d) => d.at)).toEqual([26, 27]);
  });

  it('drops at the tail once the queue bound is reached (an empty queue takes one packet)', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 10e6, queue: { bytes: 5000 } });
    const accepted = Array.from({ length: 10 }, (_, i) => link.offer(packet(1250), i));
    expect(accepted).toEqual([true, true, true, true, false, false, false, false, false, false]);
    expect(link.stats.dropped.queue).toBe(6);
    clock.advanceTo(50);
    expect(deliveries.map((d) => d.id)).toEqual([0, 1, 2, 3]);

    const tiny = makeLink({ rateBps: 1e6, queue: { bytes: 10 } });
    expect(tiny.link.offer(packet(1500), 0)).toBe(true);
    expect(tiny.link.offer(packet(1500), 1)).toBe(false);
  });

  it('sizes a queue given in ms at the current rate', () => {
    const { link } = makeLink({ rateBps: 8e6, queue: { ms: 10 } });
    expect(link.queueLimitBytes).toBe(10_000);
    link.setOptions({ rateBps: 16e6 });
    expect(link.queueLimitBytes).toBe(20_000);
  });

  it('keeps FIFO order under jitter, each packet no earlier than its delay', () => {
    const seed = 7;
    console.log(`jitter seed ${seed}`);
    const { link, deliveries, clock } = makeLink({ delayMs: 20, jitterMs: 15 }, { seed });
    const sentAt: number[] = [];
    for (let i = 0; i < 200; i++) {
      clock.advanceTo(i * 0.5);
      sentAt.push(clock.now());
      link.offer(packet(200), i);
    }
    clock.advanceTo(1000);
    expect(deliveries.map((d) => d.id)).toEqual([...Array(200).keys()]);
    for (const d of deliveries) expect(d.at).toBeGreaterThanOrEqual(sentAt[d.id]! + 20);
    const extra = deliveries.map((d) => d.at - sentAt[d.id]! - 20);
    expect(Math.max(...extra)).toBeGreaterThan(5); // jitter did something
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.at).toBeGreaterThanOrEqual(deliveries[i - 1]!.at);
  });

  it('loses about the configured share (seeded)', () => {
    const seed = 424242;
    console.log(`loss seed ${seed}`);
    const { link, deliveries } = makeLink({ loss: 0.1 }, { seed });
    const n = 20_000;
    for (let i = 0; i < n; i++) link.offer(packet(100), i);
    const lost = link.stats.dropped.loss;
    expect(lost + deliveries.length).toBe(n);
    expect(lost / n).toBeGreaterThan(0.09);
    expect(lost / n).toBeLessThan(0.11);
  });

  it('loses in bursts under Gilbert-Elliott: the stationary share, runs of about 1/exit', () => {
    const seed = 99;
    console.log(`burst seed ${seed}`);
    const { link } = makeLink({ gilbertElliott: { pGoodToBad: 0.01, pBadToGood: 0.25 } }, { seed });
    const n = 50_000;
    const lostFlags: boolean[] = [];
    for (let i = 0; i < n; i++) lostFlags.push(!link.offer(packet(100), i));
    const lost = lostFlags.filter(Boolean).length;
    expect(link.stats.dropped.burst).toBe(lost);
    // Stationary share of the bad state: p / (p + r) = 0.01 / 0.26 ≈ 3.8%.
    expect(lost / n).toBeGreaterThan(0.025);
    expect(lost / n).toBeLessThan(0.055);
    let runs = 0;
    for (let i = 0; i < n; i++) if (lostFlags[i] && !lostFlags[i - 1]) runs++;
    const meanRun = lost / runs;
    expect(meanRun).toBeGreaterThan(2.5); // independent loss would give runs of ~1.04
    expect(meanRun).toBeLessThan(6);
  });

  it('reorders: held packets arrive after later ones, none is lost', () => {
    const seed = 5;
    console.log(`reorder seed ${seed}`);
    const { link, deliveries, clock } = makeLink({ delayMs: 5, reorder: { probability: 0.1, extraDelayMs: 10 } }, { seed });
    const n = 2000;
    for (let i = 0; i < n; i++) {
      clock.advanceTo(i);
      link.offer(packet(100), i);
    }
    clock.advanceTo(n + 100);
    expect(deliveries).toHaveLength(n);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(n);
    let inversions = 0;
    for (let i = 1; i < n; i++) if (deliveries[i]!.id < deliveries[i - 1]!.id) inversions++;
    expect(inversions).toBeGreaterThan(n * 0.05);
    expect(link.stats.reordered / n).toBeGreaterThan(0.07);
    expect(link.stats.reordered / n).toBeLessThan(0.13);
  });

  it('duplicates about the configured share, copies right behind the original', () => {
    const seed = 11;
    console.log(`duplicate seed ${seed}`);
    const { link, deliveries } = makeLink({ duplicate: 0.05 }, { seed });
    const n = 10_000;
    for (let i = 0; i < n; i++) link.offer(packet(100), i);
    expect(deliveries.length).toBe(n + link.stats.duplicated);
    expect(link.stats.duplicated / n).toBeGreaterThan(0.04);
    expect(link.stats.duplicated / n).toBeLessThan(0.06);
    for (let i = 1; i < deliveries.length; i++) expect(deliveries[i]!.id).toBeGreaterThanOrEqual(deliveries[i - 1]!.id);
  });

  it('drops datagrams over the MTU and those a middlebox refuses', () => {
    const { link, deliveries } = makeLink({ mtu: 1280, transforms: [(b) => (b[0] === 0xff ? null : b)] });
    expect(link.offer(packet(1280), 0)).toBe(true);
    expect(link.offer(packet(1281), 1)).toBe(false);
    const marked = packet(10);
    marked[0] = 0xff;
    expect(link.offer(marked, 2)).toBe(false);
    expect(deliveries.map((d) => d.id)).toEqual([0]);
    expect(link.stats.dropped.mtu).toBe(1);
    expect(link.stats.dropped.middlebox).toBe(1);
  });

  it('datagram outage: drops what is queued, on the wire and offered; delivers again after up', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 10e6, delayMs: 10, queue: { bytes: 1e6 } });
    for (let i = 0; i < 5; i++) link.offer(packet(1250), i); // leave at 1..5 ms, arrive at 11..15 ms
    clock.advanceTo(3); // 0..2 are on the wire, 3 and 4 queued
    link.setUp(false);
    expect(clock.pending).toBe(0);
    expect(link.offer(packet(1250), 5)).toBe(false);
    clock.advanceTo(50);
    expect(deliveries).toHaveLength(0);
    expect(link.stats.dropped.outage).toBe(6);
    expect(link.heldBytes).toBe(0);
    link.setUp(true);
    link.offer(packet(1250), 6);
    clock.advanceTo(100);
    expect(deliveries.map((d) => [d.id, d.at])).toEqual([[6, 61]]);
  });

  it('stream outage: nothing is lost; bytes wait and flow on, in order, after up', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 10e6, delayMs: 10 }, { mode: 'stream' });
    for (let i = 0; i < 5; i++) link.offer(packet(1250), i);
    clock.advanceTo(3);
    link.setUp(false);
    link.offer(packet(1250), 5);
    clock.advanceTo(40);
    expect(deliveries).toHaveLength(0);
    expect(clock.pending).toBe(0);
    expect(link.heldBytes).toBe(6 * 1250);
    link.setUp(true); // at 40: the three on the wire are overdue, the queue restarts
    clock.advanceTo(100);
    expect(deliveries.map((d) => d.id)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(deliveries.slice(0, 3).map((d) => d.at)).toEqual([40, 40, 40]);
    expect(deliveries.slice(3).map((d) => d.at)).toEqual([51, 52, 53]);
    expect(Object.values(link.stats.dropped).every((n) => n === 0)).toBe(true);
  });

  it('stream mode ignores the queue bound (the relay applies backpressure instead)', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 1e6, queue: { bytes: 1000 } }, { mode: 'stream' });
    for (let i = 0; i < 10; i++) expect(link.offer(packet(1000), i)).toBe(true);
    expect(link.heldBytes).toBe(10_000);
    clock.advanceTo(1000);
    expect(deliveries).toHaveLength(10);
  });

  it('a rate change applies from the next packet; the one in service finishes at the old rate', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 10e6, queue: { bytes: 1e6 } });
    for (let i = 0; i < 3; i++) link.offer(packet(1250), i);
    clock.advanceTo(0.5);
    link.setOptions({ rateBps: 1e6 }); // 10 ms per packet from now on
    clock.advanceTo(100);
    expect(deliveries.map((d) => d.at)).toEqual([1, 11, 21]);
  });

  it('one timer per link, batching what is due: 10 000 packets at 1 Gbit/s take ~100 wakeups', () => {
    const { link, deliveries, clock } = makeLink({ rateBps: 1e9, queue: { bytes: 64e6 }, delayMs: 2 });
    const n = 10_000; // 1250 B at 1 Gbit/s = 10 µs each: 100 ms in all
    let next = 0;
    // Offer in bursts every 1 ms, as a socket would hand them over, and let real-looking
    // timer granularity (whole ms) decide the wakeups.
    for (let ms = 0; next < n; ms++) {
      clock.advanceTo(ms);
      for (let k = 0; k < 100 && next < n; k++) link.offer(packet(1250), next++);
    }
    clock.advanceTo(500);
    expect(deliveries).toHaveLength(n);
    expect(clock.maxPending).toBe(1);
    expect(link.stats.timerArms).toBeLessThan(300);
    const last = deliveries[n - 1]!;
    expect(last.at).toBeGreaterThanOrEqual(102); // 100 ms of serialization + 2 ms delay
    expect(last.at).toBeLessThan(106);
  });

  it('caps what a datagram link holds in memory', () => {
    const { link } = makeLink({ delayMs: 1000 }, { maxHeldBytes: 10_000 });
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (link.offer(packet(1000), i)) accepted++;
    expect(accepted).toBe(10);
    expect(link.stats.dropped.overflow).toBe(90);
  });

  it('close() clears the timer, discards what is inside and refuses more', () => {
    const { link, deliveries, clock } = makeLink({ delayMs: 10 });
    link.offer(packet(100), 0);
    expect(clock.pending).toBe(1);
    link.close();
    expect(clock.pending).toBe(0);
    expect(link.offer(packet(100), 1)).toBe(false);
    clock.advanceTo(100);
    expect(deliveries).toHaveLength(0);
  });

  it('a delivery callback may offer again without breaking order', () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    const link: RealtimeLink<number> = new RealtimeLink<number>({
      options: { delayMs: 1 },
      clock,
      random: new SeededRandom(3),
      deliver: (_b, id) => {
        seen.push(id);
        if (id < 5) link.offer(packet(10), id + 1);
      },
    });
    link.offer(packet(10), 0);
    clock.advanceTo(20);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
