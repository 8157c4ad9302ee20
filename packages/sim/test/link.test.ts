import { describe, expect, it } from 'vitest';
import { Link } from '../src/link.js';
import { SimError } from '../src/errors.js';
import { mean, Recorder, runLengths } from './support/trace.js';

// 8 Mbit/s = 1000 bytes per ms: a 1000-byte packet takes exactly 1 ms to serialize.
const RATE_1000_BYTES_PER_MS = 8e6;

/** Per-tag "was lost" flags for tags 0..count-1. */
function lostFlags(rec: Recorder, count: number): boolean[] {
  const got = new Set(rec.arrivals.map((a) => a.tag));
  return Array.from({ length: count }, (_, i) => !got.has(i));
}

describe('Link timing', () => {
  it('serializes at the configured rate and adds the propagation delay', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 10 });
    rec.sendSeries([link], 3, 1000, 0); // back to back at t=0
    rec.net.runUntil(20);
    rec.net.send([link], new Uint8Array(500), 3);
    rec.net.runUntil(100);
    expect(rec.arrivals.map((a) => a.time)).toEqual([11, 12, 13, 30.5]);
    expect(rec.order).toEqual([0, 1, 2, 3]);
    const s = link.stats;
    expect(s.sent).toBe(4);
    expect(s.delivered).toBe(4);
    expect(s.bytesDelivered).toBe(3500);
    expect(s.peakQueueBytes).toBe(3000);
    expect(s.queueBytes).toBe(0);
  });

  it('with an infinite rate only the propagation delay remains', () => {
    const rec = new Recorder();
    const link = new Link({ delayMs: 7.5 });
    rec.sendSeries([link], 3, 1500, 0);
    rec.net.runUntil(100);
    expect(rec.arrivals.map((a) => a.time)).toEqual([7.5, 7.5, 7.5]);
    expect(rec.order).toEqual([0, 1, 2]);
    expect(link.stats.peakQueueBytes).toBe(0);
  });

  it('carries a packet across several links in order, each with its own rate and delay', () => {
    const rec = new Recorder();
    const first = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 5 });
    const second = new Link({ rateBps: 2 * RATE_1000_BYTES_PER_MS, delayMs: 5 });
    rec.sendSeries([first, second], 2, 1000, 0);
    rec.net.runUntil(100);
    // first: departs 1, 2 → at second 6, 7; second serializes 0.5 ms each → 6.5+5, 7.5+5.
    expect(rec.arrivals.map((a) => a.time)).toEqual([11.5, 12.5]);
    expect(first.stats.delivered).toBe(2);
    expect(second.stats.delivered).toBe(2);
  });

  it('applies a rate change to packets that start serializing after it', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS });
    link.schedule([{ at: 50, set: { rateBps: RATE_1000_BYTES_PER_MS / 2 } }]);
    rec.net.send([link], new Uint8Array(1000), 0);
    rec.net.runUntil(60);
    rec.net.send([link], new Uint8Array(1000), 1);
    rec.net.runUntil(100);
    expect(rec.arrivals.map((a) => a.time)).toEqual([1, 62]);
    expect(link.options.rateBps).toBe(4e6);
  });
});

describe('Link drop-tail queue', () => {
  it('drops what would exceed a bound in bytes', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, queue: { bytes: 3000 } });
    rec.sendSeries([link], 10, 1000, 0);
    expect(link.queueBytes).toBe(3000);
    rec.net.runUntil(50);
    expect(rec.order).toEqual([0, 1, 2]);
    expect(rec.dropsBy('queue').map((d) => d.tag)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(link.stats.dropped.queue).toBe(7);
    expect(link.stats.peakQueueBytes).toBe(3000);
    // Drained: it takes packets again.
    rec.net.send([link], new Uint8Array(1000), 10);
    rec.net.runUntil(60);
    expect(rec.order).toEqual([0, 1, 2, 10]);
  });

  it('sizes a bound given in milliseconds at the current rate, and rescales it when the rate changes', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, queue: { ms: 5 } });
    expect(link.queueLimitBytes).toBe(5000);
    rec.sendSeries([link], 10, 1000, 0);
    rec.net.runUntil(50);
    expect(rec.order).toEqual([0, 1, 2, 3, 4]);
    link.setOptions({ rateBps: 2 * RATE_1000_BYTES_PER_MS });
    expect(link.queueLimitBytes).toBe(10_000);
    rec.sendSeries([link], 12, 1000, 0);
    rec.net.runUntil(100);
    expect(rec.arrivals.length).toBe(15);
    expect(link.stats.dropped.queue).toBe(5 + 2);
  });

  it('always takes a packet into an empty queue, even when the bound is smaller', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, queue: { bytes: 100 } });
    rec.sendSeries([link], 3, 1000, 0);
    rec.net.runUntil(10);
    expect(rec.order).toEqual([0]);
    expect(link.stats.dropped.queue).toBe(2);
  });

  it('shows bufferbloat: a full queue adds its length in delay', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 10, queue: { ms: 200 } });
    const sentAt: number[] = [];
    for (let i = 0; i < 600; i++) {
      // Offered at twice the rate: the queue fills and stays full.
      rec.net.runUntil(i * 0.5);
      sentAt.push(rec.net.now);
      rec.net.send([link], new Uint8Array(1000), i);
    }
    rec.net.runUntil(1000);
    const latencies = rec.arrivals.map((a) => a.time - sentAt[a.tag]!);
    expect(Math.min(...latencies)).toBe(11);
    expect(Math.max(...latencies)).toBeGreaterThan(200);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(211);
    expect(link.stats.peakQueueBytes).toBeLessThanOrEqual(200_000);
    expect(link.stats.dropped.queue).toBeGreaterThan(0);
  });
});

