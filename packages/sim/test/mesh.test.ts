import type { Driveable, Transmit } from '@mptun/core';
import { describe, expect, it } from 'vitest';
import { SimError } from '../src/errors.js';
import { Link } from '../src/link.js';
import { Mesh, type PacketEvent } from '../src/mesh.js';
import {
  AckingSink,
  Chatterbox,
  Echo,
  KickoffEcho,
  Pinger,
  StopAndWaitSender,
  StuckTimer,
  WindowSender,
  Writer,
} from './support/endpoints.js';

const RATE_1000_BYTES_PER_MS = 8e6;

function caught(fn: () => unknown): SimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SimError) return e;
    throw e;
  }
  throw new Error('expected a SimError');
}

/** A pinger (pathId 7) and an echo (pathId 3) across one path. */
function pingMesh(forward: Link, backward: Link, count: number, interval: number, size = 1000) {
  const mesh = new Mesh();
  const pinger = new Pinger([7], count, interval, size);
  const echo = new Echo();
  mesh.addEndpoint(pinger, 'pinger');
  mesh.addEndpoint(echo, 'echo');
  mesh.addPath({ a: { endpoint: pinger, pathId: 7 }, b: { endpoint: echo, pathId: 3 }, forward: [forward], backward: [backward] });
  return { mesh, pinger, echo };
}

