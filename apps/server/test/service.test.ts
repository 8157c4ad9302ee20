/** The service around the relay: metrics endpoint, a port in use, SIGTERM drain of the real bin. */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TunnelStatus } from '@mptun/tunnel-common';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { startEcho, startHarness, tunnel } from './support.js';

describe('mptun-server service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-server-svc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves Prometheus text with the counters on loopback, with no label per client', async () => {
    const echo = await startEcho();
    const h = await startHarness({ allow: [`127.0.0.1:${echo.port}`], metrics: { host: '127.0.0.1', port: 0 } });
    try {
      const ok = await tunnel(h.client, '127.0.0.1', echo.port);
      expect(ok.status).toBe(TunnelStatus.OK);
      ok.socket.write('ping');
      ok.socket.resume();
      expect((await tunnel(h.client, '127.0.0.1', 1)).status).toBe(TunnelStatus.NOT_ALLOWED);
      const text = await (await fetch(h.server.metricsUrl!)).text();
      expect(text).toContain('mptun_connections_total 2');
      expect(text).toContain('mptun_connections_open 1');
      expect(text).toContain('mptun_connections_refused_total{reason="not_allowed"} 1');
      expect(text).toMatch(/mptun_subflows\{listener="127\.0\.0\.1:\d+"\} [12]\n/);
      expect(text).toMatch(/mptun_subflow_srtt_seconds\{listener="127\.0\.0\.1:\d+"\} \d/);
      expect(text).toContain('# TYPE mptun_relayed_bytes_total counter');
      expect(text).not.toContain('127.0.0.2'); // no series per client address
      ok.socket.destroy();
    } finally {
      await h.close();
      await echo.close();
    }
  });

  it('a port already in use gives a clear error', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    const port = taken.address().port;
    try {
      await expect(startHarness({ listen: [{ transport: 'udp', host: '127.0.0.1', port }] })).rejects.toMatchObject({
        code: 'ERR_MPTUN_ADDRESS_IN_USE',
        message: expect.stringContaining(`udp://127.0.0.1:${port}`),
      });
    } finally {
      taken.close();
    }
  });

  it('the bin drains on SIGTERM and exits 0', async () => {
    const crypto = await loadCrypto();
    const key = join(dir, 'server.key');
    writeFileSync(key, encodeKey(generateKeypair(crypto).privateKey) + '\n', { mode: 0o600 });
    const clients = join(dir, 'clients');
    writeFileSync(clients, `# test client\n${encodeKey(generateKeypair(crypto).publicKey)}\n`);
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'apps/server/src/main.ts', 'run', '--listen', 'udp://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mptun', '--key', key, '--authorized-keys', clients, '--allow', '127.0.0.1', '--drain', '1s', '--log-format', 'json'], {
      cwd: join(import.meta.dirname, '../../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (err.includes('"msg":"server started"')) {
          clearInterval(t);
          resolve();
        }
      }, 50);
      child.once('exit', () => {
        clearInterval(t);
        reject(new Error(`exited early: ${err}`));
      });
    });
    expect(err.match(/"msg":"listening"/g)?.length).toBe(2);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(err).toContain('"msg":"stopped"');
  });
});
