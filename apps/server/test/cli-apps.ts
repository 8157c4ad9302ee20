/**
 * Server-side helpers over the one CLI runner (apps/client/test/cli-support.ts): mptun-server
 * and mptun-client started the way these tests use them, and a raw SOCKS5 CONNECT.
 */
import { connect, type Server, type Socket } from 'node:net';
import { startApp, type AppProcess, type KeyFiles } from '../../client/test/cli-support.js';

export { startApp, writeKeyFiles, type AppProcess, type KeyFiles } from '../../client/test/cli-support.js';

/** `cli`'s first match of `re`; the child is stopped when it never comes. */
async function startedWith(cli: AppProcess, re: RegExp): Promise<RegExpMatchArray> {
  try {
    return await cli.waitFor(re);
  } catch (err) {
    await cli.stop();
    throw err;
  }
}

/** Start mptun-server on 127.0.0.1 (sealed UDP, port picked by the OS); resolves with its UDP port. */
export async function startServerCli(keys: KeyFiles, extra: string[]): Promise<{ cli: AppProcess; port: number }> {
  const cli = startApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--drain', '0s', '--log-format', 'json', ...extra]);
  const m = await startedWith(cli, /"msg":"listening".*?"address":"127\.0\.0\.1:(\d+)"/);
  return { cli, port: Number(m[1]) };
}

/** Start mptun-client against that server with a SOCKS port picked by the OS. */
export async function startClientCli(keys: KeyFiles, serverPort: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ cli: AppProcess; socksPort: number }> {
  const cli = startApp('client', ['run', '--server', `127.0.0.1:${serverPort}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', '127.0.0.2', '--socks', '127.0.0.1:0', ...extra], { env });
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
 * sent with the reply are put back for the caller's first read. `socks` is the proxy's port on
 * 127.0.0.1, or a function that opens the stream to it (e.g. into a network namespace).
 */
export function socksOpen(socks: number | (() => Socket), port: number): Promise<{ reply: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const s = typeof socks === 'number' ? connect(socks, '127.0.0.1') : socks();
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
  readonly clis: AppProcess[] = [];
  readonly sockets: Socket[] = [];
  server: Server | null = null;

  async release(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    await Promise.all(this.clis.splice(0).map((c) => c.stop()));
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    this.keys?.cleanup();
    this.keys = null;
  }
}