describe('Mesh carrying packets between endpoints', () => {
  it('a ping-pong endpoint measures the configured RTT, pathIds mapped per side', () => {
    const fwd = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 20 });
    const back = new Link({ rateBps: RATE_1000_BYTES_PER_MS, delayMs: 30 });
    const { mesh, pinger, echo } = pingMesh(fwd, back, 10, 100);
    const result = mesh.run();
    // 1 ms serialization + 20 ms, then 1 ms + 30 ms back.
    expect(pinger.rtts.get(7)).toEqual(Array(10).fill(52));
    expect(echo.received).toBe(10);
    expect(result.reason).toBe('idle');
    expect(result.now).toBe(952);
    expect(mesh.now).toBe(952);
  });

  it('two paths share one bottleneck link, each flow getting about half of it', () => {
    const shared = new Link({ name: 'bottleneck', rateBps: 10e6, delayMs: 10, queue: { bytes: 200_000 } });
    const senders = [new WindowSender(0, 30, 1_000_000), new WindowSender(0, 30, 1_000_000)];
    const sinks = [new AckingSink(), new AckingSink()];
    const mesh = new Mesh();
    const access: Link[] = [];
    for (let i = 0; i < 2; i++) {
      const up = new Link({ name: `access${i}`, rateBps: 100e6, delayMs: 1 });
      access.push(up);
      mesh.addPath({
        a: { endpoint: senders[i]!, pathId: 0 },
        b: { endpoint: sinks[i]!, pathId: 0 },
        forward: [up, shared],
        backward: [new Link({ delayMs: 11 })],
      });
    }
    expect(mesh.links.filter((l) => l === shared)).toHaveLength(1);
    const durationMs = 2000;
    mesh.run({ until: durationMs });
    const bits = shared.stats.bytesDelivered * 8;
    const utilization = bits / (10e6 * (durationMs / 1000));
    const share0 = sinks[0]!.bytes / (sinks[0]!.bytes + sinks[1]!.bytes);
    console.log(`bottleneck utilization ${utilization.toFixed(3)}, flow 0 share ${share0.toFixed(3)}`);
    expect(shared.stats.delivered).toBe(sinks[0]!.segments + sinks[1]!.segments);
    expect(utilization).toBeGreaterThan(0.95);
    expect(utilization).toBeLessThanOrEqual(1);
    expect(share0).toBeGreaterThan(0.4);
    expect(share0).toBeLessThan(0.6);
    // The standing queue is at the bottleneck (60 segments in flight, ~27 fill the pipe),
    // not on the fast access links.
    expect(shared.stats.queueBytes).toBeGreaterThan(20_000);
    for (const up of access) expect(up.stats.queueBytes).toBeLessThanOrEqual(1000);
  });

  it('a stop-and-wait sender gets every segment across lossy links; the seed fixes the outcome', () => {
    const run = (seed: number) => {
      const sender = new StopAndWaitSender(0, 200, 50);
      const sink = new AckingSink();
      const forward = new Link({ delayMs: 10, loss: 0.1, rateBps: 10e6 });
      const mesh = new Mesh({ seed });
      mesh.addPath({
        a: { endpoint: sender, pathId: 0 },
        b: { endpoint: sink, pathId: 0 },
        forward: [forward],
        backward: [new Link({ delayMs: 10, loss: 0.1 })],
      });
      mesh.run({ stopWhen: () => sender.doneAt !== null, throwOnLimit: true, until: 60_000 });
      return { sender, sink, forward };
    };
    for (const seed of [1, 2, 3]) {
      console.log(`stop-and-wait over 10% loss: seed ${seed}`);
      const { sender, sink, forward } = run(seed);
      expect(sink.expected).toBe(200);
      expect(sender.acked).toBe(200);
      expect(sender.transmissions).toBeGreaterThan(200);
      // Every transmission either reached the sink or was lost on the way.
      expect(sink.segments + forward.stats.dropped.loss).toBe(sender.transmissions);
      // One segment in flight at a time: whatever is not new is a repeat (its ack was lost).
      expect(sink.duplicates).toBe(sink.segments - 200);
    }
    expect(run(1).sender.doneAt).toBe(run(1).sender.doneAt);
    expect(run(1).sender.doneAt).not.toBe(run(2).sender.doneAt);
  });

  it('reports sends, deliveries and drops to onPacket with names and both pathIds', () => {
    const events: PacketEvent[] = [];
    const fwd = new Link({ name: 'fwd', delayMs: 5 });
    const back = new Link({ name: 'back', delayMs: 5 });
    back.schedule([{ at: 12, down: true }]);
    const { mesh } = pingMesh(fwd, back, 2, 10, 64);
    mesh.onPacket = (ev) => events.push(ev);
    mesh.run({ until: 100 });
    const summary = events.map((e) => [e.type, e.time, e.from, e.to, e.pathId, e.toPathId, e.dropped ?? '', e.link ?? '']);
    expect(summary).toEqual([
      ['send', 0, 'pinger', 'echo', 7, 3, '', ''],
      ['deliver', 5, 'pinger', 'echo', 7, 3, '', ''],
      ['send', 5, 'echo', 'pinger', 3, 7, '', ''],
      ['deliver', 10, 'echo', 'pinger', 3, 7, '', ''], // deliveries come before timeouts at an instant
      ['send', 10, 'pinger', 'echo', 7, 3, '', ''],
      ['deliver', 15, 'pinger', 'echo', 7, 3, '', ''],
      ['send', 15, 'echo', 'pinger', 3, 7, '', ''],
      ['drop', 15, 'echo', 'pinger', 3, 7, 'outage', 'back'],
    ]);
    expect(events.every((e) => e.path === 0 && e.bytes.length === 64)).toBe(true);
  });

  it('the same seed replays the same trace over noisy links, another seed does not', () => {
    const trace = (seed: number) => {
      const events: string[] = [];
      const noisy = () => new Link({ rateBps: 5e6, delayMs: 8, jitterMs: 4, loss: 0.05, duplicate: 0.02, reorder: { probability: 0.05, extraDelayMs: 3 } });
      const pinger = new Pinger([0, 1], 300, 2, 500);
      const echo = new Echo();
      const mesh = new Mesh({ seed, onPacket: (e) => events.push(`${e.type} ${e.time} ${e.path} ${e.dropped ?? ''} ${e.link ?? ''}`) });
      mesh.addPath({ a: { endpoint: pinger, pathId: 0 }, b: { endpoint: echo, pathId: 0 }, forward: [noisy()], backward: [noisy()] });
      mesh.addPath({ a: { endpoint: pinger, pathId: 1 }, b: { endpoint: echo, pathId: 1 }, forward: [noisy()], backward: [noisy()] });
      mesh.run();
      expect(mesh.links.map((l) => l.name)).toEqual(['link0', 'link1', 'link2', 'link3']); // named per mesh
      return events;
    };
    console.log('mesh determinism: seeds 11, 11, 12');
    const a = trace(11);
    expect(a.length).toBeGreaterThan(2000);
    expect(trace(11)).toEqual(a);
    expect(trace(12)).not.toEqual(a);
  });
});

