/**
 * The dashboard in a real headless Chromium, fed by a real MptcpClient moving data over two
 * loopback paths (127.0.0.2, 127.0.0.3) to an MptcpServer that echoes it back.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { chromium } from 'playwright-core';
import { MptcpClient, MptcpServer, type MptcpSocket } from '@mptun/node';
import { generateKeypair, loadCrypto } from '@mptun/session';
import { startStatusServer } from '../src/status/server.js';
import { StatusTracker } from '../src/status/tracker.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
// In CI a missing browser is a failure, not a skip.
const run = haveChromium || process.env['CI'] ? describe : describe.skip;

run('status dashboard in headless Chromium', () => {
  it('shows live paths, connections and drawn charts', async () => {
    const crypto = await loadCrypto();
    const serverKeys = generateKeypair(crypto);
    const clientKeys = generateKeypair(crypto);
    const server = new MptcpServer({
      listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
      keypair: serverKeys,
      authorizedKeys: [clientKeys.publicKey],
      crypto,
    });
    const serverSockets: MptcpSocket[] = [];
    server.on('connection', (s: MptcpSocket) => {
      serverSockets.push(s);
      s.on('error', () => {});
      s.pipe(s); // echo: the client sees traffic both ways
    });
    const [bound] = await server.listen();
    const client = new MptcpClient({
      transport: 'udp',
      server: { host: '127.0.0.1', port: bound!.port },
      keypair: clientKeys,
      serverPublicKey: serverKeys.publicKey,
      crypto,
      localAddresses: ['127.0.0.2', '127.0.0.3'],
      connectTimeoutMs: 5000,
    });
    const tracker = new StatusTracker(client, { names: { '127.0.0.2': 'wifi', '127.0.0.3': 'lte' } });
    const status = await startStatusServer(client, { host: '127.0.0.1', port: 0, tracker });
    const profileDir = await mkdtemp(join(tmpdir(), 'mptun-dash-profile-'));
    const shotDir = await mkdtemp(join(tmpdir(), 'mptun-dash-shot-'));
    let pump: NodeJS.Timeout | null = null;
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | null = null;
    try {
      await client.start();
      const sock = client.connect({ data: new TextEncoder().encode('hello') });
      sock.on('error', () => {});
      tracker.track(sock, 'echo.test:7');
      sock.resume();
      // A steady, modest transfer (~1.6 MB/s each way), so the machine's two cores stay free.
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      pump = setInterval(() => {
        if (sock.writableLength < 256 * 1024) sock.write(chunk);
      }, 10);

      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        viewport: { width: 1280, height: 900 },
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const external: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(status.url)) external.push(r.url());
      });
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${status.url}/`);

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
        ['127.0.0.2', 'wifi (127.0.0.2)', 'up'],
        ['127.0.0.3', 'lte (127.0.0.3)', 'up'],
      ]);
      for (const r of rows) {
        expect(r.bytesUp).toBeGreaterThan(0);
        expect(r.bytesDown).toBeGreaterThan(0);
        expect(r.rtt).toMatch(/^\d+(\.\d)? ms$/);
      }
      // The page's numbers are the API's, a moment apart: never ahead of the tracker.
      const api = tracker.snapshot();
      for (const r of rows) expect(r.bytesUp).toBeLessThanOrEqual(api.paths.find((p) => p.localAddress === r.path)!.bytesUp);

      const conns = (await page.evaluate(() =>
        [...(globalThis as any).document.querySelectorAll('#connections tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)),
      )) as string[][];
      expect(conns.length).toBe(1);
      expect(conns[0]![0]).toBe('echo.test:7');
      expect(conns[0]![1]).toBe(String(sock.connectionId));
      expect(conns[0]![4]).toBe('2');

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

      const shot = join(shotDir, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log('dashboard screenshot', shot);
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
      expect(external).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      if (pump) clearInterval(pump);
      if (context) await context.close();
      await status.close();
      await client.close();
      for (const s of serverSockets) s.destroy();
      await server.close();
      await rm(profileDir, { recursive: true, force: true });
      // Set MPTUN_KEEP_SCREENSHOT=1 to keep the screenshot for a look.
      if (!process.env['MPTUN_KEEP_SCREENSHOT']) await rm(shotDir, { recursive: true, force: true });
    }
  });
});
