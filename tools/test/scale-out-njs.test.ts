/**
 * The balancer half of docs/scale-out.md §3 against a real nginx: Debian's nginx with its
 * stream and njs modules runs tools/scale-out/nginx/server-id.conf and mptun-route.js as they
 * are, in front of three UDP sinks that stand in for servers (today's mptun-server drops
 * datagrams that carry an id, so the servers cannot be real yet). Datagrams built by
 * route-field.ts are sent from many loopback source addresses; the test checks where each
 * one arrives: a first path (no id) by the source hash, every later path with an id on the
 * server it names whatever its source, and unknown or malformed ids back on the hash.
 *
 * Loopback only: 127.0.0.110 is the balancer, 127.0.0.51-53 the sinks, 127.0.0.6x-9x the
 * clients' addresses. Skipped with the reason printed where nginx or a module is missing
 * (scripts/test.sh installs them, and in CI a missing one fails the test instead).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDatagram, initiationDatagram } from '../scale-out/model.js';
import type { RouteId } from '../scale-out/route-field.js';

const HERE = join(import.meta.dirname, '../scale-out/nginx');
const MODULES = ['/usr/lib/nginx/modules/ngx_stream_module.so', '/usr/lib/nginx/modules/ngx_stream_js_module.so'];
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
const SHARED = { host: '127.0.0.110', port: 4433 };
/** Sink i stands for the server with id i + 1 (the conf's pool mptun_s<id>). */
const SINKS = ['127.0.0.51', '127.0.0.52', '127.0.0.53'];
const ROTATION = 1;

function skipReason(): string | undefined {
  const v = spawnSync(NGINX, ['-v'], { stdio: 'ignore' });
  if (v.error !== undefined || v.status !== 0) return 'nginx is not installed (apt-get install -y nginx)';
  const gone = MODULES.filter((m) => !existsSync(m));
  if (gone.length > 0) return `nginx modules missing: ${gone.join(', ')} (apt-get install -y libnginx-mod-stream libnginx-mod-stream-js)`;
  return undefined;
}
const reason = process.env.CI ? undefined : skipReason();
if (reason) console.log(`scale-out njs balancer test skipped: ${reason}`);

describe.skipIf(reason !== undefined)('server-id routing in nginx njs (tools/scale-out/nginx)', () => {
  let dir: string;
  let nginx: ChildProcess | undefined;
  const sinks: Socket[] = [];
  /** Marker (bytes 4..7 of a datagram) → the sink index it arrived at. */
  const arrived = new Map<number, number>();
  let marker = 1;

  beforeAll(async () => {
    for (const [i, host] of SINKS.entries()) {
      const s = createSocket('udp4');
      s.on('message', (msg) => {
        if (msg.length >= 8) arrived.set(msg.readUInt32LE(4), i);
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(SHARED.port, host, () => resolve());
      });
      sinks.push(s);
    }
    dir = mkdtempSync(join(tmpdir(), 'mptun-njs-'));
    copyFileSync(join(HERE, 'server-id.conf'), join(dir, 'server-id.conf'));
    copyFileSync(join(HERE, 'mptun-route.js'), join(dir, 'mptun-route.js'));
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        ...MODULES.map((m) => `load_module ${m};`),
        'daemon off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} notice;`,
        'events { worker_connections 256; }',
        `include ${join(dir, 'server-id.conf')};`,
        '',
      ].join('\n'),
    );
    const args = ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf];
    const check = spawnSync(NGINX, ['-t', ...args], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`nginx -t refused the config: ${check.stderr}`);
    let errors = '';
    nginx = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr!.setEncoding('utf8').on('data', (d: string) => (errors += d));
    const shared = `${SHARED.host}:${SHARED.port}`;
    for (const deadline = Date.now() + 10_000; ; ) {
      if (spawnSync('ss', ['-uanH', 'src', shared], { encoding: 'utf8' }).stdout.includes(shared)) break;
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${errors}`);
      if (Date.now() > deadline) throw new Error(`nginx did not bind ${shared}: ${errors}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(async () => {
    if (nginx !== undefined && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    for (const s of sinks) s.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Sends one datagram from `source` (a fresh port, so a fresh UDP session in nginx, whose
   * preread sees it) and returns the sink it reached.
   */
  async function sendFrom(source: string, datagram: Uint8Array): Promise<number> {
    const m = marker++;
    Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length).writeUInt32LE(m, 4);
    const s = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, source, () => resolve());
      });
      await new Promise<void>((resolve, reject) => s.send(datagram, SHARED.port, SHARED.host, (e) => (e ? reject(e) : resolve())));
      for (const deadline = Date.now() + 5_000; !arrived.has(m); ) {
        if (Date.now() > deadline) throw new Error(`datagram ${m} from ${source} reached no sink`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return arrived.get(m)!;
    } finally {
      s.close();
    }
  }

  const route = (sink: number, rotation = ROTATION): RouteId => ({ rotation, serverId: sink + 1 });

  it('first paths go by the source hash; every later path with an id reaches the server it names', async () => {
    const clients = Array.from({ length: 9 }, (_, i) => ({ first: `127.0.0.${61 + i}`, later: [`127.0.0.${71 + i}`, `127.0.0.${81 + i}`] }));
    let laterByHashOnHolder = 0;
    let laterCount = 0;
    const holders = new Set<number>();
    for (const c of clients) {
      const holder = await sendFrom(c.first, initiationDatagram(null));
      holders.add(holder);
      // The same address again, as a retry or the path's data: the same server.
      expect(await sendFrom(c.first, dataDatagram(null))).toBe(holder);
      for (const later of c.later) {
        expect(await sendFrom(later, initiationDatagram(route(holder)))).toBe(holder);
        expect(await sendFrom(later, dataDatagram(route(holder)))).toBe(holder);
        laterCount++;
        if ((await sendFrom(later, initiationDatagram(null))) === holder) laterByHashOnHolder++;
      }
    }
    console.log(
      `nginx njs: ${clients.length} first paths on ${holders.size} of ${SINKS.length} servers by hash; ` +
        `${laterCount} later paths: all on their server with the id, ${laterByHashOnHolder} of ${laterCount} without it`,
    );
    expect(holders.size).toBeGreaterThan(1);
    // Each server by its id, from addresses the hash spreads elsewhere too.
    for (const sink of SINKS.keys()) {
      for (const source of ['127.0.0.101', '127.0.0.102', '127.0.0.103']) {
        expect(await sendFrom(source, initiationDatagram(route(sink)))).toBe(sink);
      }
    }
  }, 120_000);

  it('an id of no server, another rotation or a malformed field falls back to the source hash', async () => {
    for (const source of ['127.0.0.91', '127.0.0.92', '127.0.0.93']) {
      const hashed = await sendFrom(source, initiationDatagram(null));
      expect(await sendFrom(source, initiationDatagram({ rotation: ROTATION, serverId: 9 }))).toBe(hashed);
      for (const sink of SINKS.keys()) {
        expect(await sendFrom(source, initiationDatagram(route(sink, 2)))).toBe(hashed);
        const malformed = initiationDatagram(route(sink));
        malformed[1]! |= 0x01;
        expect(await sendFrom(source, malformed)).toBe(hashed);
      }
    }
  }, 120_000);
});
