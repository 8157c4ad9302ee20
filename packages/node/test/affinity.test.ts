/**
 * Three MptcpServers behind a reverse proxy the client cannot see past (a stand-in that
 * routes WebSocket upgrades on the X-Mptun-Affinity header, and round-robin without one).
 * Each server has an affinity token; the client's two standing paths land on two different
 * servers, so every connection's second subflow needs a path that asks the proxy for the
 * server its first one reached. Every connection must end with both subflows on one server
 * and its bytes intact both ways; a proxy that ignores the token makes such a path fail to
 * open, saying where it went, while the connections carry on over their first path.
 */
import type { IncomingMessage } from 'node:http';
import { generateKeypair } from '@mptun/session';
import { afterEach, describe, expect, it } from 'vitest';
import { startUpgradeProxy, type UpgradeProxy } from '../../transport-ws/test/upgrade-proxy.js';
import { MptcpClient, MptcpServer, type MptcpSocket } from '../src/index.js';
import { pattern, sha256, testCrypto, until } from './support.js';

const TOKENS = ['s1', 's2', 's3'];

interface Farm {
  servers: Array<{ token: string; server: MptcpServer; port: number }>;
  proxy: UpgradeProxy;
  client: MptcpClient;
}

describe('WebSocket paths behind a reverse proxy, routed by affinity token', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** Three echo servers with tokens, a proxy that routes by `honourTokens`, a started two-path client. */
  async function farm(honourTokens: boolean): Promise<Farm> {
    const crypto = await testCrypto();
    const serverKeys = generateKeypair(crypto);
    const clientKeys = generateKeypair(crypto);
    const servers: Farm['servers'] = [];
    for (const token of TOKENS) {
      const server = new MptcpServer({ listen: [{ transport: 'ws', host: '127.0.0.1', port: 0 }], keypair: serverKeys, authorizedKeys: [clientKeys.publicKey], crypto, affinityToken: token });
      closers.push(() => server.close());
      server.on('connection', (s: MptcpSocket) => {
        s.on('error', () => {}); // the client resets them at the end
        s.pipe(s);
      });
      const [bound] = await server.listen();
      servers.push({ token, server, port: bound!.port });
    }
    let next = 0;
    const route = (req: IncomingMessage): number => {
      const asked = honourTokens ? servers.find((s) => s.token === req.headers['x-mptun-affinity']) : undefined;
      return (asked ?? servers[next++ % servers.length]!).port;
    };
    const proxy = await startUpgradeProxy(route);
    closers.push(() => proxy.close());
    const client = new MptcpClient({
      transport: 'ws',
      server: { host: '127.0.0.1', port: proxy.port },
      keypair: clientKeys,
      serverPublicKey: serverKeys.publicKey,
      crypto,
      localAddresses: ['127.0.0.2', '127.0.0.3'],
      connectTimeoutMs: 5000,
    });
    closers.push(() => client.close());
    await client.start();
    // Round-robin put the two standing paths on two servers.
    expect(new Set(proxy.seen.map((s) => s.port)).size).toBe(2);
    return { servers, proxy, client };
  }

  /** Echo `bytes` on a new connection; resolves with what was sent and what came back. */
  async function echo(client: MptcpClient, seed: number, bytes: number, refused: unknown[]): Promise<{ sock: MptcpSocket; sent: object; got: object }> {
    const sock = client.connect();
    sock.on('subflow-down', (e) => refused.push({ connection: seed, ...e }));
    const data = pattern(seed, bytes);
    const got = new Promise<{ bytes: number; hash: string }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (n >= data.length) resolve({ bytes: n, hash: sha256(Buffer.concat(chunks)) });
      });
      sock.once('error', reject);
    });
    sock.write(data);
    return { sock, sent: { bytes: data.length, hash: sha256(data) }, got: await got };
  }

  it("a connection's further paths reach the server its first path reached", async () => {
    const { servers, proxy, client } = await farm(true);
    const count = 6;
    // A join sent over a path that reached another server is refused there: none may be.
    const refused: unknown[] = [];
    const results = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const r = await echo(client, 100 + i, 200_000, refused);
        await until(() => r.sock.subflows().filter((f) => f.state === 'established').length === 2, `connection ${i}: two established subflows`);
        return r;
      }),
    );
    for (const r of results) expect(r.got).toEqual(r.sent);
    expect(refused).toEqual([]);

    // On the servers: every connection has both its subflows on the one server holding it.
    await until(() => servers.reduce((n, s) => n + s.server.connectionCount, 0) === count, `${count} connections on the servers`);
    const perServer = servers.map((s) => ({ token: s.token, connections: s.server.connectionCount, subflows: s.server.connections().map((c) => c.subflows().filter((f) => f.state === 'established').length) }));
    console.log('per server (token, connections, established subflows each):', perServer.map((p) => `${p.token} ${p.connections} [${p.subflows.join(',')}]`).join('; '));
    for (const p of perServer) for (const n of p.subflows) expect(n, `${p.token}: subflows of one connection`).toBe(2);

    // The routed paths asked for a server by header and query, and the proxy sent each there.
    const routed = proxy.seen.filter((s) => s.headers['x-mptun-affinity'] !== undefined);
    console.log(`upgrades through the proxy: ${proxy.seen.length}, asking for a server: ${routed.length}`);
    expect(routed.length).toBeGreaterThan(0);
    for (const r of routed) {
      const token = r.headers['x-mptun-affinity'];
      expect(new URL(r.url, 'http://x').searchParams.get('mptun-affinity')).toBe(token);
      expect(servers.find((s) => s.port === r.port)!.token).toBe(token);
    }
    for (const r of results) r.sock.destroy();
  }, 60_000);

  it('a proxy that ignores the token: the path that asked fails to open, naming both servers; the connection carries on', async () => {
    const { client } = await farm(false);
    const errors: string[] = [];
    client.on('path-error', (p) => errors.push(String((p.error as Error).message)));
    const refused: unknown[] = [];
    const r = await echo(client, 7, 200_000, refused);
    expect(r.got).toEqual(r.sent);
    await until(() => errors.length > 0, 'a path error');
    console.log('path error:', errors[0]);
    expect(errors[0]).toMatch(/^the proxy sent the path asking for server "s\d" to server "s\d"$/);
    // No join went over it: nothing was refused, and the connection is on its first path alone.
    expect(refused).toEqual([]);
    expect(r.sock.subflows().filter((f) => f.state === 'established')).toHaveLength(1);
    r.sock.destroy();
  }, 60_000);
});
