/**
 * The heartbeat's traffic rule (heartbeat.ts), on a stand-in WebSocket and fake timers: a
 * peer that was busy and then says nothing is pinged at once and shown stalled within twice
 * trafficSilenceMs, long before the interval rule calls it quiet; its next message ends the
 * stall. An idle peer is left to the interval rule.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { Heartbeat } from '../src/heartbeat.js';

class FakeWs extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  pings = 0;
  ping(): void {
    this.pings++;
  }
}

function start(trafficSilenceMs: number): { ws: FakeWs; hb: Heartbeat; events: string[] } {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  const ws = new FakeWs();
  const events: string[] = [];
  const at = (): number => Math.round(performance.now());
  const hb = new Heartbeat(ws as unknown as WebSocket, 1000, 30_000, {
    quiet: (silent) => events.push(`quiet ${silent} at ${at()}`),
    gone: () => events.push(`gone at ${at()}`),
    stalled: (stalled, ms) => events.push(`stalled ${stalled} at ${at()} (silent ${Math.round(ms)})`),
  }, trafficSilenceMs);
  return { ws, hb, events };
}

/** A message every 10 ms for `ms`. */
function busyFor(hb: Heartbeat, ms: number): void {
  for (let t = 0; t < ms; t += 10) {
    vi.advanceTimersByTime(10);
    hb.markAlive();
  }
}

afterEach(() => vi.useRealTimers());

describe('Heartbeat, traffic rule', () => {
  it('busy, then silent from 1500 ms: pinged at 1900, stalled at 2300 (quiet only at 3000); a message ends the stall', () => {
    const { ws, hb, events } = start(400);
    busyFor(hb, 1500);
    const pings = ws.pings;
    vi.advanceTimersByTime(400);
    expect(ws.pings, 'the ping of the traffic rule').toBe(pings + 1);
    vi.advanceTimersByTime(400);
    expect(events).toEqual(['stalled true at 2300 (silent 800)']);
    vi.advanceTimersByTime(700);
    expect(events).toEqual(['stalled true at 2300 (silent 800)', 'quiet true at 3000']);
    hb.markAlive();
    expect(events.at(-1)).toBe('stalled false at 3000 (silent 0)');
    hb.stop();
  });

  it('an idle peer (a pong a second) that goes silent is left to the interval rule', () => {
    const { hb, events } = start(400);
    for (let t = 0; t < 3000; t += 1000) {
      vi.advanceTimersByTime(1000);
      hb.markAlive();
    }
    vi.advanceTimersByTime(3000);
    expect(events).toEqual(['quiet true at 5000']);
    hb.stop();
  });

  it('off (0, a server): a busy peer gone silent is only called quiet', () => {
    const { hb, events } = start(0);
    busyFor(hb, 1500);
    vi.advanceTimersByTime(2000);
    expect(events).toEqual(['quiet true at 3000']);
    hb.stop();
  });
});
