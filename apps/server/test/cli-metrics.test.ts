/**
 * Metrics of both real apps after real traffic (issue 15 item 8): the exposition parses,
 * names follow the Prometheus conventions, figures match what was sent, no label carries a
 * client address, and both endpoints refuse a rebound Host.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { httpRequest } from '../../../packages/local-http/test/http-request.js';
import { parsePrometheusText, sampleValue, type Family } from '../../../packages/local-http/test/prom-text.js';
import { startApp, socksConnect, startClientCli, startServerCli, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-apps.js';
import { startEcho } from './support.js';

const PAYLOAD = 'x'.repeat(256 * 1024);

async function scrape(url: string): Promise<Map<string, Family>> {
  const r = await httpRequest(url);
  expect(r.status).toBe(200);
  return parsePrometheusText(r.body);
}

/** The conventions every family of either app must follow. */
function expectConventions(families: Map<string, Family>, app: string): void {
  for (const f of families.values()) {
    expect(f.type, `${f.name} has a TYPE`).not.toBe('');
    expect(f.help, `${f.name} has HELP`).not.toBe('');
    if (f.type === 'counter') expect(f.name, 'a counter ends in _total').toMatch(/_total$/);
    else if (f.name.startsWith('mptun_')) expect(f.name, 'only counters end in _total').not.toMatch(/_total$/);
    expect(f.name, 'base units only').not.toMatch(/_(ms|milliseconds|kb|kib|mb|mib|minutes)(_|$)/);
    if (f.name.startsWith('mptun_') && /rtt|time|duration|latency/.test(f.name)) expect(f.name).toMatch(/_seconds$/);
  }
  expect(sampleValue(families, 'mptun_build_info', { app })).toBe(1);
  expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
  expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');
  expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
  expect(families.get('mptun_retransmissions_total')?.type).toBe('counter');
  expect(families.get('mptun_subflow_srtt_seconds')?.type).toBe('gauge');
}

describe('metrics of the real apps', () => {
  let keys: KeyFiles;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  const running: AppProcess[] = [];
  let serverMetrics: string;
  let clientMetrics: string;
  let clientStatus: string;

  beforeAll(async () => {
    keys = await writeKeyFiles();
    echo = await startEcho();
    const server = await startServerCli(keys, ['--allow', `127.0.0.1/32:${echo.port}`, '--metrics', '127.0.0.1:0']);
    running.push(server.cli);
    serverMetrics = (await server.cli.waitFor(/"msg":"metrics","url":"(http:[^"]+)"/))[1]!;
    const client = await startClientCli(keys, server.port, ['--metrics', '127.0.0.1:0', '--status', '127.0.0.1:0']);
    running.push(client.cli);
    clientMetrics = (await client.cli.waitFor(/msg="metrics listening" url=(http:\/\/[^\s"]+)/))[1]!;
    clientStatus = `${(await client.cli.waitFor(/msg="status page listening" url=(http:\/\/[^\s"]+)/))[1]!}/api/status`;

    const r = await socksConnect(client.socksPort, '127.0.0.1', echo.port, PAYLOAD);
    expect(r.reply).toBe(0);
    expect(r.echoed?.length).toBe(PAYLOAD.length);

    // A client whose key the server does not list: its path handshakes are refused.
    const crypto = await loadCrypto();
    const strangerKey = join(keys.dir, 'stranger.key');
    writeFileSync(strangerKey, encodeKey(generateKeypair(crypto).privateKey) + '\n', { mode: 0o600 });
    const stranger = startApp('client', ['run', '--server', `127.0.0.1:${server.port}`, '--server-key', keys.serverPublic, '--key', strangerKey, '--path', '127.0.0.3', '--no-socks', '-L', '127.0.0.1:0:127.0.0.1:1']);
    running.push(stranger);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const f = await scrape(serverMetrics);
      const refused = f.get('mptun_handshake_failures_total')?.samples.find((s) => s.labels.reason === 'unauthorized_key');
      if (refused && refused.value >= 1) break;
      if (Date.now() > deadline) throw new Error(`no unauthorized_key handshake failure counted; stranger output:\n${stranger.output()}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop()));
    await echo.close();
    keys.cleanup();
  }, 60_000);

  it('the server: conventions, relayed bytes, handshake failures, no client address in labels', async () => {
    const f = await scrape(serverMetrics);
    expectConventions(f, 'server');
    expect(sampleValue(f, 'mptun_relayed_bytes_total', { direction: 'up' })).toBeGreaterThanOrEqual(PAYLOAD.length);
    expect(sampleValue(f, 'mptun_relayed_bytes_total', { direction: 'down' })).toBeGreaterThanOrEqual(PAYLOAD.length);
    expect(sampleValue(f, 'mptun_connections_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(f, 'mptun_handshake_failures_total', { reason: 'unauthorized_key' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(f, 'mptun_subflow_bytes_total', { direction: 'received' })).toBeGreaterThanOrEqual(PAYLOAD.length);
    const labelValues = [...f.values()].flatMap((fam) => fam.samples.flatMap((s) => Object.values(s.labels)));
    expect(labelValues.filter((v) => v.includes('127.0.0.2') || v.includes('127.0.0.3'))).toEqual([]);
  });

  it('the client: conventions, tunnels by result, path state, bytes carried', async () => {
    const f = await scrape(clientMetrics);
    expectConventions(f, 'client');
    expect(sampleValue(f, 'mptun_tunnels_total', { result: 'ok' })).toBe(1);
    expect(sampleValue(f, 'mptun_path_up', { path: '127.0.0.2', transport: 'udp' })).toBe(1);
    expect(sampleValue(f, 'mptun_subflow_bytes_total', { direction: 'sent' })).toBeGreaterThanOrEqual(PAYLOAD.length);
    expect(sampleValue(f, 'mptun_subflow_bytes_total', { direction: 'received' })).toBeGreaterThanOrEqual(PAYLOAD.length);
    expect(f.get('mptun_connections_open')?.type).toBe('gauge');
  });

  it('the metrics endpoints and the status API refuse a Host that is not loopback (DNS rebinding) and cross-origin POSTs', async () => {
    for (const url of [serverMetrics, clientMetrics, clientStatus]) {
      expect((await httpRequest(url, { headers: { Host: 'rebind.attacker.example' } })).status).toBe(421);
      expect((await httpRequest(url, { headers: { Host: 'localhost' } })).status).toBe(200);
      // Read-only endpoints: a cross-origin POST changes nothing and is refused.
      const post = await httpRequest(url, { method: 'POST', headers: { Origin: 'http://attacker.example' }, body: 'x' });
      expect(post.status).toBeGreaterThanOrEqual(400);
    }
  });
});
