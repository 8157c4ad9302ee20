import { describe, expect, it } from 'vitest';
import { SimError } from '../src/errors.js';
import type { PacketEvent } from '../src/mesh.js';
import { Pair } from '../src/pair.js';
import { Echo, Pinger } from './support/endpoints.js';

describe('Pair', () => {
  it('joins two endpoints by N paths, each with its own per-direction links', () => {
    const pinger = new Pinger([0, 1], 5, 50);
    const echo = new Echo();
    const pair = new Pair(pinger, echo, [
      { forward: { delayMs: 10 }, backward: { delayMs: 15 } },
      { forward: { delayMs: 40 } }, // backward defaults to the same options
    ]);
    pair.run();
    expect(pinger.rtts.get(0)).toEqual(Array(5).fill(25));
    expect(pinger.rtts.get(1)).toEqual(Array(5).fill(80));
    expect(pair.forward(0).options.delayMs).toBe(10);
    expect(pair.backward(0).options.delayMs).toBe(15);
    expect(pair.backward(1).options.delayMs).toBe(40);
    expect(pair.forward(1)).not.toBe(pair.backward(1));
    expect(pair.forward(0).stats.delivered).toBe(5);
    expect(pair.links).toHaveLength(4);
  });

  it('uses custom pathIds and traces the endpoints as a and b', () => {
    const pinger = new Pinger([5], 1, 10);
    const echo = new Echo();
    const events: PacketEvent[] = [];
    const pair = new Pair(pinger, echo, [{ forward: { delayMs: 1 }, pathIdA: 5, pathIdB: 9 }], { onPacket: (e) => events.push(e) });
    pair.run();
    expect(events.map((e) => `${e.type} ${e.from}:${e.pathId} -> ${e.to}:${e.toPathId}`)).toEqual([
      'send a:5 -> b:9',
      'deliver a:5 -> b:9',
      'send b:9 -> a:5',
      'deliver b:9 -> a:5',
    ]);
    expect(pair.a).toBe(pinger);
    expect(pair.b).toBe(echo);
  });

  it('keeps paths independent: an outage on one leaves the other working', () => {
    const pinger = new Pinger([0, 1], 20, 10);
    const pair = new Pair(pinger, new Echo(), [{ forward: { delayMs: 2 } }, { forward: { delayMs: 3 } }]);
    pair.forward(0).schedule([{ at: 95, down: true }]);
    pair.run();
    expect(pinger.rtts.get(0)).toHaveLength(10);
    expect(pinger.rtts.get(1)).toHaveLength(20);
  });

  it('rejects a pair of one endpoint and an unknown path index', () => {
    const e = new Echo();
    expect(() => new Pair(e, e, [{}])).toThrow(SimError);
    const pair = new Pair(new Echo(), new Echo(), [{}]);
    expect(() => pair.forward(1)).toThrow(/no path 1/);
  });
});
