/**
 * curl through the whole chain: curl --socks5-hostname → SOCKS5 front end → MPTCP over two
 * emulated paths → tunnel server → local HTTP server. Several files, hash-exact, with the
 * Wi-Fi path cut while they are moving.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer, type Testbed } from '../apps/demo/src/index.js';
import { Children, sha256File, skipWithout, sleep, twoPathTestbed } from './support.js';

const MiB = 1024 * 1024;

describe.skipIf(skipWithout('curl'))('curl through the SOCKS5 tunnel', () => {
  const children = new Children();
  let bed: Testbed | null = null;
  let files: FileServer | null = null;
  let dir: string | null = null;

  afterEach(async () => {
    children.killAll();
    await bed?.close();
    await files?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    bed = files = dir = null;
  });

  it('downloads several files hash-exact over two paths, with Wi-Fi cut mid-transfer', async () => {
    files = await startFileServer('127.0.0.1', { 'a.bin': 3 * MiB, 'b.bin': 5 * MiB, 'c.bin': 4 * MiB + 123 });
    bed = await twoPathTestbed();
    dir = await mkdtemp(join(tmpdir(), 'mptun-curl-'));
    const proxy = `${bed.socks.host}:${bed.socks.port}`;
    const runs = files.files.map((f) =>
      children.run('curl', ['-sS', '--fail', '--max-time', '60', '--socks5-hostname', proxy, '-o', join(dir!, f.path), files!.url(f.path)], 70_000),
    );
    // Cut Wi-Fi once a few MiB have arrived over the tunnels, while all three are moving.
    const testbed = bed;
    let cutAt = -1;
    for (let i = 0; i < 400; i++) {
      const moved = testbed.meter.sample(i).reduce((a, p) => a + p.bytesDown, 0);
      if (moved >= 4 * MiB) {
        cutAt = moved;
        testbed.emulator.down('wifi');
        break;
      }
      await sleep(25);
    }
    const results = await Promise.all(runs);
    for (const r of results) expect(r.stderr).toBe('');
    for (const r of results) expect(r.code).toBe(0);
    for (const f of files.files) expect(await sha256File(join(dir, f.path))).toBe(f.sha256);
    expect(cutAt).toBeGreaterThan(0);
    const perPath = testbed.meter.sample(10_000);
    console.log(`wifi cut after ${cutAt} bytes; per path: ${perPath.map((p) => `${p.name} ${p.bytesDown} B`).join(', ')}`);
    expect(perPath.find((p) => p.name === 'wifi')!.bytesDown).toBeGreaterThan(0);
    // Everything after the cut came over LTE.
    expect(perPath.find((p) => p.name === 'lte')!.bytesDown).toBeGreaterThan(12 * MiB - cutAt - MiB);
    expect(testbed.emulator.pathStats('wifi').state).toBe('down');
  });
});
