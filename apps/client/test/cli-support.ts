/**
 * The real apps as a user runs them: mptun-server and mptun-client as child processes (from
 * source, as the README's no-build line runs them), key files on disk, and their JSON log
 * lines to wait on. Every process started here is killed by stopAll().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';

export const REPO = join(import.meta.dirname, '../../..');

export interface AppProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines (stderr) so far. */
  logs(): Array<Record<string, unknown>>;
  /** The first JSON log line that matches, waiting up to timeoutMs. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<AppProcess>();

/** Start `mptun-<app> ...args` from source. */
export function startApp(app: 'client' | 'server', args: string[], opts: { stdin?: 'ignore' | 'pipe'; prefix?: string[] } = {}): AppProcess {
  // `prefix` runs it through another command first (e.g. `ip netns exec NS`).
  const argv = [...(opts.prefix ?? []), process.execPath, '--conditions=source', '--import', 'tsx', `apps/${app}/src/main.ts`, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO,
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const logs = (): Array<Record<string, unknown>> =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  let done = false;
  void exited.then(() => (done = true));
  const proc: AppProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    async waitForLog(match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs().find(match);
        if (hit) return hit;
        if (done) throw new Error(`mptun-${app} exited before the expected log line; stderr:\n${err}`);
        if (Date.now() > deadline) throw new Error(`mptun-${app}: expected log line not seen within ${timeoutMs} ms; stderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
  started.add(proc);
  void exited.then(() => started.delete(proc));
  return proc;
}

/**
 * mptun-linkem from source with `args`; `onStart` gets the child at once (to kill it later,
 * whatever happens), and the promise resolves once the emulator runs.
 */
export function startLinkem(args: string[], onStart: (child: ChildProcess) => void): Promise<void> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/linkem/src/main.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'ignore'] });
  onStart(child);
  return new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('running;')) resolve();
    });
    child.once('exit', () => reject(new Error(`the link emulator exited: ${out}`)));
  });
}

/** Run an app command to its end (killed after timeoutMs). */
export async function runApp(app: 'client' | 'server', args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startApp(app, args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** SIGTERM every app still running, then SIGKILL what is left after 5 s. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...started].map(async (p) => {
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(timer);
    }),
  );
}

export interface KeyFiles {
  dir: string;
  serverKey: string;
  serverPublic: string;
  clientKey: string;
  authorizedKeys: string;
  cleanup(): void;
}

/** A server and a client key file (0600) and an authorized-keys file admitting the client. */
export async function writeKeyFiles(): Promise<KeyFiles> {
  const crypto = await loadCrypto();
  const dir = mkdtempSync(join(tmpdir(), 'mptun-apps-'));
  const server = generateKeypair(crypto);
  const client = generateKeypair(crypto);
  const serverKey = join(dir, 'server.key');
  const clientKey = join(dir, 'client.key');
  const authorizedKeys = join(dir, 'clients.txt');
  writeFileSync(serverKey, encodeKey(server.privateKey) + '\n', { mode: 0o600 });
  writeFileSync(clientKey, encodeKey(client.privateKey) + '\n', { mode: 0o600 });
  writeFileSync(authorizedKeys, `${encodeKey(client.publicKey)} test-client\n`);
  return { dir, serverKey, serverPublic: encodeKey(server.publicKey), clientKey, authorizedKeys, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run `fn` with fresh key files, removed afterwards. */
export async function withKeys<T>(fn: (keys: KeyFiles) => Promise<T>): Promise<T> {
  const keys = await writeKeyFiles();
  try {
    return await fn(keys);
  } finally {
    keys.cleanup();
  }
}

/** mptun-server on a free UDP port of 127.0.0.1, JSON logs; resolves once it listens. */
export async function startServerApp(keys: KeyFiles, extra: string[] = []): Promise<{ app: AppProcess; address: string }> {
  const app = startApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json', ...extra]);
  const line = await app.waitForLog((l) => l['msg'] === 'listening');
  return { app, address: String(line['address']) };
}

/** mptun-client with SOCKS and the status page on free ports; resolves once both listen. */
export async function startClientApp(keys: KeyFiles, server: string, paths: string[], extra: string[] = []): Promise<{ app: AppProcess; socks: string; statusUrl: string }> {
  const app = startApp('client', [
    'run', '--server', server, '--server-key', keys.serverPublic, '--key', keys.clientKey,
    ...paths.flatMap((p) => ['--path', p]),
    '--socks', '127.0.0.1:0', '--status', '127.0.0.1:0', '--log-format', 'json', ...extra,
  ]);
  const socks = String((await app.waitForLog((l) => l['msg'] === 'SOCKS5 proxy listening'))['address']);
  const statusUrl = String((await app.waitForLog((l) => l['msg'] === 'status page listening'))['url']);
  return { app, socks, statusUrl };
}