describe('Mesh.run bounds', () => {
  const pinging = () => pingMesh(new Link({ delayMs: 10 }), new Link({ delayMs: 10 }), 100, 10, 64);

  it('stops as soon as stopWhen holds', () => {
    const { mesh, pinger } = pinging();
    const result = mesh.run({ stopWhen: () => pinger.answered >= 5 });
    expect(result.reason).toBe('stopped');
    expect(pinger.answered).toBe(5);
    expect(mesh.now).toBe(60); // pings at 0, 10, …; the 5th answer returns at 40 + 20
  });

  it('sends what stopWhen makes an endpoint write at that same instant', () => {
    const writer = new Writer();
    const mesh = new Mesh();
    const sendTimes: number[] = [];
    mesh.onPacket = (e) => {
      if (e.type === 'send' && e.from === 'ep0') sendTimes.push(e.time);
    };
    mesh.addPath({ a: { endpoint: writer, pathId: 0 }, b: { endpoint: new Echo(), pathId: 0 }, forward: [new Link({ delayMs: 10 })], backward: [new Link({ delayMs: 10 })] });
    let written = 0;
    const result = mesh.run({
      stopWhen: () => {
        // An app that writes again each time its previous message came back.
        if (written === writer.received && written < 3) writer.write(0, new Uint8Array(8 + written++));
        return writer.received === 3;
      },
    });
    expect(sendTimes).toEqual([0, 20, 40]);
    expect(result).toMatchObject({ reason: 'stopped', now: 60 });
  });

  it('lets stopWhen see a change an endpoint makes in pollTransmit without sending', () => {
    let closed = false;
    let due = false;
    const lazy: Driveable = {
      handleSegment() {},
      handleTimeout() {
        due = true;
      },
      pollTransmit() {
        if (due) closed = true; // finishes its close lazily, with nothing to send
        due = false;
        return null;
      },
      pollTimeout: () => (closed ? null : 50),
    };
    const mesh = new Mesh();
    mesh.addEndpoint(lazy);
    expect(mesh.run({ until: 1000, stopWhen: () => closed })).toMatchObject({ reason: 'stopped', now: 50 });
  });

  it('stops at until, leaving the clock there, and resumes from it', () => {
    const { mesh, pinger } = pinging();
    expect(mesh.run({ until: 55 })).toMatchObject({ reason: 'until', now: 55 });
    expect(pinger.answered).toBe(4);
    expect(mesh.run({ until: 100 })).toMatchObject({ reason: 'until', now: 100 });
    expect(pinger.answered).toBe(9); // the answer due at exactly 100 is delivered
  });

  it('stops after maxSteps passes', () => {
    const { mesh } = pinging();
    // Without stopWhen, one pass per instant: t=0, 10, 20.
    const result = mesh.run({ maxSteps: 3 });
    expect(result).toMatchObject({ reason: 'maxSteps', steps: 3 });
    expect(mesh.now).toBe(20); // the clock stays at the last instant processed
    // With an observer, each instant takes two passes: t=0, 0, 10.
    const watched = pinging().mesh;
    expect(watched.run({ maxSteps: 3, stopWhen: () => false }).now).toBe(10);
  });

  it('reports idle when nothing is left to happen, and moves the clock to a finite until', () => {
    const mesh = new Mesh();
    mesh.addPath({ a: { endpoint: new Echo(), pathId: 0 }, b: { endpoint: new Echo(), pathId: 0 }, forward: [new Link()], backward: [new Link()] });
    expect(mesh.run()).toMatchObject({ reason: 'idle', now: 0 });
    expect(mesh.run({ until: 250 })).toMatchObject({ reason: 'until', now: 250 });
  });

  it('throws STEP_LIMIT naming the seed only when asked', () => {
    const { mesh } = pinging();
    expect(mesh.run({ stopWhen: () => false, maxSteps: 10 }).reason).toBe('maxSteps');
    const e1 = caught(() => mesh.run({ stopWhen: () => false, maxSteps: 10, throwOnLimit: true }));
    expect(e1.code).toBe('STEP_LIMIT');
    expect(e1.message).toMatch(/seed 1\b/);
    expect(e1.message).toMatch(/before stopWhen held/);
    const e2 = caught(() => mesh.run({ stopWhen: () => false, until: mesh.now + 50, throwOnLimit: true }));
    expect(e2.code).toBe('STEP_LIMIT');
    // Without stopWhen, reaching until is the normal end.
    expect(mesh.run({ until: mesh.now + 50, throwOnLimit: true }).reason).toBe('until');
    expect(caught(() => mesh.run({ maxSteps: 1, throwOnLimit: true })).code).toBe('STEP_LIMIT');
  });

  it('rejects an until in the past and a bad maxSteps', () => {
    const { mesh } = pinging();
    mesh.run({ until: 10 });
    expect(caught(() => mesh.run({ until: 5 })).code).toBe('BAD_OPTION');
    expect(caught(() => mesh.run({ maxSteps: -1 })).code).toBe('BAD_OPTION');
    expect(caught(() => mesh.run({ maxSteps: 1.5 })).code).toBe('BAD_OPTION');
  });
});

