/**
 * Issue 15 item 3 through the real CLIs: each way a path handshake fails gives its own
 * message, and the server logs and counts refusals by reason.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, startServerApp, stopAll, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-support.js';
import { freeUdpPort } from './support.js';

/** A client with one path to `server`, a forward only (no SOCKS port needed), JSON logs. */
function startClient(server: string, serverKey: string, clientKey: string, extra: string[] = []): AppProcess {
  return startApp('client', ['run', '--server', server, '--server-key', serverKey, '--key', clientKey, '--path', '127.0.0.1', '--no-socks', '-L', '127.0.0.1:0:127.0.0.1:1', '--log-format', 'json', ...extra]);
}

async function counter(metricsUrl: string, reason: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = new RegExp(`^mptun_handshake_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('handshake failures, as the user sees them', () => {
  let keys: KeyFiles;
  let otherKey: string;
  beforeAll(async () => {
    keys = await writeKeyFiles();
    const crypto = await loadCrypto();
    otherKey = join(keys.dir, 'stranger.key');
    writeFileSync(otherKey, encodeKey(generateKeypair(crypto).privateKey) + '\n', { mode: 0o600 });
  });
  afterEach(() => stopAll());
  afterAll(() => keys.cleanup());

  it('wrong port: the client says the server is unreachable, at once', async () => {
    const started = Date.now();
    const client = startClient(`127.0.0.1:${await freeUdpPort()}`, keys.serverPublic, keys.clientKey, ['--metrics', '127.0.0.1:0']);
    const metricsUrl = String((await client.waitForLog((l) => l['msg'] === 'metrics listening'))['url']);
    const line = await client.waitForLog((l) => l['msg'] === 'path could not be opened', 10_000);
    console.log(`wrong port: reported after ${Date.now() - started} ms: ${JSON.stringify(line['error'])}`);
    expect(JSON.stringify(line['error'])).toMatch(/server unreachable: nothing listens on UDP 127\.0\.0\.1:\d+/);
    expect(line['level']).toBe('warn');
    // Retried about every second: each failure counted, the line logged once.
    await new Promise((r) => setTimeout(r, 2000));
    const text = await (await fetch(metricsUrl)).text();
    expect(Number(/^mptun_path_open_failures_total\{reason="server_unreachable"\} (\d+)/m.exec(text)?.[1] ?? 0)).toBeGreaterThanOrEqual(2);
    expect(client.logs().filter((l) => l['msg'] === 'path could not be opened')).toHaveLength(1);
  }, 30_000);

  it('wrong server key: the server logs and counts it; the client names the likely causes', async () => {
    const { app: server, address } = await startServerApp(keys, ['--metrics', '127.0.0.1:0']);
    const metricsUrl = String((await server.waitForLog((l) => l['msg'] === 'metrics'))['url']);
    const wrongServerKey = encodeKey(generateKeypair(await loadCrypto()).publicKey);
    const client = startClient(address, wrongServerKey, keys.clientKey);
    const refused = await server.waitForLog((l) => l['reason'] === 'wrong_server_key', 10_000);
    expect(refused['msg']).toMatch(/not made for this server key/);
    expect(refused['level']).toBe('warn');
    expect(await counter(metricsUrl, 'wrong_server_key')).toBeGreaterThanOrEqual(1);
    const line = await client.waitForLog((l) => l['msg'] === 'path could not be opened', 20_000);
    expect(JSON.stringify(line['error'])).toMatch(/no answer from the server at .* wrong --server-key, this client's key not in the server's authorized keys, or UDP filtered/);
  }, 40_000);

  it('client key not authorized: the server logs the key and counts it', async () => {
    const { app: server, address } = await startServerApp(keys, ['--metrics', '127.0.0.1:0']);
    const metricsUrl = String((await server.waitForLog((l) => l['msg'] === 'metrics'))['url']);
    startClient(address, keys.serverPublic, otherKey);
    const refused = await server.waitForLog((l) => l['reason'] === 'unauthorized_key', 10_000);
    expect(refused['msg']).toMatch(/client key not authorized/);
    expect(String(refused['clientKey'])).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(await counter(metricsUrl, 'unauthorized_key')).toBeGreaterThanOrEqual(1);
    // Retries every second are counted, but logged once per 10 s.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await counter(metricsUrl, 'unauthorized_key')).toBeGreaterThanOrEqual(2);
    expect(server.logs().filter((l) => l['reason'] === 'unauthorized_key')).toHaveLength(1);
  }, 40_000);

  it('a path address this machine does not have: the client refuses to start, naming it', async () => {
    const client = startApp('client', ['run', '--server', '127.0.0.1:9', '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '192.0.2.77', '--no-socks', '-L', '127.0.0.1:0:127.0.0.1:1', '--log-format', 'json']);
    const { code } = await client.exited;
    expect(code).not.toBe(0);
    expect(client.stderr()).toMatch(/path 192\.0\.2\.77: cannot bind \(EADDRNOTAVAIL\): it is not an address of this machine/);
  }, 30_000);
});
