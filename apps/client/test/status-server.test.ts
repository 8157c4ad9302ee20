import { request } from 'node:http';
import { describe, it, expect, afterEach } from 'vitest';
import { startStatusServer, isLoopbackHost, type RunningStatusServer } from '../src/status/server.js';
import { StatusTracker } from '../src/status/tracker.js';
import { FakeClient, FakeSocket } from './status-fakes.js';

const running: RunningStatusServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

function world(): { client: FakeClient; tracker: StatusTracker; sock: FakeSocket } {
  const client = new FakeClient([
    { localAddress: '127.0.0.2', transport: 'udp', backup: false, up: true },
    { localAddress: '127.0.0.3', transport: 'ws', backup: true, up: false },
  ]);
  let now = 50_000;
  const tracker = new StatusTracker(client, { now: () => now });
  const sock = new FakeSocket(3);
  client.accept(sock, 'example.org:80');
  sock.set(1, { localAddress: '127.0.0.2', bytesSent: 0, srttMs: 12.5 });
  tracker.sample(now);
  now += 500;
  sock.set(1, { bytesSent: 4000, bytesReceived: 1000, segmentsSent: 4 });
  tracker.sample(now);
  return { client, tracker, sock };
}

/** A raw GET, so the Host header can be set freely. */
function get(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('status server', () => {
  it('serves /api/status in the apps-common shape', async () => {
    const { client, tracker } = world();
    const srv = await startStatusServer(client, { host: '127.0.0.1', port: 0, tracker });
    running.push(srv);
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await get(srv.url, '/api/status');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['connections', 'paths', 'time']);
    expect(typeof body['time']).toBe('number');
    const paths = body['paths'] as Array<Record<string, unknown>>;
    expect(paths.length).toBe(2);
    for (const p of paths) {
      expect(Object.keys(p).sort()).toEqual(
        ['backup', 'bytesDown', 'bytesUp', 'downBps', 'downReason', 'localAddress', 'lossRate', 'name', 'mssBytes', 'retransmissions', 'rttMs', 'state', 'transport', 'up', 'upBps'].sort(),
      );
    }
    expect(paths[0]).toMatchObject({ name: '127.0.0.2', transport: 'udp', state: 'up', up: true, backup: false, rttMs: 12.5, mssBytes: 1140, upBps: 8000, downBps: 2000, bytesUp: 4000, bytesDown: 1000 });
    expect(paths[1]).toMatchObject({ localAddress: '127.0.0.3', transport: 'ws', state: 'down', up: false, backup: true, rttMs: null, mssBytes: null, upBps: 0 });
    const conns = body['connections'] as Array<Record<string, unknown>>;
    expect(conns).toEqual([{ id: 3, target: 'example.org:80', bytesUp: 4000, bytesDown: 1000, subflows: 1, ageMs: 500 }]);
  });

  it('serves /api/history as per-path parallel series', async () => {
    const { client, tracker } = world();
    const srv = await startStatusServer(client, { port: 0, tracker });
    running.push(srv);
    const res = await get(srv.url, '/api/history');
    expect(res.status).toBe(200);
    const h = JSON.parse(res.body) as { intervalMs: number; paths: Array<{ localAddress: string; t: number[]; upBps: number[]; rttMs: Array<number | null> }> };
    expect(h.intervalMs).toBe(500);
    const p = h.paths.find((x) => x.localAddress === '127.0.0.2')!;
    expect(p.t).toEqual([50_000, 50_500]);
    expect(p.upBps).toEqual([0, 8000]);
    expect(p.rttMs).toEqual([12.5, 12.5]);
  });

  it('serves a self-contained dashboard page', async () => {
    const { client, tracker } = world();
    const srv = await startStatusServer(client, { port: 0, tracker });
    running.push(srv);
    const res = await get(srv.url, '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(res.body).toContain('<canvas id="throughput">');
    expect(res.body).toContain('<canvas id="rtt">');
    // Nothing loaded from elsewhere.
    expect(res.body).not.toMatch(/\bsrc=|\bhref=|https?:\/\/|@import/);
  });

  it('answers 404, 405 and refuses non-loopback Host headers', async () => {
    const { client, tracker } = world();
    const srv = await startStatusServer(client, { port: 0, tracker });
    running.push(srv);
    expect((await get(srv.url, '/nope')).status).toBe(404);
    expect((await get(srv.url, '/api/status', {}, 'POST')).status).toBe(405);
    expect((await get(srv.url, '/api/status', { Host: 'evil.example:9471' })).status).toBe(421);
    expect((await get(srv.url, '/api/status', { Host: 'localhost:9471' })).status).toBe(200);
    const head = await get(srv.url, '/api/status', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('binds to loopback only', async () => {
    const { client, tracker } = world();
    for (const host of ['0.0.0.0', '192.168.1.10', '::', 'example.org']) {
      await expect(startStatusServer(client, { host, port: 0, tracker })).rejects.toMatchObject({ code: 'ERR_MPTUN_BAD_OPTION' });
    }
    expect(tracker.running).toBe(false);
    expect(isLoopbackHost('127.0.0.5')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    const srv = await startStatusServer(client, { host: '127.0.0.4', port: 0, tracker });
    running.push(srv);
    expect(srv.url.startsWith('http://127.0.0.4:')).toBe(true);
  });

  it('starts and stops a tracker it made itself', async () => {
    const { client } = world();
    const srv = await startStatusServer(client, { port: 0 });
    expect(srv.tracker.running).toBe(true);
    const res = await get(srv.url, '/api/status');
    expect(JSON.parse(res.body).paths.length).toBe(2);
    await srv.close();
    expect(srv.tracker.running).toBe(false);
  });

  it('reports a busy port by address, not as a raw EADDRINUSE', async () => {
    const { client, tracker } = world();
    const first = await startStatusServer(client, { port: 0, tracker });
    running.push(first);
    const port = Number(new URL(first.url).port);
    const t2 = new StatusTracker(client);
    await expect(startStatusServer(client, { port, tracker: t2 })).rejects.toMatchObject({
      code: 'ERR_MPTUN_ADDRESS_IN_USE',
      message: `status page (--status): 127.0.0.1:${port} is already in use; pick another port`,
    });
    expect(t2.running).toBe(false);
  });
});
