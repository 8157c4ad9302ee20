/**
 * Issue 15's ten findings, repeated one by one against the commands a user runs (the bins in
 * apps/{client,server}/bin, which run the build), each checking that what the issue found is
 * gone. Longer tests of each finding live beside the apps; this file is the issue's list as a
 * script (`npx vitest run test/issue15-findings.test.ts`, and part of `pnpm test`).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, startApp, startClientApp, startServerApp, stopAll, writeKeyFiles, type AppProcess, type KeyFiles } from '../apps/client/test/cli-support.js';
import { connectRequest, connectTcp, freeUdpPort, pattern, startEcho } from '../apps/client/test/support.js';
import { parsePrometheusText, sampleValue } from '../packages/local-http/test/prom-text.js';

const REPO = resolve(import.meta.dirname, '..');
const BIN = { bin: true } as const;
const version = (app: string): string => (JSON.parse(readFileSync(join(REPO, 'apps', app, 'package.json'), 'utf8')) as { version: string }).version;
const port = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));

/** SOCKS5 CONNECT to 127.0.0.1:target through the client; the open socket and its reader on success. */
async function socksOpen(socks: string, target: number): Promise<{ reply: number; c: Awaited<ReturnType<typeof connectTcp>> }> {
  const c = await connectTcp(port(socks));
  c.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), connectRequest('127.0.0.1', target)]));
  await c.reader.read(2);
  const head = await c.reader.read(10);
  return { reply: head ? head[1]! : -1, c };
}

async function status(statusUrl: string): Promise<{ paths: Array<Record<string, unknown>>; connections: Array<Record<string, unknown>> }> {
  return (await (await fetch(`${statusUrl}/api/status`)).json()) as { paths: Array<Record<string, unknown>>; connections: Array<Record<string, unknown>> };
}

