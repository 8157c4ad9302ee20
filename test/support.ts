/**
 * Shared pieces of the end-to-end tests with real clients: child processes that are always
 * killed, tool detection (skip only outside CI), and the testbed with two emulated paths.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { startTestbed, type Testbed, type TestbedOptions } from '../apps/demo/src/index.js';

/** Whether `tool` runs here. */
export function haveTool(tool: string): boolean {
  const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** Skip only when the tool is missing and we are not in CI (there it must be installed). */
export function skipWithout(tool: string): boolean {
  const missing = !haveTool(tool);
  if (missing && !process.env.CI) console.log(`${tool} is not installed: skipping (install it with apt-get install -y ${tool})`);
  return missing && !process.env.CI;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Child processes started by a test; killAll() in afterEach ends any left over. */
export class Children {
  private readonly live = new Set<ChildProcess>();

  /** Run to completion (killed after timeoutMs). */
  run(cmd: string, args: string[], timeoutMs: number): Promise<Finished> {
    const child = this.start(cmd, args);
    return this.wait(child, timeoutMs);
  }

  start(cmd: string, args: string[]): ChildProcess {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    child.once('error', () => this.live.delete(child));
    return child;
  }

  wait(child: ChildProcess, timeoutMs: number): Promise<Finished> {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  /** Resolves when `text` shows on the child's stdout. */
  waitForOutput(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`"${text}" did not appear within ${timeoutMs} ms; got: ${seen}`)), timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`exited before "${text}" appeared; got: ${seen}`));
      });
    });
  }

  killAll(): void {
    for (const c of this.live) c.kill('SIGKILL');
    this.live.clear();
  }
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** A port free right now on 127.0.0.1 (for tools that must be told a port). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The tunnel over Wi-Fi (127.0.0.2) and LTE (127.0.0.3) at test-friendly rates. */
export function twoPathTestbed(extra: Partial<TestbedOptions> = {}): Promise<Testbed> {
  const seed = extra.seed ?? (Math.random() * 0xffffffff) >>> 0;
  console.log(`link emulator seed ${seed}`);
  return startTestbed({
    seed,
    paths: [
      { name: 'wifi', local: '127.0.0.2', link: { profile: 'wifi', rate: '40mbit' } },
      { name: 'lte', local: '127.0.0.3', link: { profile: 'lte', rate: '20mbit' } },
    ],
    ...extra,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
