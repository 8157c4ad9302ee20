/**
 * Running `ip`, `tc`, `sysctl` and the Python helpers, each bounded in time. Python runs
 * inside a namespace through `ip netns exec`, which execs it, so the child's pid is the
 * script's own and killing it by that pid ends it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMMAND_TIMEOUT_MS = 10_000;

export interface Command {
  /** Program, looked up on PATH. */
  file: string;
  args: string[];
  /** Namespace to run it in (through `ip netns exec`), or the host's when absent. */
  netns?: string;
}

/** The argv that runs `c` (in its namespace, if any). */
export function commandArgv(c: Command): [string, ...string[]] {
  return c.netns === undefined ? [c.file, ...c.args] : ['ip', 'netns', 'exec', c.netns, c.file, ...c.args];
}

export function formatCommand(c: Command): string {
  return commandArgv(c).join(' ');
}

/** Runs `c` and resolves its stdout; rejects with its stderr when it fails or times out. */
export function run(c: Command, timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  const [file, ...args] = commandArgv(c);
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${formatCommand(c)}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Whether `c` runs and exits 0. */
export async function succeeds(c: Command): Promise<boolean> {
  try {
    await run(c);
    return true;
  } catch {
    return false;
  }
}

/** Path of a script next to this module, or `name` itself when it is an absolute path. */
export function scriptPath(name: string): string {
  if (isAbsolute(name)) return name;
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** Helpers still running; killed if this process exits without stopping them (e.g. a second Ctrl-C). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * A Python helper in a namespace whose stdout is JSON lines: every parsed line goes to
 * `onLine` (lines that are not JSON objects are kept in `noise`), stderr's tail is kept
 * for error messages.
 */
export class PythonChild {
  readonly child: ChildProcess;
  readonly noise: string[] = [];
  private stderrTail = '';
  private buffered = '';
  private readonly exitPromise: Promise<number | null>;
  private exited = false;

  constructor(
    readonly label: string,
    /** Namespace to run in; undefined runs it in the host's. */
    netns: string | undefined,
    script: string,
    args: string[],
    private readonly onLine: (obj: Record<string, unknown>) => void,
  ) {
    const [file, ...argv] = commandArgv({ file: 'python3', args: ['-u', scriptPath(script), ...args], ...(netns === undefined ? {} : { netns }) });
    this.child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this.child);
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => this.feed(d));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-2000);
    });
    this.child.stdin!.on('error', () => {});
    this.exitPromise = new Promise((resolve) => {
      this.child.once('error', (e) => {
        this.stderrTail += String(e);
        running.delete(this.child);
        this.exited = true;
        resolve(null);
      });
      this.child.once('exit', (code) => {
        running.delete(this.child);
        this.exited = true;
        resolve(code);
      });
    });
  }

  private feed(d: string): void {
    this.buffered += d;
    let nl = this.buffered.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const obj = parseJsonLine(line);
      if (obj) this.onLine(obj);
      else if (line.trim() !== '' && this.noise.length < 50) this.noise.push(line.slice(0, 200));
      nl = this.buffered.indexOf('\n');
    }
    // A line longer than any the scripts write is noise; keep memory bounded.
    if (this.buffered.length > 1 << 16) this.buffered = '';
  }

  get stderr(): string {
    return this.stderrTail.trim();
  }

  send(line: string): void {
    if (!this.exited) this.child.stdin!.write(`${line}\n`);
  }

  /** Resolves the exit code (null when killed or not started), or rejects after timeoutMs. */
  async exit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} did not finish within ${timeoutMs} ms ${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exitPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the process (by its pid) if it still runs, and waits for it. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.stdin!.end();
    this.child.kill('SIGTERM');
    try {
      await this.exit(2000);
    } catch {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }
}

/** One JSON object per line, or undefined for anything else. */
export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
