import { describe, it, expect } from 'vitest';
import { StatusTracker } from '../src/status/tracker.js';
import { FakeClient, FakeSocket } from './status-fakes.js';

function twoPaths(): FakeClient {
  return new FakeClient([
    { localAddress: '127.0.0.2', transport: 'udp', backup: false, up: true },
    { localAddress: '127.0.0.3', transport: 'udp', backup: true, up: true },
  ]);
}

describe('StatusTracker', () => {
  // The client (and its connection registry) of the test at hand.
  let client: FakeClient;
  it('lists every configured path before any traffic, with zero rates', () => {
    const t = new StatusTracker((client = twoPaths()), { now: () => 1000 });
    t.sample(1000);
    const s = t.snapshot();
    expect(s.time).toBe(1000);
    expect(s.paths.map((p) => [p.localAddress, p.backup, p.up, p.rttMs, p.upBps, p.bytesUp])).toEqual([
      ['127.0.0.2', false, true, null, 0, 0],
      ['127.0.0.3', true, true, null, 0, 0],
    ]);
    expect(s.connections).toEqual([]);
  });

  it('computes rates over the last second from 500 ms samples', () => {
    let now = 0;
    const t = new StatusTracker((client = twoPaths()), { now: () => now });
    const sock = new FakeSocket(7);
    client.accept(sock, 'example.org:443');
    // 100 kB/s up and 20 kB/s down on 127.0.0.2; then it doubles from t = 1500.
    let up = 0;
    let down = 0;
    for (let i = 0; i <= 6; i++) {
      now = i * 500;
      sock.set(1, { localAddress: '127.0.0.2', bytesSent: up, bytesReceived: down, srttMs: 20 });
      t.sample(now);
      const rate = i >= 3 ? 2 : 1;
      up += 50_000 * rate;
      down += 10_000 * rate;
    }
    const p = t.snapshot().paths.find((x) => x.localAddress === '127.0.0.2')!;
    // Window [2000, 3000]: both halves at the doubled rate.
    expect(p.upBps).toBeCloseTo(200_000, 6);
    expect(p.downBps).toBeCloseTo(40_000, 6);
    expect(p.bytesUp).toBe(50_000 * 3 + 100_000 * 3);
    expect(p.bytesDown).toBe(10_000 * 3 + 20_000 * 3);
    expect(p.rttMs).toBe(20);
    // The series: the window straddles the change at t = 2000 (one slow half, one fast).
    const h = t.history().paths.find((x) => x.localAddress === '127.0.0.2')!;
    expect(h.t).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000]);
    expect(h.upBps).toEqual([0, 100_000, 100_000, 100_000, 150_000, 200_000, 200_000]);
  });

  it('loss rate is retransmissions over segments sent within the window', () => {
    let now = 0;
    const t = new StatusTracker((client = twoPaths()), { now: () => now });
    const sock = new FakeSocket(1);
    client.accept(sock, 'a:1');
    sock.set(1, { localAddress: '127.0.0.2', segmentsSent: 1000, retransmissions: 500 });
    t.sample(0);
    now = 500;
    sock.set(1, { segmentsSent: 1100, retransmissions: 505 });
    t.sample(500);
    now = 1000;
    sock.set(1, { segmentsSent: 1200, retransmissions: 510 });
    t.sample(1000);
    // The old 500 retransmissions lie before the window: 10 of 200.
    expect(t.snapshot().paths[0]!.lossRate).toBeCloseTo(0.05, 9);
    expect(t.snapshot().paths[0]!.retransmissions).toBe(510);
    now = 1500;
    t.sample(1500);
    now = 2000;
    t.sample(2000);
    // Nothing sent within the window: no loss to report.
    expect(t.snapshot().paths[0]!.lossRate).toBe(0);
  });

  it('aggregates several connections and subflows per path; RTT is the mean srtt of live subflows', () => {
    const t = new StatusTracker((client = twoPaths()), { now: () => 0 });
    const a = new FakeSocket(1);
    const b = new FakeSocket(2);
    client.accept(a, 'a:1');
    client.accept(b, 'b:2');
    a.set(1, { localAddress: '127.0.0.2', bytesSent: 1000, srttMs: 10 });
    a.set(2, { localAddress: '127.0.0.3', bytesSent: 300, srttMs: 80 });
    b.set(1, { localAddress: '127.0.0.2', bytesSent: 2000, srttMs: 30 });
    b.set(2, { localAddress: '127.0.0.3', bytesSent: 0, srttMs: 500, state: 'closed' });
    t.sample(0);
    const s = t.snapshot();
    const [p2, p3] = s.paths;
    expect(p2!.bytesUp).toBe(3000);
    expect(p2!.rttMs).toBe(20);
    expect(p3!.bytesUp).toBe(300);
    expect(p3!.rttMs).toBe(80);
    expect(s.connections.map((c) => [c.id, c.target, c.bytesUp, c.subflows])).toEqual([
      [1, 'a:1', 1300, 2],
      [2, 'b:2', 2000, 1],
    ]);
  });

  it('keeps what closed connections carried in the path totals, and drops the connection', () => {
    let now = 0;
    const t = new StatusTracker((client = twoPaths()), { now: () => now });
    const a = new FakeSocket(1);
    client.accept(a, 'a:1');
    a.set(1, { localAddress: '127.0.0.2', bytesSent: 1000, bytesReceived: 4000 });
    t.sample(0);
    a.set(1, { bytesSent: 1500, bytesReceived: 9000 });
    a.closeNow();
    now = 500;
    t.sample(500);
    let s = t.snapshot();
    expect(s.connections).toEqual([]);
    expect(s.paths[0]!.bytesUp).toBe(1500);
    expect(s.paths[0]!.bytesDown).toBe(9000);
    // A later connection reusing subflow id 1 adds to the totals, not subtracts.
    const b = new FakeSocket(2);
    client.accept(b, 'b:2', now);
    b.set(1, { localAddress: '127.0.0.2', bytesSent: 100 });
    now = 1000;
    t.sample(1000);
    s = t.snapshot();
    expect(s.paths[0]!.bytesUp).toBe(1600);
    expect(s.connections.map((c) => c.ageMs)).toEqual([500]);
  });

  it('a connection counts bytes without retransmissions, and its age grows', () => {
    let now = 10_000;
    const t = new StatusTracker((client = twoPaths()), { now: () => now });
    const a = new FakeSocket(undefined);
    client.accept(a, '[::1]:22', now);
    a.set(1, { localAddress: '127.0.0.2', bytesSent: 5000, bytesRetransmitted: 1200, bytesReceived: 77 });
    now = 12_500;
    t.sample(now);
    const c = t.snapshot().connections[0]!;
    expect(c).toEqual({ id: null, target: '[::1]:22', bytesUp: 3800, bytesDown: 77, subflows: 1, ageMs: 2500 });
    expect(t.snapshot().paths[0]!.bytesUp).toBe(5000);
  });

  it('merges paths that share a local address and shows subflows on unlisted addresses', () => {
    client = twoPaths();
    client.paths.push({ localAddress: '127.0.0.2', transport: 'ws', backup: false, up: false });
    client.paths[1]!.up = false;
    const t = new StatusTracker(client, { now: () => 0, names: { '127.0.0.2': 'wlan0' } });
    const a = new FakeSocket(1);
    client.accept(a, 'x:1');
    a.set(1, { localAddress: '127.0.0.9', bytesSent: 10 });
    t.sample(0);
    const s = t.snapshot();
    expect(s.paths.map((p) => [p.name, p.localAddress, p.transport, p.up])).toEqual([
      ['wlan0', '127.0.0.2', 'udp+ws', true],
      ['127.0.0.3', '127.0.0.3', 'udp', false],
      ['127.0.0.9', '127.0.0.9', 'unknown', true],
    ]);
  });

  it('says why a path is down, from the client path events, until it is up again', () => {
    client = twoPaths();
    client.paths[1]!.up = false;
    const t = new StatusTracker(client, { intervalMs: 60_000 });
    t.start();
    try {
      expect(t.snapshot().paths.map((p) => p.downReason)).toEqual([null, 'not connected yet']);
      client.emit('path-error', { localAddress: '127.0.0.3', error: new Error('bind EADDRNOTAVAIL 127.0.0.3') });
      expect(t.snapshot().paths[1]!.downReason).toBe('bind EADDRNOTAVAIL 127.0.0.3');
      client.emit('path-up', { localAddress: '127.0.0.3' });
      client.emit('path-down', { localAddress: '127.0.0.3' });
      expect(t.snapshot().paths[1]!.downReason).toBe('the server stopped answering on this path');
    } finally {
      t.stop();
    }
    expect(client.listenerCount('path-error')).toBe(0);
  });

  it('adds the app summary to the snapshot', () => {
    const summary = { version: '1.2.3', server: 'vpn:4433', transport: 'udp', listeners: ['socks 127.0.0.1:1080'], uptimeMs: 5, connectionsTotal: 2, bytesUp: 10, bytesDown: 20, bufferedUpBytes: 0, unacknowledgedUpBytes: 0 };
    const t = new StatusTracker(twoPaths(), { now: () => 0, summary: () => summary });
    t.sample(0);
    expect(t.snapshot().client).toEqual(summary);
  });

  it('keeps a bounded history', () => {
    const t = new StatusTracker((client = twoPaths()), { now: () => 0, intervalMs: 500, historyMs: 5000 });
    for (let i = 0; i < 100; i++) t.sample(i * 500);
    const h = t.history();
    expect(h.intervalMs).toBe(500);
    for (const p of h.paths) {
      expect(p.t.length).toBe(10);
      expect(p.t[0]).toBe(90 * 500);
      expect(p.upBps.length).toBe(10);
      expect(p.rttMs.length).toBe(10);
      expect(p.lossRate.length).toBe(10);
    }
  });

  it('start() samples on a timer that stop() clears', async () => {
    const t = new StatusTracker(twoPaths(), { intervalMs: 20 });
    t.start();
    expect(t.running).toBe(true);
    await new Promise((r) => setTimeout(r, 120));
    t.stop();
    expect(t.running).toBe(false);
    const n = t.history().paths[0]!.t.length;
    expect(n).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(t.history().paths[0]!.t.length).toBe(n);
  });
});
