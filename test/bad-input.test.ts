/**
 * Bad input through the whole chain (mptun-client's SOCKS5 proxy → MPTCP over two emulated paths →
 * mptun-server): malformed SOCKS, an unsupported command, a denied target, a refused one.
 * Each gets its RFC 1928 reply or a clean close, and the tunnel keeps working afterwards.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startFileServer, socksHttpGet, type FileServer, type Testbed } from '../apps/demo/src/index.js';
import { Children, freePort, haveTool, twoPathTestbed } from './support.js';

/** Send `bytes` to the proxy; resolve with everything it answers until it closes. */
function exchange(proxy: { host: string; port: number }, chunks: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxy.port, proxy.host);
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close from the proxy; got ${Buffer.concat(got).toString('hex')}`));
    }, 20_000);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {}); // a reset after the reply is a close too
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    s.once('connect', () => {
      for (const c of chunks) s.write(c);
    });
  });
}

const GREETING = Buffer.from([5, 1, 0]);
const connectTo = (port: number, cmd = 1): Buffer => Buffer.from([5, cmd, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);

describe('bad input through the whole tunnel', () => {
  const children = new Children();
  let bed: Testbed | null = null;
  let files: FileServer | null = null;

  afterEach(async () => {
    children.killAll();
    await bed?.close();
    await files?.close();
    bed = files = null;
  });

  it('answers each bad request as RFC 1928 says and keeps serving good ones', async () => {
    files = await startFileServer('127.0.0.1', { 'ok.bin': 200_000 });
    const deniedPort = await freePort();
    const closedPort = await freePort();
    // The server's policy admits the file server and the closed port only: anything else is denied.
    bed = await twoPathTestbed({ allow: [`127.0.0.1/32:${files.port},${closedPort}`] });
    const proxy = bed.socks;

    // Not SOCKS5 at all (a SOCKS4 CONNECT): closed without a reply.
    expect((await exchange(proxy, [Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0])])).length).toBe(0);
    // No acceptable method (only username/password offered): X'FF' (RFC 1928 §3).
    expect([...(await exchange(proxy, [Buffer.from([5, 1, 2])]))]).toEqual([5, 0xff]);
    // BIND: command not supported (X'07').
    expect([...(await exchange(proxy, [GREETING, connectTo(files.port, 2)]))]).toEqual([5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
    // An unknown address type: X'08'.
    expect([...(await exchange(proxy, [GREETING, Buffer.from([5, 1, 0, 9, 1, 2, 3, 4, 0, 80])]))]).toEqual([5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);
    // A garbage request: general failure (X'01'), then closed.
    expect([...(await exchange(proxy, [GREETING, Buffer.alloc(4096, 0xee)]))]).toEqual([5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    // The server's policy refuses the target: "not allowed by ruleset" (X'02') comes back through the tunnel.
    expect([...(await exchange(proxy, [GREETING, connectTo(deniedPort)]))]).toEqual([5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    // Nothing listens on the target: "connection refused" (X'05').
    expect([...(await exchange(proxy, [GREETING, connectTo(closedPort)]))]).toEqual([5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(bed.server.stats().refused).toEqual({ not_allowed: 1, connection_refused: 1 });

    // After all that, a good download still works through the same client and server.
    const file = files.files[0]!;
    const result = await socksHttpGet(proxy, files.url(file.path)).done;
    expect(result.sha256).toBe(file.sha256);
  });

  it.skipIf(!haveTool('curl') && !process.env.CI)('curl reports the server\'s refusal clearly', async () => {
    const allowedPort = await freePort();
    let deniedPort = await freePort();
    while (deniedPort === allowedPort) deniedPort = await freePort();
    bed = await twoPathTestbed({ allow: [`127.0.0.1/32:${allowedPort}`] });
    const r = await children.run('curl', ['-sS', '--max-time', '20', '--socks5-hostname', `${bed.socks.host}:${bed.socks.port}`, `http://127.0.0.1:${deniedPort}/`], 30_000);
    console.log(`curl exit ${r.code}: ${r.stderr.trim()}`);
    expect(r.code).toBe(97); // CURLE_PROXY
    expect(r.stderr).toMatch(/SOCKS5.*\(2\)/); // reply 2: connection not allowed by ruleset
  });
});
