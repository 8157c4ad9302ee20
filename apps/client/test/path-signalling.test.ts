/**
 * Path management through the real apps: mptun-server announces every UDP address it listens
 * on (ADD_ADDR), mptun-client, told only the first, joins the others; a download through the
 * SOCKS proxy with curl spreads over them, IPv4 and IPv6 paths in one connection; the
 * client's close line gives the bytes per path.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, startClientApp, stopAll, writeKeyFiles, type KeyFiles } from './cli-support.js';

afterEach(stopAll);

const SIZE = 24_000_000;

function body(): Buffer {
  const b = Buffer.alloc(SIZE);
  let x = 7;
  for (let i = 0; i < SIZE; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

async function httpServer(data: Buffer): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-length': data.length }).end(data));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

/** curl through the SOCKS proxy; resolves with what it downloaded. */
function curl(socks: string, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--fail', '--max-time', '60', '--socks5', socks, url], { encoding: 'buffer', maxBuffer: 2 * SIZE }, (err, stdout, stderr) => {
      if (err) reject(new Error(`curl failed: ${err.message} ${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function withKeys<T>(fn: (keys: KeyFiles) => Promise<T>): Promise<T> {
  const keys = await writeKeyFiles();
  try {
    return await fn(keys);
  } finally {
    keys.cleanup();
  }
}

type PathBytes = { local: string; remote: string; bytesUp: number; bytesDown: number };

describe('address signalling through the apps', () => {
  it('server on 127.0.0.1, 127.0.0.4 and ::1; client told only the first: subflows to all three, the curl download spread over them', async () => {
    await withKeys(async (keys) => {
      const data = body();
      const http = await httpServer(data);
      try {
        const server = startApp('server', [
          'run', '--listen', 'udp://127.0.0.1:0', '--listen', 'udp://127.0.0.4:0', '--listen', 'udp://[::1]:0',
          '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json',
        ]);
        await server.waitForLog((l) => l['msg'] === 'server started');
        const listening = server.logs().filter((l) => l['msg'] === 'listening').map((l) => String(l['address']));
        const announced = server.logs().filter((l) => l['msg'] === 'announcing address').map((l) => String(l['address']));
        expect(announced).toHaveLength(3);
        expect(announced.some((a) => a.startsWith('127.0.0.4:'))).toBe(true);
        expect(announced.some((a) => a.startsWith('[::1]:'))).toBe(true);
        const first = listening[0]!;
        expect(first.startsWith('127.0.0.1:')).toBe(true);

        const client = await startClientApp(keys, first, []);
        const got = await curl(client.socks, `http://127.0.0.1:${http.port}/file`);
        expect(got.length).toBe(SIZE);
        expect(sha(got)).toBe(sha(data));
        const closed = await client.app.waitForLog((l) => l['msg'] === 'connection closed');
        const paths = closed['paths'] as PathBytes[];
        console.log('bytes down per path', paths.map((p) => `${p.local} -> ${p.remote}: ${p.bytesDown}`));
        expect(paths.reduce((a, p) => a + p.bytesDown, 0), 'every byte is on some path').toBeGreaterThanOrEqual(SIZE);
        const down = (remote: string): number => paths.filter((p) => p.remote === remote).reduce((a, p) => a + p.bytesDown, 0);
        expect(down('127.0.0.1'), 'the first server address carried part of the download').toBeGreaterThan(100_000);
        expect(down('127.0.0.4'), 'the announced IPv4 address carried part of the download').toBeGreaterThan(100_000);
        expect(down('::1'), 'the announced IPv6 address carried part of the download').toBeGreaterThan(100_000);
      } finally {
        http.server.close();
      }
    });
  }, 90_000);

  it('--path 127.0.0.2 --path ::1 with the server on 127.0.0.1 and [::1]: curl through SOCKS carries bytes on the IPv4 and the IPv6 path', async () => {
    await withKeys(async (keys) => {
      const data = body();
      const http = await httpServer(data);
      try {
        const server = startApp('server', [
          'run', '--listen', 'udp://127.0.0.1:0', '--listen', 'udp://[::1]:0',
          '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json',
        ]);
        const first = String((await server.waitForLog((l) => l['msg'] === 'listening'))['address']);
        await server.waitForLog((l) => l['msg'] === 'server started');
        const client = await startClientApp(keys, first, ['127.0.0.2', '::1']);
        const got = await curl(client.socks, `http://127.0.0.1:${http.port}/file`);
        expect(sha(got)).toBe(sha(data));
        const closed = await client.app.waitForLog((l) => l['msg'] === 'connection closed');
        const paths = closed['paths'] as PathBytes[];
        console.log('bytes down per path', paths.map((p) => `${p.local} -> ${p.remote}: ${p.bytesDown}`));
        const v4 = paths.find((p) => p.local === '127.0.0.2' && p.remote === '127.0.0.1');
        const v6 = paths.find((p) => p.local === '::1' && p.remote === '::1');
        expect(v4?.bytesDown, 'IPv4 path').toBeGreaterThan(100_000);
        expect(v6?.bytesDown, 'IPv6 path').toBeGreaterThan(100_000);
      } finally {
        http.server.close();
      }
    });
  }, 90_000);
});
