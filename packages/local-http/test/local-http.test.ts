/** The Host/Origin guard and the metrics endpoint over real HTTP on loopback; monotonic subflow counters. */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLocalRequest, createAppRegistry, isLoopbackName, startMetricsEndpoint, SubflowCounters, type MetricsEndpoint, type SubflowSample } from '../src/index.js';
import { httpRequest } from './http-request.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

describe('metrics endpoint', () => {
  let endpoint: MetricsEndpoint;
  beforeAll(async () => {
    endpoint = await startMetricsEndpoint(createAppRegistry('test', '9.9.9'), '127.0.0.1', 0);
  });
  afterAll(() => endpoint.close());

  it('serves the exposition format with process, Node and build-info metrics', async () => {
    const r = await httpRequest(endpoint.url);
    expect(r.status).toBe(200);
    const families = parsePrometheusText(r.body);
    expect(sampleValue(families, 'mptun_build_info', { app: 'test', version: '9.9.9', node_version: process.version })).toBe(1);
    expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
  });

  it.each([
    ['evil.example', 421],
    ['evil.example:80', 421],
    ['127.0.0.1.nip.io', 421],
    ['10.0.0.1', 421],
    ['localhost', 200],
    ['app.localhost:9090', 200],
    ['127.0.0.1', 200],
    ['[::1]:9090', 200],
  ])('Host %s gets %i', async (host, status) => {
    expect((await httpRequest(endpoint.url, { headers: { Host: host as string } })).status).toBe(status);
  });

  it('answers only GET and HEAD, at /metrics', async () => {
    expect((await httpRequest(endpoint.url, { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await httpRequest(endpoint.url, { method: 'HEAD' })).status).toBe(200);
    expect((await httpRequest(endpoint.url.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('a bind failure names the address and has a code', async () => {
    const port = Number(new URL(endpoint.url).port);
    await expect(startMetricsEndpoint(createAppRegistry('test', '0'), '127.0.0.1', port)).rejects.toMatchObject({ code: 'ERR_MPTUN_ADDRESS_IN_USE', message: expect.stringContaining(`127.0.0.1:${port}`) });
  });
});

describe('checkLocalRequest', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const refusal = checkLocalRequest(req, '127.0.0.5');
      res.writeHead(refusal?.status ?? 200).end(refusal?.message ?? 'ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.5', r));
    url = `http://127.0.0.5:${(server.address() as { port: number }).port}/x`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('takes the configured listen address as a Host', async () => {
    expect((await httpRequest(url)).status).toBe(200);
    expect((await httpRequest(url, { headers: { Host: 'rebound.example' } })).status).toBe(421);
  });

  it('refuses a cross-origin POST, even from another local port, and allows same-origin and non-browser ones', async () => {
    const host = new URL(url).host;
    const post = (headers: Record<string, string>): Promise<number> => httpRequest(url, { method: 'POST', headers, body: '{}' }).then((r) => r.status);
    expect(await post({ Origin: 'http://evil.example' })).toBe(403);
    expect(await post({ Origin: 'null' })).toBe(403);
    expect(await post({ Origin: 'http://127.0.0.5:1' })).toBe(403);
    expect(await post({ Origin: `http://${host}` })).toBe(200);
    expect(await post({})).toBe(200);
    // A GET from a foreign page cannot read the answer (no CORS headers): not refused here.
    expect((await httpRequest(url, { headers: { Origin: 'http://evil.example' } })).status).toBe(200);
  });

  it('knows loopback names', () => {
    for (const h of ['localhost', 'LOCALHOST.', 'a.localhost', '127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackName(h)).toBe(true);
    for (const h of ['localhost.example', '128.0.0.1', '::2', '0.0.0.0', 'evil.example']) expect(isLoopbackName(h)).toBe(false);
  });
});

describe('SubflowCounters', () => {
  const sub = (bytesSent: number, retransmissions: number): SubflowSample => ({ bytesSent, bytesReceived: 0, retransmissions, state: 'established', srttMs: 10, mssBytes: 1140, localAddress: '127.0.0.1', localPort: 1 });
  class Conn extends EventEmitter {
    list: SubflowSample[] = [];
    subflows(): SubflowSample[] {
      return this.list;
    }
  }

  it('folds a closed connection in and never goes down or forgets, even when a closed one lists no subflows', () => {
    const c = new SubflowCounters();
    const a = new Conn();
    const b = new Conn();
    c.track(a);
    c.track(b);
    a.list = [sub(100, 1)];
    b.list = [sub(50, 2), sub(5, 0)];
    expect(c.totals()).toEqual({ bytesSent: 155, bytesReceived: 0, retransmissions: 3 });
    a.emit('close'); // still lists its subflow: kept in the closed sum
    expect(c.totals()).toEqual({ bytesSent: 155, bytesReceived: 0, retransmissions: 3 });
    b.list = [];
    b.emit('close'); // lists nothing once closed: what was read from it before stands
    expect(c.totals()).toEqual({ bytesSent: 155, bytesReceived: 0, retransmissions: 3 });
    const d = new Conn();
    c.track(d);
    d.list = [sub(200, 0)];
    expect(c.totals().bytesSent).toBe(355); // 100 + 55 closed, 200 live
  });
});
