/**
 * The dashboard in a real headless Chromium, served by the real mptun-client (a child
 * process) while a SOCKS5 client pushes traffic both ways through it, over two loopback
 * paths (127.0.0.2, 127.0.0.3), to the real mptun-server and a local TCP sink. Nothing here
 * feeds the status page by hand: what it shows is what the app tracked.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it, expect } from 'vitest';
import { chromium } from 'playwright-core';
import { REPO, startClientApp, startServerApp, stopAll, writeKeyFiles } from './cli-support.js';
import { connectTcp, connectRequest } from './support.js';
import type { StatusSnapshot } from '../src/status/types.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
// In CI a missing browser is a failure, not a skip.
if (!haveChromium && !process.env['CI']) console.log(`${CHROMIUM} is not installed: skipping the dashboard test (apt-get install -y chromium)`);
const run = haveChromium || process.env['CI'] ? describe : describe.skip;

afterEach(stopAll);

/** A TCP target that streams bytes to each client (~1.6 MB/s) and discards what it receives. */
async function startStreamingSink(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const chunk = Buffer.alloc(16 * 1024, 0x62);
  const server = createServer((c) => {
    sockets.add(c);
    c.on('error', () => {});
    c.resume();
    const pump = setInterval(() => {
      if (c.writableLength < 256 * 1024) c.write(chunk);
    }, 10);
    c.once('close', () => {
      clearInterval(pump);
      sockets.delete(c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const c of sockets) c.destroy();
        server.close(() => r());
      }),
  };
}

run('status dashboard in headless Chromium', () => {
  it('shows the real client\'s live paths, connection and totals during a transfer', async () => {
    const keys = await writeKeyFiles();
    const sink = await startStreamingSink();
    const profileDir = await mkdtemp(join(tmpdir(), 'mptun-dash-profile-'));
    let pump: NodeJS.Timeout | null = null;
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | null = null;
    let proxied: Socket | null = null;
    try {
      const server = await startServerApp(keys);
      const client = await startClientApp(keys, server.address, ['127.0.0.2', '127.0.0.3']);
      const statusUrl = client.statusUrl;

      // A SOCKS5 client, as curl or a browser would be: greeting, CONNECT, then bytes both ways.
      const [socksHost, socksPort] = [client.socks.slice(0, client.socks.lastIndexOf(':')), Number(client.socks.slice(client.socks.lastIndexOf(':') + 1))];
      const { socket, reader } = await connectTcp(socksPort, socksHost);
      proxied = socket;
      socket.write(Buffer.from([5, 1, 0]));
      expect([...(await reader.read(2))!]).toEqual([5, 0]);
      socket.write(connectRequest('127.0.0.1', sink.port));
      const reply = await reader.read(10);
      expect(reply?.[1]).toBe(0);
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      pump = setInterval(() => {
        if (socket.writableLength < 256 * 1024) socket.write(chunk);
      }, 10);
      let received = 0;
      socket.on('data', (d: Buffer) => (received += d.length));

      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        viewport: { width: 1280, height: 900 },
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const external: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(statusUrl)) external.push(r.url());
      });
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${statusUrl}/`);

      // Browser-side code reaches the DOM through an untyped `document`: the tests compile
      // without DOM typings. (Functions, not strings: the page's CSP forbids eval.)
      // Live data: both paths carried bytes, and each chart drew a few seconds of points.
      await page.waitForFunction(
        () => {
          const doc: any = (globalThis as any).document;
          const rows: any[] = [...doc.querySelectorAll('#paths tr[data-path]')];
          const moved = rows.filter((r) => Number(r.querySelector('[data-field=bytesUp]')?.dataset.value) > 0);
          return rows.length === 2 && moved.length === 2 &&
            Number(doc.getElementById('throughput').dataset.points) >= 16 &&
            Number(doc.getElementById('rtt').dataset.points) >= 8;
        },
        undefined,
        { timeout: 30_000, polling: 250 },
      );

      const rows = (await page.evaluate(() => [...(globalThis as any).document.querySelectorAll('#paths tr[data-path]')].map((tr: any) => ({
        path: tr.dataset.path,
        name: tr.querySelector('td').textContent,
        state: tr.querySelector('[data-field=state]').textContent,
        rtt: tr.querySelector('[data-field=rtt]').textContent,
        bytesUp: Number(tr.querySelector('[data-field=bytesUp]').dataset.value),
        bytesDown: Number(tr.querySelector('[data-field=bytesDown]').dataset.value),
      })))) as Array<{ path: string; name: string; state: string; rtt: string; bytesUp: number; bytesDown: number }>;
      console.log('dashboard paths', JSON.stringify(rows));
      expect(rows.map((r) => [r.path, r.name, r.state])).toEqual([
        ['127.0.0.2', '127.0.0.2', 'up'],
        ['127.0.0.3', '127.0.0.3', 'up'],
      ]);
      for (const r of rows) {
        expect(r.bytesUp).toBeGreaterThan(0);
        expect(r.bytesDown).toBeGreaterThan(0);
        expect(r.rtt).toMatch(/^\d+(\.\d)? ms$/);
      }
      // The page's numbers are the API's, a moment apart: never ahead of it.
      const api = (await (await fetch(`${statusUrl}/api/status`)).json()) as StatusSnapshot;
      for (const r of rows) expect(r.bytesUp).toBeLessThanOrEqual(api.paths.find((p) => p.localAddress === r.path)!.bytesUp);
      expect(api.connections.length).toBe(1);
      expect(api.connections[0]!.bytesUp).toBeGreaterThan(0);
      expect(api.connections[0]!.bytesDown).toBeGreaterThan(0);
      expect(received).toBeGreaterThan(0);

      const conns = (await page.evaluate(() =>
        [...(globalThis as any).document.querySelectorAll('#connections tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)),
      )) as string[][];
      expect(conns.length).toBe(1);
      expect(conns[0]![0]).toBe(`127.0.0.1:${sink.port}`);
      expect(conns[0]![1]).toMatch(/^\d+$/);
      expect(conns[0]![2]).not.toBe('0 B');
      expect(conns[0]![3]).not.toBe('0 B');
      expect(conns[0]![4]).toBe('2');

      // The client's own figures: server, version, listeners and totals.
      const summary = (await page.evaluate(() =>
        Object.fromEntries([...(globalThis as any).document.querySelectorAll('#summary [data-field]')].map((dd: any) => [dd.dataset.field, { text: dd.textContent, value: dd.dataset.value }])),
      )) as Record<string, { text: string; value?: string }>;
      console.log('dashboard summary', JSON.stringify(summary));
      const version = (JSON.parse(readFileSync(join(REPO, 'apps/client/package.json'), 'utf8')) as { version: string }).version;
      expect(summary['version']!.text).toBe(version);
      expect(summary['server']!.text).toBe(`${server.address} (udp)`);
      expect(Number(summary['connectionsTotal']!.value)).toBe(1);
      expect(Number(summary['bytesUp']!.value)).toBeGreaterThan(0);
      expect(Number(summary['bytesDown']!.value)).toBeGreaterThan(0);
      expect(Number(summary['uptime']!.value)).toBeGreaterThan(0);
      expect(summary['listeners']!.text).toContain(`socks ${client.socks}`);

      // The throughput chart has ink in both paths' colours, not just axes.
      const ink = (await page.evaluate(() => {
        const canvas: any = (globalThis as any).document.getElementById('throughput');
        const data: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const near = (r: number, g: number, b: number): number => {
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (Math.abs(data[i]! - r) < 40 && Math.abs(data[i + 1]! - g) < 40 && Math.abs(data[i + 2]! - b) < 40 && data[i + 3]! > 128) n++;
          }
          return n;
        };
        return { blue: near(0x3b, 0x82, 0xf6), amber: near(0xf5, 0x9e, 0x0b) };
      })) as { blue: number; amber: number };
      console.log('throughput chart pixels', JSON.stringify(ink));
      expect(ink.blue).toBeGreaterThan(50);
      expect(ink.amber).toBeGreaterThan(50);
      expect(await page.textContent('#state')).toMatch(/^updated /);

      // Taken during the transfer; results/ is not committed.
      mkdirSync(join(REPO, 'results'), { recursive: true });
      const shot = join(REPO, 'results', 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log('dashboard screenshot', shot);
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
      expect(external).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      if (pump) clearInterval(pump);
      proxied?.destroy();
      if (context) await context.close();
      await stopAll();
      await sink.close();
      keys.cleanup();
      await rm(profileDir, { recursive: true, force: true });
    }
  });
});
