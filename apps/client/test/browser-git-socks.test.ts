/**
 * Real clients through the real apps' SOCKS5 port, judged by code nobody here wrote:
 * headless Chromium loads a page whose script fetches a 2 MiB file and hashes it (Web
 * Crypto), and git clones a repository over HTTP. Both go mptun-client (two paths,
 * 127.0.0.2 and 127.0.0.3) → mptun-server → a local HTTP server on 127.0.0.1, and the
 * server's log must show it relaying to that server: nothing went around the tunnel.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { startClientApp, startServerApp, stopAll, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-support.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const haveGit = (() => {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
// In CI a missing tool is a failure, not a skip.
if (!haveChromium && !process.env['CI']) console.log(`${CHROMIUM} is not installed: skipping the Chromium case (apt-get install -y chromium)`);
if (!haveGit && !process.env['CI']) console.log('git is not installed: skipping the git case (apt-get install -y git)');

const MiB = 1024 * 1024;
const dirs: string[] = [];
let http: Server | null = null;
let keys: KeyFiles | null = null;

afterEach(async () => {
  await stopAll();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  http = null;
  keys?.cleanup();
  keys = null;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A static file server for `root` on 127.0.0.1 (GET only, paths kept inside root). */
async function serveFiles(root: string): Promise<number> {
  const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript' };
  http = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path);
    if (req.method !== 'GET' || !file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': types[file.split('.').pop() ?? ''] ?? 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => http!.listen(0, '127.0.0.1', () => r()));
  return (http.address() as { port: number }).port;
}

/** The real server and client apps; the client's SOCKS5 address. */
async function startTunnel(): Promise<{ server: AppProcess; socks: string }> {
  keys = await writeKeyFiles();
  const server = await startServerApp(keys);
  const client = await startClientApp(keys, server.address, ['127.0.0.2', '127.0.0.3']);
  return { server: server.app, socks: client.socks };
}

/** Targets the server's log says it relayed to. */
function relayed(server: AppProcess): string[] {
  return server.logs().filter((l) => l['msg'] === 'relaying').map((l) => String(l['target']));
}

describe.skipIf(!haveChromium && !process.env['CI'])('Chromium through the SOCKS5 port', () => {
  it('loads a page whose script fetches 2 MiB and hashes it, all through the tunnel', async () => {
    const root = await tempDir('mptun-web-');
    const blob = createHash('sha256').update('seed').digest();
    const big = Buffer.alloc(2 * MiB);
    for (let i = 0; i < big.length; i += blob.length) blob.copy(big, i);
    writeFileSync(join(root, 'big.bin'), big);
    writeFileSync(join(root, 'app.js'), [
      "const bytes = await (await fetch('/big.bin')).arrayBuffer();",
      "const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));",
      "document.title = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');",
    ].join('\n'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>loading</title><script type="module" src="/app.js"></script>');
    const port = await serveFiles(root);
    const { server, socks } = await startTunnel();
    const profile = await tempDir('mptun-chromium-');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      // <-loopback> takes loopback off Chromium's built-in bypass list, so 127.0.0.1 goes through the proxy.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--proxy-server=socks5://${socks}`, '--proxy-bypass-list=<-loopback>'],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      // crypto.subtle needs a secure context; http://127.0.0.1 is one.
      await page.goto(`http://127.0.0.1:${port}/index.html`);
      const expected = createHash('sha256').update(big).digest('hex');
      await page.waitForFunction((want) => (globalThis as { document?: { title: string } }).document?.title === want, expected, { timeout: 30_000 });
    } finally {
      await context.close();
    }
    const targets = relayed(server);
    console.log(`the server relayed ${targets.length} connections to ${[...new Set(targets)].join(', ')}`);
    expect(targets).toContain(`127.0.0.1:${port}`);
  }, 90_000);
});

describe.skipIf(!haveGit && !process.env['CI'])('git through the SOCKS5 port', () => {
  it('clones a repository over HTTP, every commit and file intact', async () => {
    // A repository with a few commits, published the "dumb" HTTP way (static files).
    const work = await tempDir('mptun-git-src-');
    const git = (cwd: string, ...args: string[]): string =>
      execFileSync('git', ['-c', 'user.name=mptun test', '-c', 'user.email=test@mptun.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work } }).trim();
    git(work, 'init', '-q', 'src');
    const src = join(work, 'src');
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(src, `file${i}.txt`), `commit ${i}\n`.repeat(1000 * (i + 1)));
      git(src, 'add', '.');
      git(src, 'commit', '-q', '-m', `commit ${i}`);
    }
    const head = git(src, 'rev-parse', 'HEAD');
    const root = await tempDir('mptun-git-web-');
    git(work, 'clone', '-q', '--bare', src, join(root, 'repo.git'));
    git(join(root, 'repo.git'), 'update-server-info');
    const port = await serveFiles(root);
    const { server, socks } = await startTunnel();

    const dest = join(work, 'clone');
    mkdirSync(dest);
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work, NO_PROXY: '', no_proxy: '' };
    // Asynchronously: the HTTP server answering git runs in this process.
    await promisify(execFile)('git', ['-c', `http.proxy=socks5h://${socks}`, 'clone', '-q', `http://127.0.0.1:${port}/repo.git`, dest], { env, timeout: 60_000 });
    expect(git(dest, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(dest, 'rev-list', '--count', 'HEAD')).toBe('3');
    expect(git(dest, 'fsck', '--full', '--strict')).toBe('');
    expect(readFileSync(join(dest, 'file2.txt'), 'utf8')).toBe('commit 2\n'.repeat(3000));
    const targets = relayed(server);
    console.log(`the server relayed ${targets.length} connections to ${[...new Set(targets)].join(', ')}`);
    expect(targets).toContain(`127.0.0.1:${port}`);
  }, 90_000);
});