async function poll<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('issue 15: every finding, repeated against the CLIs', () => {
  let keys: KeyFiles;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let server: { app: AppProcess; address: string; metricsUrl: string };
  let client: { app: AppProcess; socks: string; statusUrl: string; metricsUrl: string; pcap: string };

  beforeAll(async () => {
    keys = await writeKeyFiles();
    echo = await startEcho();
    const s = await startServerApp(keys, ['--metrics', '127.0.0.1:0'], BIN);
    server = { ...s, metricsUrl: String((await s.app.waitForLog((l) => l['msg'] === 'metrics'))['url']) };
    const pcap = join(keys.dir, 'client.pcap');
    const c = await startClientApp(keys, s.address, ['127.0.0.2'], ['--metrics', '127.0.0.1:0', '--pcap', pcap], BIN);
    client = { ...c, pcap, metricsUrl: String((await c.app.waitForLog((l) => l['msg'] === 'metrics listening'))['url']) };
    await c.app.waitForLog((l) => l['msg'] === 'path up');
  }, 90_000);

  afterAll(async () => {
    await stopAll();
    await echo?.close();
    keys?.cleanup();
  });

  it('1. /api/status and the status table (what the dashboard reads too) show the live connection and its bytes, not 0', async () => {
    const { reply, c } = await socksOpen(client.socks, echo.port);
    expect(reply).toBe(0);
    const data = pattern(15, 256 * 1024);
    c.socket.write(data);
    expect((await c.reader.read(data.length))?.equals(data)).toBe(true);
    const snap = await poll('a connection with its bytes in /api/status', () => status(client.statusUrl), (s) => s.connections.some((x) => Number(x['bytesUp']) >= data.length && Number(x['bytesDown']) >= data.length));
    expect(snap.connections[0]).toMatchObject({ target: `127.0.0.1:${echo.port}` });
    expect(Number(snap.paths.find((p) => p['localAddress'] === '127.0.0.2')?.['bytesUp'])).toBeGreaterThanOrEqual(data.length);
    // The status table (`mptun-client status`) reads the same snapshot.
    const table = await runApp('client', ['status', '--url', client.statusUrl, '--once'], 30_000, BIN);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('Connections (1)');
    expect(table.stdout).toContain(`127.0.0.1:${echo.port}`);
    expect(table.stdout).not.toMatch(/Connections \(0\)/);
    c.socket.end();
    await c.reader.closed();
    c.socket.destroy();
  }, 60_000);

  it('2. mptun-server and mptun-client are commands after install-commands.sh, with --version', async () => {
    const binDir = mkdtempSync(join(tmpdir(), 'mptun-findings-bin-'));
    try {
      const install = spawnSync('bash', ['scripts/install-commands.sh'], { cwd: REPO, env: { ...process.env, BIN_DIR: binDir, MPTUN_SKIP_BUILD: '1' }, encoding: 'utf8' });
      expect(install.status).toBe(0);
      for (const app of ['client', 'server']) {
        const r = spawnSync(`mptun-${app}`, ['--version'], { cwd: tmpdir(), env: { ...process.env, PATH: `${binDir}:${process.env['PATH']}` }, encoding: 'utf8' });
        expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `${version(app)}\n`, stderr: '' });
      }
    } finally {
      rmSync(binDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('3. wrong port, wrong server key and an unauthorized client key each give their own message, logged and counted by the server', async () => {
    const client3 = (serverAddress: string, serverKey: string, key: string): AppProcess =>
      startApp('client', ['run', '--server', serverAddress, '--server-key', serverKey, '--key', key, '--path', '127.0.0.3', '--no-socks', '-L', '127.0.0.1:0:127.0.0.1:1', '--log-format', 'json'], BIN);
    const other = await writeKeyFiles(); // keys neither side knows
    try {
      const wrongPort = client3(`127.0.0.1:${await freeUdpPort()}`, keys.serverPublic, keys.clientKey);
      const wrongServerKey = client3(server.address, other.serverPublic, keys.clientKey);
      client3(server.address, keys.serverPublic, other.clientKey);
      const unreachable = await wrongPort.waitForLog((l) => l['msg'] === 'path could not be opened');
      expect(JSON.stringify(unreachable['error'])).toMatch(/server unreachable: nothing listens on UDP 127\.0\.0\.1:\d+/);
      expect(String((await server.app.waitForLog((l) => l['reason'] === 'wrong_server_key'))['msg'])).toMatch(/not made for this server key/);
      expect(String((await server.app.waitForLog((l) => l['reason'] === 'unauthorized_key'))['msg'])).toMatch(/client key not authorized/);
      const silent = await wrongServerKey.waitForLog((l) => l['msg'] === 'path could not be opened', 30_000);
      expect(JSON.stringify(silent['error'])).toMatch(/wrong --server-key, this client's key not in the server's authorized keys/);
      const families = parsePrometheusText(await (await fetch(server.metricsUrl)).text());
      expect(sampleValue(families, 'mptun_handshake_failures_total', { reason: 'wrong_server_key' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(families, 'mptun_handshake_failures_total', { reason: 'unauthorized_key' })).toBeGreaterThanOrEqual(1);
    } finally {
      other.cleanup();
    }
  }, 90_000);

  it('4 and 5. keygen output works as written (key file, public key line with a comment); a killed server is noticed within 3 s, a restarted one used within about 1 s', async () => {
    const own = await writeKeyFiles();
    try {
      // 5: the user's steps: `keygen > client.key`, the stderr line pasted with a comment.
      const gen = await runApp('client', ['keygen'], 30_000, BIN);
      expect(gen.code).toBe(0);
      writeFileSync(own.clientKey, gen.stdout, { mode: 0o600 });
      writeFileSync(own.authorizedKeys, `${gen.stderr.trim()} alice@laptop\n`);
      const udpPort = await freeUdpPort();
      const serverArgs = ['run', '--listen', `udp://127.0.0.1:${udpPort}`, '--key', own.serverKey, '--authorized-keys', own.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json'];
      const first = startApp('server', serverArgs, BIN);
      await first.waitForLog((l) => l['msg'] === 'listening');
      const c = await startClientApp(own, `127.0.0.1:${udpPort}`, ['127.0.0.1'], [], BIN);
      await c.app.waitForLog((l) => l['msg'] === 'path up');
      // 4: the server dies.
      first.child.kill('SIGKILL');
      const killedAt = Date.now();
      await first.exited;
      await c.app.waitForLog((l) => l['msg'] === 'path down', 10_000);
      const noticedMs = Date.now() - killedAt;
      console.log(`finding 4: killed server noticed after ${noticedMs} ms`);
      expect(noticedMs).toBeLessThan(3000);
      expect((await status(c.statusUrl)).paths.every((p) => p['up'] === false && typeof p['downReason'] === 'string')).toBe(true);
      const again = startApp('server', serverArgs, BIN);
      await again.waitForLog((l) => l['msg'] === 'listening');
      const listeningAt = Date.now();
      await poll('the path up again', async () => c.app.logs().filter((l) => l['msg'] === 'path up').length, (n) => n >= 2);
      const backMs = Date.now() - listeningAt;
      console.log(`finding 4: restarted server used ${backMs} ms after it listened`);
      // The goal is 1 s (retries at most 1 s apart); the bound leaves room for a loaded machine.
      expect(backMs).toBeLessThan(2500);
    } finally {
      own.cleanup();
    }
  }, 90_000);

  it('6. clear failures: a missing --path address, bare-number durations, ws without a URL, usage exit codes alike, an empty authorized-keys file, a udp-plain path with no server', async () => {
    const empty = join(keys.dir, 'empty-clients.txt');
    writeFileSync(empty, '');
    const common = ['run', '--server', '127.0.0.1:9', '--server-key', keys.serverPublic, '--key', keys.clientKey];
    const [missing, drain, ws, clientUsage, serverUsage] = await Promise.all([
      runApp('client', [...common, '--path', '192.0.2.77', '--log-format', 'json'], 30_000, BIN),
      runApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--drain', '10'], 30_000, BIN),
      runApp('client', [...common, '--transport', 'ws'], 30_000, BIN),
      runApp('client', ['run', '--no-such-flag'], 30_000, BIN),
      runApp('server', ['run', '--no-such-flag'], 30_000, BIN),
    ]);
    expect(missing.code).toBe(69);
    expect(missing.stderr).toMatch(/path 192\.0\.2\.77: cannot bind \(EADDRNOTAVAIL\)/);
    expect(drain.code).toBe(64);
    expect(drain.stderr).toContain('--drain: expected a duration with a unit, like "10s", "500ms"');
    expect(ws.code).toBe(64);
    expect(ws.stderr).toContain('--ws-url');
    expect([clientUsage.code, serverUsage.code]).toEqual([64, 64]);

    const lonely = startApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', empty, '--log-format', 'json'], BIN);
    const warning = await lonely.waitForLog((l) => l['level'] === 'warn' && String(l['msg']).startsWith('no client is authorized'));
    expect(warning['authorizedKeysFile']).toBe(empty);

    const noServer = await startClientApp(keys, `127.0.0.1:${await freeUdpPort()}`, ['127.0.0.4'], ['--transport', 'udp-plain'], BIN);
    expect((await status(noServer.statusUrl)).paths[0]).toMatchObject({ state: 'idle', up: false });
    const tried = await socksOpen(noServer.socks, echo.port);
    tried.c.socket.destroy();
    expect(tried.reply).not.toBe(0);
    const row = (await status(noServer.statusUrl)).paths[0]!;
    expect(row).toMatchObject({ state: 'down', up: false });
    expect(String(row['downReason'])).toMatch(/server unreachable/);
    expect(noServer.app.logs().some((l) => l['msg'] === 'path up')).toBe(false);
  }, 90_000);

  it('7. logs: the client logs JSON lines with fields, and both apps log each closed connection (target, bytes, duration, reason)', async () => {
    const lines = client.app.stderr().split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(() => JSON.parse(l) as unknown, l).not.toThrow();
    const target = `127.0.0.1:${echo.port}`;
    for (const app of [client.app, server.app]) {
      const closed = await app.waitForLog((l) => l['msg'] === 'connection closed' && l['target'] === target);
      expect(closed).toMatchObject({ level: 'info', bytesUp: 256 * 1024, bytesDown: 256 * 1024 });
      expect(closed['durationMs']).toEqual(expect.any(Number));
      expect(closed['reason']).toEqual(expect.any(String));
    }
  }, 30_000);

  it('8. metrics on both apps in Prometheus conventions: base units, _total counters, process and build info, no per-client-IP label', async () => {
    for (const [app, url] of [['server', server.metricsUrl], ['client', client.metricsUrl]] as const) {
      const text = await (await fetch(url)).text();
      const families = parsePrometheusText(text);
      expect(text).not.toContain('mptun_path_rtt_ms');
      for (const f of families.values()) {
        expect(f.name, 'base units').not.toMatch(/_(ms|milliseconds|kb|mb)(_|$)/);
        if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      }
      expect(families.get('mptun_retransmissions_total')?.type).toBe('counter');
      expect(families.get('mptun_subflow_srtt_seconds')?.type).toBe('gauge');
      expect(sampleValue(families, 'mptun_build_info', { app })).toBe(1);
      expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
      // No series per client address (the client's path is 127.0.0.2).
      if (app === 'server') expect([...families.values()].flatMap((f) => f.samples.flatMap((x) => Object.values(x.labels))).filter((v) => v.includes('127.0.0.2'))).toEqual([]);
    }
    expect(parsePrometheusText(await (await fetch(server.metricsUrl)).text()).get('mptun_handshake_failures_total')?.type).toBe('counter');
  }, 30_000);

  it('9. @mptun/node packs with exports, maps and key generation an outside project can use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mptun-findings-pack-'));
    try {
      await promisify(execFile)('pnpm', ['pack', '--pack-destination', dir], { cwd: join(REPO, 'packages/node'), timeout: 120_000 });
      const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      await promisify(execFile)('tar', ['-xzf', join(dir, tarball), '-C', dir]);
      const pkg = join(dir, 'package');
      const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { exports: unknown };
      expect(JSON.stringify(manifest.exports)).not.toContain('"source"');
      for (const target of JSON.stringify(manifest.exports).match(/"\.\/[^"]+"/g) ?? []) expect(existsSync(join(pkg, JSON.parse(target) as string)), target).toBe(true);
      const maps = readdirSync(join(pkg, 'dist')).filter((f) => f.endsWith('.d.ts.map'));
      expect(maps.length).toBeGreaterThan(0);
      for (const m of maps) {
        for (const src of (JSON.parse(readFileSync(join(pkg, 'dist', m), 'utf8')) as { sources: string[] }).sources) {
          expect(existsSync(resolve(join(pkg, 'dist'), src)), `${m} -> ${src}`).toBe(true);
        }
      }
      expect(readFileSync(join(pkg, 'dist/index.d.ts'), 'utf8')).toMatch(/generateKeypair/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('10. --pcap writes the real traffic of the client, and tshark reads MPTCP in it', async () => {
    await client.app.stop(); // the capture is complete once the client has closed it
    const bytes = readFileSync(client.pcap);
    expect(statSync(client.pcap).mode & 0o777).toBe(0o600);
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4); // pcap magic, little-endian
    expect(bytes.length).toBeGreaterThan(24 + 256 * 1024);
    // tshark is one of the system tools the tests need (scripts/test.sh checks for it).
    const tshark = spawnSync('tshark', ['-r', client.pcap, '-Y', 'mptcp', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(tshark.error).toBeUndefined();
    expect(tshark.stdout.trim().split('\n').length).toBeGreaterThan(10);
  }, 60_000);
});
