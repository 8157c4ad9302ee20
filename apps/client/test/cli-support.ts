/**
 * The real apps as a user runs them: mptun-server, mptun-client and mptun-linkem as child
 * processes (from source, as the README's no-build line runs them), key files on disk, and
 * their output to wait on: JSON log lines, or a pattern in what they print. This is the one
 * runner every CLI test uses (apps/server/test/cli-apps.ts builds on it). Every process
 * started here is killed by stopAll(), and whatever is left when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';

export const REPO = join(import.meta.dirname, '../../..');

const MAINS = { client: 'apps/client/src/main.ts', server: 'apps/server/src/main.ts', linkem: 'packages/linkem/src/main.ts' };
/** The commands a user runs (they run the build when there is one, else the sources). */
const BINS = { client: 'apps/client/bin/mptun-client.js', server: 'apps/server/bin/mptun-server.js', linkem: 'packages/linkem/bin/mptun-linkem.js' };
export type AppName = keyof typeof MAINS;

export interface AppProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr as they arrived, interleaved. */
  output(): string;
  /** Parsed JSON log lines (stderr) so far. */
  logs(): Array<Record<string, unknown>>;
  /** The first JSON log line that matches, waiting up to timeoutMs. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The first match of `re` in the output, waiting up to timeoutMs; rejects if the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, SIGKILL if it is still running after graceMs (default 15 s), and wait for the exit. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves once it has exited and its output is complete. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  stdin?: 'ignore' | 'pipe';
  /** Run it through another command first (e.g. `ip netns exec NS`). */
  prefix?: string[];
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
  /** Run the installed command (bin/, the build) instead of the sources through tsx. */
  bin?: boolean;
}

const started = new Set<AppProcess>();
process.once('exit', () => {
  for (const p of started) p.child.kill('SIGKILL');
});

/** Poll `check` every 25 ms until it returns a value; fail on exit or after timeoutMs. */
async function pollUntil<T>(app: AppName, proc: { done: boolean; output(): string }, what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = check();
    if (hit !== undefined) return hit;
    if (proc.done) throw new Error(`mptun-${app} exited before ${what}; output:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`mptun-${app}: ${what} not seen within ${timeoutMs} ms; output:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Start `mptun-<app> ...args` from source. */
export function startApp(app: AppName, args: string[], opts: StartOptions = {}): AppProcess {
  const entry = opts.bin ? [BINS[app]] : ['--conditions=source', '--import', 'tsx', MAINS[app]];
  const argv = [...(opts.prefix ?? []), process.execPath, ...entry, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let all = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => ((out += d), (all += d)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => ((err += d), (all += d)));
  // 'close' rather than 'exit': it comes once the output is complete too.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const logs = (): Array<Record<string, unknown>> =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const state = { done: false, output: () => all };
  void exited.then(() => (state.done = true));
  const proc: AppProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    output: () => all,
    logs,
    exited,
    waitForLog: (match, timeoutMs = 30_000) => pollUntil(app, state, 'the expected log line', () => logs().find(match), timeoutMs),
    waitFor: (re, timeoutMs = 20_000) => pollUntil(app, state, String(re), () => re.exec(all) ?? undefined, timeoutMs),
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
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
export async function runApp(app: AppName, args: string[], timeoutMs = 30_000, opts: StartOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startApp(app, args, opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Stop every app still running (SIGKILL after 5 s). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop(5000)));
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
export async function startServerApp(keys: KeyFiles, extra: string[] = [], opts: StartOptions = {}): Promise<{ app: AppProcess; address: string }> {
  const app = startApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json', ...extra], opts);
  const line = await app.waitForLog((l) => l['msg'] === 'listening');
  return { app, address: String(line['address']) };
}

/** mptun-client with SOCKS and the status page on free ports; resolves once both listen. */
export async function startClientApp(keys: KeyFiles, server: string, paths: string[], extra: string[] = [], opts: StartOptions = {}): Promise<{ app: AppProcess; socks: string; statusUrl: string }> {
  const app = startApp('client', [
    'run', '--server', server, '--server-key', keys.serverPublic, '--key', keys.clientKey,
    ...paths.flatMap((p) => ['--path', p]),
    '--socks', '127.0.0.1:0', '--status', '127.0.0.1:0', '--log-format', 'json', ...extra,
  ], opts);
  const socks = String((await app.waitForLog((l) => l['msg'] === 'SOCKS5 proxy listening'))['address']);
  const statusUrl = String((await app.waitForLog((l) => l['msg'] === 'status page listening'))['url']);
  return { app, socks, statusUrl };
}
