/**
 * Path management through the real apps: mptun-server announces every UDP address it listens
 * on (ADD_ADDR), mptun-client, told only the first, joins the others; a download through the
 * SOCKS proxy with curl spreads over them, IPv4 and IPv6 paths in one connection; the
 * client's close line gives the bytes per path.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runApp, startApp, startClientApp, startLinkem, stopAll, withKeys, type AppProcess, type KeyFiles } from './cli-support.js';

const relays: ChildProcess[] = [];
afterEach(async () => {
  await stopAll();
  for (const r of relays.splice(0)) r.kill('SIGKILL');
});

/** A UDP port of `host` that was free a moment ago. */
async function freeUdpPort(host: string): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, host, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SIZE = 24_000_000;
/**
 * These tests are about which addresses are signalled and joined, and whether the joined
 * paths carry part of a download. Both apps keep 1200-byte datagrams: with path MTU discovery
 * a loopback path carries 64 KiB datagrams, one path is never the bottleneck, and how much
 * the others get would depend on timing (cli-pmtud.test.ts covers path MTU discovery).
 */
const FIXED_DATAGRAMS = ['--no-pmtud'];

function body(): Buffer {
  const b = Buffer.alloc(SIZE);
  let x = 7;
  for (let i = 0; i < SIZE; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/**
 * An HTTP server of `data`. With `gate`, it sends the first MiB, waits for the gate, then the
 * rest: on loopback a download can finish before a late join is up, so a test that judges how
 * the bytes spread first waits for the joins.
 */
async function httpServer(data: Buffer, gate?: () => Promise<unknown>): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': data.length });
    if (!gate) return void res.end(data);
    res.write(data.subarray(0, 1 << 20));
    gate().then(
      () => res.end(data.subarray(1 << 20)),
      (err: unknown) => res.destroy(err as Error),
    );
  });
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

type PathBytes = { local: string; remote: string; bytesUp: number; bytesDown: number };

/** Key files, a file to download and an HTTP server of it on 127.0.0.1, for `fn`. */
async function withDownload(fn: (keys: KeyFiles, http: { port: number; gate: (g: () => Promise<unknown>) => void }, data: Buffer) => Promise<void>): Promise<void> {
  await withKeys(async (keys) => {
    const data = body();
    let gate: (() => Promise<unknown>) | undefined;
    const http = { ...(await httpServer(data, () => (gate ? gate() : Promise.resolve()))), gate: (g: () => Promise<unknown>) => void (gate = g) };
    try {
      await fn(keys, http, data);
    } finally {
      http.server.close();
    }
  });
}

/** mptun-server on the given UDP listen addresses (JSON logs), once started, with the addresses it listens on. */
async function serverApp(keys: KeyFiles, listen: string[], extra: string[] = []): Promise<{ app: AppProcess; listening: string[] }> {
  const app = startApp('server', [
    'run', ...listen.flatMap((l) => ['--listen', `udp://${l}`]),
    '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json', ...FIXED_DATAGRAMS, ...extra,
  ]);
  await app.waitForLog((l) => l['msg'] === 'server started');
  return { app, listening: app.logs().filter((l) => l['msg'] === 'listening').map((l) => String(l['address'])) };
}

/** curl the file through the client's SOCKS proxy, check it, and return the client's bytes per path. */
async function download(client: { app: AppProcess; socks: string }, httpPort: number, data: Buffer): Promise<PathBytes[]> {
  const got = await curl(client.socks, `http://127.0.0.1:${httpPort}/file`);
  expect(got.length).toBe(SIZE);
  expect(sha(got)).toBe(sha(data));
  const closed = await client.app.waitForLog((l) => l['msg'] === 'connection closed');
  const paths = closed['paths'] as PathBytes[];
  console.log('bytes down per path', paths.map((p) => `${p.local} -> ${p.remote}: ${p.bytesDown}`));
  expect(paths.reduce((a, p) => a + p.bytesDown, 0), 'every byte is on some path').toBeGreaterThanOrEqual(SIZE);
  return paths;
}