describe('Link random loss', () => {
  it('loses close to the configured fraction, independently', () => {
    const seed = 4242;
    console.log(`link iid loss: seed ${seed}`);
    const rec = new Recorder(seed);
    const link = new Link({ loss: 0.1 });
    const n = 20_000;
    rec.sendSeries([link], n, 100, 0);
    rec.net.runUntil(1);
    const lost = link.stats.dropped.loss;
    expect(lost + rec.arrivals.length).toBe(n);
    // ±5σ of a binomial(20000, 0.1): σ ≈ 0.0021.
    expect(lost / n).toBeGreaterThan(0.09);
    expect(lost / n).toBeLessThan(0.11);
    // Independent losses: runs average 1/(1-p) ≈ 1.11.
    expect(mean(runLengths(lostFlags(rec, n)))).toBeLessThan(1.25);
  });

  it('Gilbert-Elliott loses in bursts as long as the bad state lasts', () => {
    const seed = 99;
    console.log(`link Gilbert-Elliott: seed ${seed}`);
    const rec = new Recorder(seed);
    const pGoodToBad = 0.02;
    const pBadToGood = 0.25;
    const link = new Link({ gilbertElliott: { pGoodToBad, pBadToGood, lossInGood: 0, lossInBad: 1 } });
    const n = 100_000;
    rec.sendSeries([link], n, 100, 0);
    rec.net.runUntil(1);
    const bursts = runLengths(lostFlags(rec, n));
    const meanBurst = mean(bursts);
    const lossRate = link.stats.dropped.burst / n;
    console.log(`  mean burst ${meanBurst.toFixed(3)} (theory ${1 / pBadToGood}), loss ${lossRate.toFixed(4)}`);
    // Sojourn in the bad state is geometric with mean 1/pBadToGood = 4 packets.
    expect(meanBurst).toBeGreaterThan(3.5);
    expect(meanBurst).toBeLessThan(4.5);
    // Stationary share of the bad state: pGB / (pGB + pBG) ≈ 0.074.
    expect(lossRate).toBeGreaterThan(0.06);
    expect(lossRate).toBeLessThan(0.09);
    expect(link.stats.dropped.loss).toBe(0);
  });
});

describe('Link ordering', () => {
  it('keeps FIFO order under jitter', () => {
    const seed = 7;
    console.log(`link jitter FIFO: seed ${seed}`);
    const rec = new Recorder(seed);
    const link = new Link({ delayMs: 10, jitterMs: 30 });
    const n = 2000;
    rec.sendSeries([link], n, 200, 0.1);
    rec.net.runUntil(rec.net.now + 100);
    expect(rec.order).toEqual(Array.from({ length: n }, (_, i) => i));
    const latencies = rec.arrivals.map((a) => a.time - a.tag * 0.1);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(10 - 1e-9);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(40 + 1e-9);
    expect(Math.max(...latencies) - Math.min(...latencies)).toBeGreaterThan(10); // jitter is applied
    expect(link.stats.reordered).toBe(0);
  });

  it('reorders only when asked, about as often as asked', () => {
    const seed = 1234;
    console.log(`link reorder: seed ${seed}`);
    const rec = new Recorder(seed);
    const link = new Link({ delayMs: 10, reorder: { probability: 0.05, extraDelayMs: 5 } });
    const n = 4000;
    rec.sendSeries([link], n, 200, 1);
    rec.net.runUntil(rec.net.now + 100);
    expect([...rec.order].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < rec.order.length; i++) if (rec.order[i]! < rec.order[i - 1]!) inversions++;
    const share = link.stats.reordered / n;
    expect(share).toBeGreaterThan(0.035);
    expect(share).toBeLessThan(0.065);
    // Each held packet is passed by the ~5 sent during its extra 5 ms: one descent in the
    // arrival order, or fewer when held packets fall next to each other.
    expect(inversions).toBeGreaterThan(0.8 * link.stats.reordered);
    expect(inversions).toBeLessThanOrEqual(link.stats.reordered);
  });
});

