/**
 * The real mptun-server, mptun-client and mptun-linkem as child processes (run from source with tsx, the
 * way the other CLI tests run them), keys on disk, and a raw SOCKS5 CONNECT.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeKeyFiles } from '../../client/test/cli-support.js';

export const REPO = join(import.meta.dirname, '../../..');

export interface KeyFiles {
  dir: string;
  serverKey: string;
  serverPublic: string;
  clientKey: string;
  authorized: string;
  remove(): void;
}

/** The key files of cli-support.ts (a server key, a client key, authorized keys), named as these tests use them. */
export async function writeKeys(): Promise<KeyFiles> {
  const k = await writeKeyFiles();
  return { dir: k.dir, serverKey: k.serverKey, serverPublic: k.serverPublic, clientKey: k.clientKey, authorized: k.authorizedKeys, remove: k.cleanup };
}

/** A running CLI: its output so far, a wait for a line, and a stop that waits for the exit. */
export class CliChild {
  out = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  /** Resolves with the first match of `re` in the output; rejects if the process exits first. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const poll = setInterval(() => {
        const m = re.exec(this.out);
        if (m) finish(() => resolve(m));
      }, 25);
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${re} within ${timeoutMs} ms; output:\n${this.out}`))), timeoutMs);
      const onExit = (): void => {
        const m = re.exec(this.out);
        finish(() => (m ? resolve(m) : reject(new Error(`exited before ${re}; output:\n${this.out}`))));
      };
      const finish = (f: () => void): void => {
        clearInterval(poll);
        clearTimeout(timer);
        this.child.off('exit', onExit);
        f();
      };
      this.child.once('exit', onExit);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

const MAINS = { server: 'apps/server/src/main.ts', client: 'apps/client/src/main.ts', linkem: 'packages/linkem/src/main.ts' };

/** Every child still running; a test that failed before stopping its own leaves none behind. */
const running = new Set<ChildProcessWithoutNullStreams>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export function runCli(app: keyof typeof MAINS, args: string[], env: NodeJS.ProcessEnv = {}): CliChild {
  const main = MAINS[app];
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new CliChild(child);
}

/** `cli`'s first match of `re`; the child is stopped when it never comes. */
async function startedWith(cli: CliChild, re: RegExp): Promise<RegExpMatchArray> {
  try {
    return await cli.waitFor(re);
  } catch (err) {
    await cli.stop();
    throw err;
  }
}

/** Start mptun-server on 127.0.0.1 (sealed UDP, port picked by the OS); resolves with its UDP port. */
export async function startServerCli(keys: KeyFiles, extra: string[]): Promise<{ cli: CliChild; port: number }> {
  const cli = runCli('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorized, '--drain', '0s', '--log-format', 'json', ...extra]);
  const m = await startedWith(cli, /"msg":"listening".*?"address":"127\.0\.0\.1:(\d+)"/);
  return { cli, port: Number(m[1]) };
}

/** Start mptun-client against that server with a SOCKS port picked by the OS. */
export async function startClientCli(keys: KeyFiles, serverPort: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ cli: CliChild; socksPort: number }> {
  const cli = runCli('client', ['run', '--server', `127.0.0.1:${serverPort}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '127.0.0.2', '--socks', '127.0.0.1:0', ...extra], env);
  const m = await startedWith(cli, /SOCKS5 proxy listening" address=127\.0\.0\.1:(\d+)/);
  return { cli, socksPort: Number(m[1]) };
}

/**
 * SOCKS5 CONNECT (RFC 1928 §4) to an IPv4 target without authentication; resolves with the
 * reply code and, on success, what the target echoed back for `payload`.
 */
export function socksConnect(socksPort: number, host: string, port: number, payload = 'ping'): Promise<{ reply: number; echoed?: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(socksPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let stage: 'method' | 'reply' | 'data' = 'method';
    const fail = (e: Error): void => {
      s.destroy();
      reject(e);
    };
    s.setTimeout(30_000, () => fail(new Error('SOCKS exchange timed out')));
    s.on('error', fail);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'method' && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 'reply';
        s.write(Buffer.from([5, 1, 0, 1, ...host.split('.').map(Number), port >> 8, port & 0xff]));
      }
      if (stage === 'reply' && buf.length >= 10) {
        const reply = buf[1]!;
        buf = buf.subarray(10);
        if (reply !== 0) {
          s.destroy();
          resolve({ reply });
          return;
        }
        stage = 'data';
        s.write(payload);
      }
      if (stage === 'data' && buf.length >= payload.length) {
        s.destroy();
        resolve({ reply: 0, echoed: buf.toString() });
      }
    });
    s.on('close', () => reject(new Error(`SOCKS connection closed in stage ${stage}`)));
  });
}

/**
 * SOCKS5 CONNECT (RFC 1928 §4) to 127.0.0.1:port that leaves the tunnel open: resolves with
 * the reply code and the socket (destroyed when the reply is a refusal). Bytes the target
 * sent with the reply are put back for the caller's first read.
 */
export function socksOpen(socksPort: number, port: number): Promise<{ reply: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const s = connect(socksPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let stage: 'method' | 'reply' = 'method';
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'method' && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 'reply';
        s.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]));
      }
      if (stage === 'reply' && buf.length >= 10) {
        s.off('data', onData);
        s.off('close', onClose);
        s.pause();
        const reply = buf[1]!;
        if (reply !== 0) s.destroy();
        else if (buf.length > 10) s.unshift(buf.subarray(10));
        resolve({ reply, socket: s });
      }
    };
    const onClose = (): void => reject(new Error(`SOCKS connection closed in stage ${stage}`));
    s.on('error', reject);
    s.on('close', onClose);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', onData);
  });
}

/** What a CLI test started: key files, children, sockets, a TCP server; release() frees them all. */
export class TestResources {
  keys: KeyFiles | null = null;
  readonly clis: CliChild[] = [];
  readonly sockets: Socket[] = [];
  server: Server | null = null;

  async release(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    await Promise.all(this.clis.splice(0).map((c) => c.stop()));
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    this.keys?.remove();
    this.keys = null;
  }
}
