/**
 * Request/response over a forked child's IPC channel, both ends. The rig's children (server,
 * client, link emulator) each serve a few named commands; the parent awaits replies by id.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Request {
  id: number;
  cmd: string;
  arg?: unknown;
}
interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}
/** The first message a child sends once it is up: what it bound, for the parent. */
interface Ready {
  ready: unknown;
}

const REPLY_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
const EXIT_WAIT_MS = 5_000;

export type Handlers = Record<string, (arg: unknown) => unknown>;

/** A child process of the rig, started with tsx so it runs the TypeScript sources. */
export class RigChild<R = unknown> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private exited = false;
  private stderrTail = '';

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly ready: R,
  ) {
    child.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`${name}: ${m.error}`));
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} exited (${signal ?? code}) ${this.stderrTail.trim()}`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Forks `module` (a file URL or path) with `arg` as JSON in argv, and waits for its ready message. */
  static async start<R>(name: string, module: string | URL, arg: unknown, execArgv: string[] = []): Promise<RigChild<R>> {
    const file = module instanceof URL ? fileURLToPath(module) : module;
    const child = fork(file, [JSON.stringify(arg)], {
      execArgv: ['--conditions=source', '--import', 'tsx', ...execArgv],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let tail = '';
    child.stderr!.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
    });
    // Beside the debug logs (child-log.ts): a child's stderr whole, with how it exited.
    const logDir = process.env.MPTUN_RIG_LOG_DIR;
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      const file = path.join(logDir, `${name}.stderr`);
      child.stderr!.on('data', (d: Buffer) => appendFileSync(file, d));
      child.once('exit', (code, signal) => appendFileSync(file, `[rig] ${name} exited: ${signal ?? code}\n`));
    }
    const ready = await new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} did not start within ${READY_TIMEOUT_MS} ms: ${tail.trim()}`));
      }, READY_TIMEOUT_MS);
      child.once('message', (m: Ready) => {
        clearTimeout(timer);
        resolve(m.ready as R);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready: ${tail.trim()}`));
      });
    });
    const handle = new RigChild<R>(name, child, ready);
    child.stderr!.on('data', (d: Buffer) => {
      handle.stderrTail = (handle.stderrTail + d.toString()).slice(-4000);
    });
    return handle;
  }

  request<T = unknown>(cmd: string, arg?: unknown, timeoutMs = REPLY_TIMEOUT_MS): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to "${cmd}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, cmd, arg } satisfies Request);
    });
  }

  /** Asks the child to close cleanly; kills it when it does not exit in time. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.request('close', undefined, EXIT_WAIT_MS).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, EXIT_WAIT_MS)))]);
    clearTimeout(timer);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

/** Child side: the argument the parent passed, parsed. */
export function childArg<T>(): T {
  return JSON.parse(process.argv[2] ?? 'null') as T;
}

/**
 * Child side: answer the parent's commands, then report ready. `close` is always served: it
 * runs `onClose` and exits. The child also exits when the parent goes away.
 */
export function serveParent(ready: unknown, handlers: Handlers, onClose: () => Promise<void>): void {
  const send = (m: Reply | Ready): void => {
    if (process.connected) process.send!(m);
  };
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await onClose().catch(() => {});
    process.exit(0);
  };
  process.on('message', (m: Request) => {
    if (m.cmd === 'close') {
      send({ id: m.id, ok: true });
      void close();
      return;
    }
    const h = handlers[m.cmd];
    if (!h) return send({ id: m.id, ok: false, error: `unknown command "${m.cmd}"` });
    Promise.resolve()
      .then(() => h(m.arg))
      .then(
        (value) => send({ id: m.id, ok: true, value }),
        (e: unknown) => send({ id: m.id, ok: false, error: (e as Error).message }),
      );
  });
  process.once('disconnect', () => void close());
  send({ ready });
}

/** What every rig child reports about itself. */
export interface ProcessSample {
  /** CPU time since start, microseconds. */
  userUs: number;
  systemUs: number;
  rss: number;
  heapUsed: number;
  /** Memory outside the JS heap (Buffers and ArrayBuffers included). */
  external: number;
}

export function processSample(): ProcessSample {
  const c = process.cpuUsage();
  const m = process.memoryUsage();
  return { userUs: c.user, systemUs: c.system, rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}