describe('address signalling through the apps', () => {
  it('server on 127.0.0.1, 127.0.0.4 and ::1; client told only the first: subflows to all three, the curl download spread over them', async () => {
    await withDownload(async (keys, http, data) => {
      const server = await serverApp(keys, ['127.0.0.1:0', '127.0.0.4:0', '[::1]:0']);
      const announced = server.app.logs().filter((l) => l['msg'] === 'announcing address').map((l) => String(l['address']));
      expect(announced).toHaveLength(3);
      expect(announced.some((a) => a.startsWith('127.0.0.4:'))).toBe(true);
      expect(announced.some((a) => a.startsWith('[::1]:'))).toBe(true);
      const first = server.listening[0]!;
      expect(first.startsWith('127.0.0.1:')).toBe(true);

      // The bulk waits until the server has seen all three subflows, one of them from ::1.
      const joined = (): boolean => {
        const up = server.app.logs().filter((l) => l['msg'] === 'client path up');
        return up.length >= 3 && up.some((l) => l['address'] === '::1');
      };
      http.gate(() => server.app.waitForLog(() => joined(), 20_000));
      const paths = await download(await startClientApp(keys, first, [], FIXED_DATAGRAMS), http.port, data);
      const down = (remote: string): number => paths.filter((p) => p.remote === remote).reduce((a, p) => a + p.bytesDown, 0);
      expect(down('127.0.0.1'), 'the first server address carried part of the download').toBeGreaterThan(100_000);
      expect(down('127.0.0.4'), 'the announced IPv4 address carried part of the download').toBeGreaterThan(100_000);
      expect(down('::1'), 'the announced IPv6 address carried part of the download').toBeGreaterThan(100_000);
    });
  }, 90_000);

  it('--path 127.0.0.2 --path ::1 with the server on 127.0.0.1 and [::1]: curl through SOCKS carries bytes on the IPv4 and the IPv6 path', async () => {
    await withDownload(async (keys, http, data) => {
      const server = await serverApp(keys, ['127.0.0.1:0', '[::1]:0']);
      const paths = await download(await startClientApp(keys, server.listening[0]!, ['127.0.0.2', '::1'], FIXED_DATAGRAMS), http.port, data);
      const v4 = paths.find((p) => p.local === '127.0.0.2' && p.remote === '127.0.0.1');
      const v6 = paths.find((p) => p.local === '::1' && p.remote === '::1');
      expect(v4?.bytesDown, 'IPv4 path').toBeGreaterThan(100_000);
      expect(v6?.bytesDown, 'IPv6 path').toBeGreaterThan(100_000);
    });
  }, 90_000);

  it('--announce: the server announces an address in front of it (a UDP relay standing in for NAT); the client joins through it and the download uses it', async () => {
    await withDownload(async (keys, http, data) => {
      const front = await freeUdpPort('127.0.0.5');
      const server = await serverApp(keys, ['127.0.0.1:0'], ['--announce', `127.0.0.5:${front}`]);
      const first = server.listening[0]!;
      expect(server.app.logs().filter((l) => l['msg'] === 'announcing address').map((l) => l['address'])).toEqual([first, `127.0.0.5:${front}`]);
      // The relay forwards 127.0.0.5:front to the server: the server never listens there.
      await startLinkem(['--udp', `127.0.0.5:${front}=${first}`, '--no-control'], (relay) => relays.push(relay));
    const paths = await download(await startClientApp(keys, first, ['127.0.0.2'], FIXED_DATAGRAMS), http.port, data);
    expect(paths.find((p) => p.remote === '127.0.0.5')?.bytesDown, 'the announced address').toBeGreaterThan(100_000);
    expect(paths.find((p) => p.remote === '127.0.0.1')?.bytesDown, 'the address the client was given').toBeGreaterThan(100_000);
    });
  }, 90_000);

  it('--path-manager ndiffports:4: four subflows from one address, each from its own UDP source port (the server logs each)', async () => {
    await withDownload(async (keys, http, data) => {
      const server = await serverApp(keys, ['127.0.0.1:0']);
      await download(await startClientApp(keys, server.listening[0]!, ['127.0.0.2'], ['--path-manager', 'ndiffports:4']), http.port, data);
      const ups = server.app.logs().filter((l) => l['msg'] === 'client path up' && l['address'] === '127.0.0.2');
      const ports = new Set(ups.map((l) => l['port']));
      console.log('UDP source ports of the subflows, as the server saw them:', [...ports]);
      expect(ports.size).toBe(4);
    });
  }, 90_000);

  it('--path-manager ndiffports:4 over WebSocket: four subflows from one address, each on its own WebSocket connection (ss counts them), and the download hash-exact', async () => {
    await withDownload(async (keys, http, data) => {
      const server = startApp('server', ['run', '--listen', 'ws://127.0.0.1:0/mptun', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json']);
      const wsPort = Number(String((await server.waitForLog((l) => l['msg'] === 'listening'))['address']).split(':').pop());
      // The peers of the server's established WebSocket connections, as the kernel lists them.
      const peers = async (): Promise<string[]> => {
        const { stdout } = await promisify(execFile)('ss', ['-Htn', 'state', 'established', `( sport = :${wsPort} )`]);
        return stdout.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '').filter((p) => p.startsWith('127.0.0.2:'));
      };
      let seen: string[] = [];
      // The bulk of the download waits until the four connections are up (loopback is fast).
      http.gate(async () => {
        const deadline = Date.now() + 20_000;
        while ((seen = await peers()).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      });
      const client = await startClientApp(keys, `127.0.0.1:${wsPort}`, ['127.0.0.2'], ['--transport', 'ws', '--ws-url', `ws://127.0.0.1:${wsPort}/mptun`, '--path-manager', 'ndiffports:4']);
      await download(client, http.port, data);
      console.log('WebSocket connections from 127.0.0.2 during the download:', seen);
      expect(new Set(seen).size).toBe(4);
      const ups = server.logs().filter((l) => l['msg'] === 'client path up' && l['address'] === '127.0.0.2');
      expect(ups.length).toBeGreaterThanOrEqual(4);
    });
  }, 90_000);

  it('--path-manager with an unknown policy is a usage error naming the valid ones', async () => {
    await withKeys(async (keys) => {
      const r = await runApp('client', ['run', '--server', '127.0.0.1:9', '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path-manager', 'meshfull']);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/fullmesh.*ndiffports/);
    });
  });
});
