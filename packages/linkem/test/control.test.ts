import { describe, it, expect, afterEach } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { request } from 'node:http';
import { startLinkEmulator, type LinkEmulator } from '../src/emulator.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

function bindUdp(host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      open.push({ close: () => new Promise<void>((r) => s.close(() => r())) });
      resolve(s);
    });
  });
}

/** One HTTP request on its own connection (no pooled sockets outlive the test). */
function http(em: LinkEmulator, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const c = em.control!;
  return new Promise((resolve, reject) => {
    const req = request({ host: c.host, port: c.port, method, path, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

async function setup(): Promise<{ em: LinkEmulator; client: Socket; answers: () => number; send: () => void }> {
  const server = await bindUdp('127.0.0.1');
  server.on('message', (msg, r) => server.send(msg, r.port, r.address));
  console.log('linkem seed 9');
  const em = await startLinkEmulator({
    seed: 9,
    control: { host: '127.0.0.1', port: 0 },
    paths: [{ name: 'wifi', listen: '127.0.0.2:0', target: `127.0.0.1:${server.address().port}`, profile: 'wifi', loss: 0 }],
  });
  open.push(em);
  const client = await bindUdp('127.0.0.1');
  let answers = 0;
  client.on('message', () => answers++);
  const send = (): void => void client.send('ping', em.paths[0]!.listen.port, '127.0.0.2');
  return { em, client, answers: () => answers, send };
}

describe('control endpoint', () => {
  it('shows every path with its options and counters', async () => {
    const { em, send, answers } = await setup();
    send();
    await until(() => answers() === 1, 3000);
    const { status, json } = await http(em, 'GET', '/paths');
    expect(status).toBe(200);
    expect(json.seed).toBe(9);
    expect(json.paths).toHaveLength(1);
    const p = json.paths[0];
    expect(p.name).toBe('wifi');
    expect(p.state).toBe('up');
    expect(p.up.options.rateBps).toBe(50e6);
    expect(p.up.options.mtu).toBe('inf');
    expect(p.up.delivered).toBe(1);
    expect(p.udp.mappings).toBe(1);
    const one = await http(em, 'GET', '/paths/wifi');
    expect(one.json.name).toBe('wifi');
  });

  it('changes a link live: options, then down and up', async () => {
    const { em, send, answers } = await setup();
    const patched = await http(em, 'POST', '/paths/wifi', JSON.stringify({ rate: '5mbit', down: { delay: '30ms' } }));
    expect(patched.status).toBe(200);
    expect(patched.json.up.options.rateBps).toBe(5e6);
    expect(patched.json.down.options.rateBps).toBe(5e6);
    expect(patched.json.down.options.delayMs).toBe(30);
    expect(patched.json.up.options.delayMs).toBe(10); // the profile's, untouched
    expect(em.pathStats('wifi').down.options.delayMs).toBe(30);

    const down = await http(em, 'POST', '/paths/wifi/down');
    expect(down.status).toBe(200);
    expect(down.json.state).toBe('down');
    send();
    await until(() => em.pathStats('wifi').up.dropped.outage === 1, 3000);
    expect(em.pathStats('wifi').up.dropped.outage).toBe(1);
    expect(answers()).toBe(0);

    const up = await http(em, 'POST', '/paths/wifi/up');
    expect(up.json.state).toBe('up');
    send();
    await until(() => answers() === 1, 3000);
    expect(answers()).toBe(1);
  });

  it('answers mistakes with a status and a message that says what was wrong', async () => {
    const { em } = await setup();
    const bad = await http(em, 'POST', '/paths/wifi', '{"down":{"delay":"soon"}}');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('ERR_LINKEM_BAD_OPTION');
    expect(bad.json.error.message).toMatch(/down\.delay: expected a duration/);
    const notJson = await http(em, 'POST', '/paths/wifi', '{rate: 5');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.message).toMatch(/not JSON/);
    const unknown = await http(em, 'POST', '/paths/lte/down');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('ERR_LINKEM_UNKNOWN_PATH');
    expect((await http(em, 'DELETE', '/paths/wifi')).status).toBe(405);
    expect((await http(em, 'POST', '/paths/wifi/sideways')).status).toBe(404);
    expect((await http(em, 'GET', '/nothing')).status).toBe(404);
    const huge = await http(em, 'POST', '/paths/wifi', JSON.stringify({ rate: '1mbit', pad: 'x'.repeat(100_000) }));
    expect(huge.status).toBe(413);
    // Nothing changed through all that.
    expect(em.pathStats('wifi').up.options.rateBps).toBe(50e6);
  });

  it('refuses a page elsewhere: a cross-origin POST (403) and a rebound Host name (421) change nothing', async () => {
    const { em } = await setup();
    const c = em.control!;
    const crossOrigin = await http(em, 'POST', '/paths/wifi/down', undefined, { Origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    const rebound = await http(em, 'POST', '/paths/wifi', '{"rate":"1mbit"}', { Host: `rebound.example:${c.port}` });
    expect(rebound.status).toBe(421);
    expect(em.pathStats('wifi').state).not.toBe('down');
    expect(em.pathStats('wifi').up.options.rateBps).toBe(50e6);
    // The same requests from the page's own origin (or no browser at all) go through.
    expect((await http(em, 'POST', '/paths/wifi', '{"rate":"1mbit"}', { Origin: `http://${c.host}:${c.port}` })).status).toBe(200);
    expect(em.pathStats('wifi').up.options.rateBps).toBe(1e6);
  });
});