describe('Link duplication and MTU', () => {
  it('duplicates about the configured fraction, each copy right behind its original', () => {
    const seed = 31337;
    console.log(`link duplicate: seed ${seed}`);
    const rec = new Recorder(seed);
    const link = new Link({ delayMs: 1, duplicate: 0.2 });
    const n = 5000;
    rec.sendSeries([link], n, 64, 0.01);
    rec.net.runUntil(rec.net.now + 10);
    const dups = link.stats.duplicated;
    expect(rec.arrivals.length).toBe(n + dups);
    expect(link.stats.delivered).toBe(n + dups);
    expect(dups / n).toBeGreaterThan(0.17);
    expect(dups / n).toBeLessThan(0.23);
    let pairs = 0;
    for (let i = 1; i < rec.arrivals.length; i++) {
      const a = rec.arrivals[i - 1]!;
      const b = rec.arrivals[i]!;
      if (a.tag !== b.tag) continue;
      pairs++;
      expect(b.time).toBe(a.time);
      expect(b.bytes).toEqual(a.bytes);
      expect(b.bytes).not.toBe(a.bytes); // a copy, not the same buffer
    }
    expect(pairs).toBe(dups);
  });

  it('drops packets larger than the MTU', () => {
    const rec = new Recorder();
    const link = new Link({ mtu: 1500 });
    rec.net.send([link], new Uint8Array(1500), 0);
    rec.net.send([link], new Uint8Array(1501), 1);
    rec.net.runUntil(1);
    expect(rec.order).toEqual([0]);
    expect(rec.drops).toEqual([{ time: 0, tag: 1, cause: 'mtu', link: link.name }]);
    expect(link.stats.dropped.mtu).toBe(1);
  });
});

describe('Link outages', () => {
  it('a scheduled outage drops what is offered, queued and on the wire, then the link recovers', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 10 });
    link.schedule([
      { at: 100.5, down: true },
      { at: 199.5, up: true },
    ]);
    const states: boolean[] = [];
    for (let t = 0; t < 300; t++) {
      rec.net.runUntil(t);
      states[t] = link.isUp;
      rec.net.send([link], new Uint8Array(1000), t);
    }
    rec.net.runUntil(400);
    // Sent at t arrives at t + 11: up to t = 89 before the outage; 90..99 are on the wire and
    // 100 is being serialized when it starts; 101..199 are offered while it lasts.
    const expected = [...Array.from({ length: 90 }, (_, i) => i), ...Array.from({ length: 100 }, (_, i) => 200 + i)];
    expect(rec.order).toEqual(expected);
    expect(link.stats.dropped.outage).toBe(110);
    expect(rec.dropsBy('outage').length).toBe(110);
    expect(states[100]).toBe(true);
    expect(states[101]).toBe(false);
    expect(states[199]).toBe(false);
    expect(states[200]).toBe(true);
    expect(link.stats.queueBytes).toBe(0);
  });

  it('flushes the whole queue when it goes down, and setUp works at run time', () => {
    const rec = new Recorder();
    const link = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 10, queue: { bytes: 100_000 } });
    rec.sendSeries([link], 20, 1000, 0);
    rec.net.runUntil(5.5);
    link.setUp(false);
    expect(link.queueBytes).toBe(0);
    rec.net.runUntil(50);
    expect(rec.arrivals).toEqual([]);
    expect(link.stats.dropped.outage).toBe(20); // 14 queued + 6 already on the wire
    link.setUp(true);
    rec.net.send([link], new Uint8Array(1000), 99);
    rec.net.runUntil(100);
    expect(rec.arrivals.map((a) => [a.tag, a.time])).toEqual([[99, 61]]);
  });
});