describe('Mesh livelock detection', () => {
  const opts = { seed: 4711, livelockIterations: 1000, livelockTransmits: 10_000 };

  it('fires when an endpoint never stops transmitting at one instant', () => {
    const mesh = new Mesh(opts);
    const chatty = new Chatterbox();
    mesh.addEndpoint(chatty, 'chatty');
    mesh.addPath({ a: { endpoint: chatty, pathId: 0 }, b: { endpoint: new Echo(), pathId: 0 }, forward: [new Link({ delayMs: 1 })], backward: [new Link({ delayMs: 1 })] });
    const e = caught(() => mesh.run({ until: 100 }));
    expect(e.code).toBe('LIVELOCK');
    expect(e.message).toMatch(/segments sent at one instant.*chatty/);
    expect(e.message).toMatch(/seed 4711/);
  });

  it('fires when endpoints ping-pong over zero-delay links without time advancing', () => {
    const mesh = new Mesh(opts);
    const a = new KickoffEcho();
    const b = new Echo();
    mesh.addPath({ a: { endpoint: a, pathId: 0 }, b: { endpoint: b, pathId: 0 }, forward: [new Link()], backward: [new Link()] });
    const e = caught(() => mesh.run({ until: 100 }));
    expect(e.code).toBe('LIVELOCK');
    expect(e.message).toMatch(/passes without time advancing/);
    expect(mesh.now).toBe(0);
    expect(b.received).toBeGreaterThanOrEqual(500); // one hop per pass
  });

  it('fires when a deadline never moves past now', () => {
    const mesh = new Mesh(opts);
    const stuck = new StuckTimer();
    mesh.addEndpoint(stuck, 'stuck');
    const e = caught(() => mesh.run({ until: 100 }));
    expect(e.code).toBe('LIVELOCK');
    expect(e.message).toMatch(/t=5 ms.*stuck/);
    expect(stuck.timeouts).toBe(1001);
  });

  it('does not fire for the same ping-pong once the links have a delay', () => {
    const mesh = new Mesh(opts);
    const b = new Echo();
    mesh.addPath({ a: { endpoint: new KickoffEcho(), pathId: 0 }, b: { endpoint: b, pathId: 0 }, forward: [new Link({ delayMs: 0.5 })], backward: [new Link({ delayMs: 0.5 })] });
    expect(mesh.run({ until: 10_000 }).reason).toBe('until');
    expect(b.received).toBe(10_000);
  });
});

describe('Mesh wiring errors', () => {
  it('rejects a pathId used twice on one endpoint, an empty route, a link of another mesh', () => {
    const mesh = new Mesh();
    const a = new Echo();
    const b = new Echo();
    mesh.addPath({ a: { endpoint: a, pathId: 0 }, b: { endpoint: b, pathId: 0 }, forward: [new Link()], backward: [new Link()] });
    expect(caught(() => mesh.addPath({ a: { endpoint: a, pathId: 0 }, b: { endpoint: b, pathId: 1 }, forward: [new Link()], backward: [new Link()] })).code).toBe('BAD_ROUTE');
    expect(caught(() => mesh.addPath({ a: { endpoint: a, pathId: 1 }, b: { endpoint: b, pathId: 1 }, forward: [], backward: [new Link()] })).code).toBe('BAD_ROUTE');
    const foreign = mesh.paths[0]!.forward[0]!;
    const other = new Mesh();
    expect(caught(() => other.addPath({ a: { endpoint: a, pathId: 0 }, b: { endpoint: b, pathId: 0 }, forward: [foreign], backward: [new Link()] })).code).toBe('BAD_ROUTE');
    expect(caught(() => mesh.addEndpoint(a)).code).toBe('BAD_ROUTE');
  });

  it('throws NO_ROUTE when an endpoint transmits on a pathId no path uses', () => {
    const lost: Driveable = {
      handleSegment() {},
      handleTimeout() {},
      pollTransmit: (() => {
        let sent = false;
        return (): Transmit | null => (sent ? null : ((sent = true), { pathId: 9, bytes: new Uint8Array(1) }));
      })(),
      pollTimeout: () => null,
    };
    const mesh = new Mesh({ seed: 3 });
    mesh.addEndpoint(lost, 'lost');
    const e = caught(() => mesh.run());
    expect(e.code).toBe('NO_ROUTE');
    expect(e.message).toMatch(/lost transmitted on pathId 9.*seed 3/);
  });

  it('throws BAD_TIMEOUT for a deadline that is not a number, and refuses a nested run', () => {
    const mesh = new Mesh();
    mesh.addEndpoint({ handleSegment() {}, handleTimeout() {}, pollTransmit: () => null, pollTimeout: () => Number.NaN });
    expect(caught(() => mesh.run()).code).toBe('BAD_TIMEOUT');

    const nested = new Mesh();
    let inner: unknown;
    nested.addEndpoint({
      handleSegment() {},
      handleTimeout() {
        try {
          nested.run();
        } catch (e) {
          inner = e;
        }
      },
      pollTransmit: () => null,
      pollTimeout: () => (inner === undefined ? 0 : null),
    });
    nested.run();
    expect(inner).toBeInstanceOf(SimError);
    expect((inner as SimError).code).toBe('BAD_OPTION');
  });
});