describe('Link transforms (middleboxes)', () => {
  it('applies transforms in order; null drops the packet', () => {
    const rec = new Recorder();
    const dropMarked = (b: Uint8Array): Uint8Array | null => (b[0] === 0xff ? null : b);
    const stamp = (b: Uint8Array): Uint8Array => {
      const out = b.slice();
      out[1] = 0xab;
      return out;
    };
    const link = new Link({ transforms: [dropMarked, stamp] });
    const marked = new Uint8Array(4).fill(0xff);
    const plain = new Uint8Array(4);
    rec.net.send([link], marked, 0);
    rec.net.send([link], plain, 1);
    rec.net.runUntil(1);
    expect(rec.order).toEqual([1]);
    expect([...rec.arrivals[0]!.bytes]).toEqual([0, 0xab, 0, 0]);
    expect([...plain]).toEqual([0, 0, 0, 0]);
    expect(rec.drops.map((d) => d.cause)).toEqual(['middlebox']);
  });
});

describe('Link determinism', () => {
  const noisy = () =>
    new Link({
      rateBps: 20e6,
      delayMs: 5,
      jitterMs: 3,
      loss: 0.02,
      gilbertElliott: { pGoodToBad: 0.01, pBadToGood: 0.3 },
      reorder: { probability: 0.03, extraDelayMs: 2 },
      duplicate: 0.02,
      queue: { ms: 20 },
    });

  function trace(seed: number): Array<[number, number]> {
    const rec = new Recorder(seed);
    rec.sendSeries([noisy(), noisy()], 3000, 1200, 0.6); // 16 Mbit/s offered
    rec.net.runUntil(rec.net.now + 200);
    return rec.arrivals.map((a) => [a.time, a.tag]);
  }

  it('the same seed gives the identical trace, another seed a different one', () => {
    console.log('link determinism: seeds 5, 5, 6');
    const a = trace(5);
    const b = trace(5);
    const c = trace(6);
    expect(a.length).toBeGreaterThan(2400);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('a link with its own seed ignores the network seed', () => {
    console.log('link own seed: 77 on networks seeded 1 and 2');
    const run = (netSeed: number): number[] => {
      const rec = new Recorder(netSeed);
      const link = new Link({ loss: 0.3, seed: 77 });
      rec.sendSeries([link], 500, 100, 0);
      rec.net.runUntil(1);
      return rec.order;
    };
    expect(run(2)).toEqual(run(1));
  });
});

describe('Link options', () => {
  it('rejects out-of-range options with SimError BAD_OPTION', () => {
    const bad = [
      { loss: 1.5 },
      { loss: -0.1 },
      { rateBps: 0 },
      { delayMs: -1 },
      { delayMs: Infinity },
      { jitterMs: Number.NaN },
      { queue: { bytes: -1 } },
      { queue: { bytes: 10, ms: 10 } as unknown as { bytes: number } },
      { duplicate: 2 },
      { mtu: 0 },
      { gilbertElliott: { pGoodToBad: 0.1, pBadToGood: 1.1 } },
      { reorder: { probability: 0.1, extraDelayMs: -5 } },
    ];
    for (const opts of bad) {
      let caught: unknown;
      try {
        new Link(opts);
      } catch (e) {
        caught = e;
      }
      expect(caught, JSON.stringify(opts)).toBeInstanceOf(SimError);
      expect((caught as SimError).code).toBe('BAD_OPTION');
    }
  });

  it('rejects malformed scripted changes before scheduling any of them', () => {
    const link = new Link();
    expect(() => link.schedule([{ at: -1, down: true }])).toThrow(SimError);
    expect(() => link.schedule([{ at: 5, set: { loss: 3 } }])).toThrow(/loss/);
    expect(() => link.schedule([{ at: 5, down: true, up: true } as never])).toThrow(/exactly one/);
  });

  it('setOptions keeps the fields it is not given, and null turns a model off', () => {
    const link = new Link({ delayMs: 3, loss: 0.1, gilbertElliott: { pGoodToBad: 0.1, pBadToGood: 0.5 } });
    link.setOptions({ loss: 0 });
    expect(link.options.delayMs).toBe(3);
    expect(link.options.gilbertElliott).toEqual({ pGoodToBad: 0.1, pBadToGood: 0.5, lossInGood: 0, lossInBad: 1 });
    link.setOptions({ gilbertElliott: null });
    expect(link.options.gilbertElliott).toBeNull();
  });
});
