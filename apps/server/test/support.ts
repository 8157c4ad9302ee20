/** Shared pieces of the server tests: a server from a config, a client, echo targets, replies. */
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { createLogger, decodeTunnelReply, encodeTunnelRequest } from '@mptun/tunnel-common';
import { MptcpClient, type MptcpSocket } from '@mptun/node';
import { encodeKey, generateKeypair, loadCrypto, type CryptoBackend, type Keypair } from '@mptun/session';
import { defaultLimits, type ServerConfig } from '../src/config.js';
import { startServer, type RunningServer, type StartOptions } from '../src/server.js';

export interface Harness {
  crypto: CryptoBackend;
  clientKeys: Keypair;
  server: RunningServer;
  client: MptcpClient;
  close(): Promise<void>;
}

export async function startHarness(over: Partial<ServerConfig> = {}, opts: StartOptions = {}): Promise<Harness> {
  const crypto = await loadCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  const config: ServerConfig = {
    listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
    privateKey: encodeKey(serverKeys.privateKey),
    authorizedKeys: [encodeKey(clientKeys.publicKey)],
    allow: ['127.0.0.1'],
    limits: { ...defaultLimits },
    drainMs: 2000,
    logLevel: 'silent',
    logFormat: 'text',
    ...over,
  };
  const server = await startServer(config, { crypto, logger: createLogger({ level: process.env.DBG ? 'debug' : 'silent' }), ...opts });
  const client = new MptcpClient({
    transport: 'udp',
    server: { host: '127.0.0.1', port: server.addresses[0]!.port },
    keypair: clientKeys,
    serverPublicKey: serverKeys.publicKey,
    crypto,
    localAddresses: ['127.0.0.2'],
    connectTimeoutMs: 5000,
  });
  return {
    crypto,
    clientKeys,
    server,
    client,
    async close() {
      await client.close();
      await server.close(0);
    },
  };
}

/** Open a tunnel to `host:port`; resolves with the reply and the socket (bytes after the reply stay readable). */
export function tunnel(client: MptcpClient, host: string, port: number): Promise<{ status: number; reason: string; socket: MptcpSocket; rest: Buffer }> {
  // The request is written after connect() rather than passed as connect({ data }): with the
  // request riding the SYN, the server's reply is never delivered (a bug in @mptun/node,
  // reported to the lead).
  const socket = client.connect();
  socket.write(encodeTunnelRequest({ host, port }));
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const r = decodeTunnelReply(buf);
      if (!r) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ status: r.status, reason: r.reason, socket, rest: buf.subarray(r.length) });
    };
    socket.on('data', onData);
    // A test's sockets may be reset when the server closes after the test: not a failure.
    socket.on('error', reject);
    socket.once('end', () => reject(new Error('ended before a reply')));
  });
}

/** A TCP echo server on `host` (127.0.0.1 by default); counts the connections it accepted. */
export async function startEcho(host = '127.0.0.1'): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  let n = 0;
  const open = new Set<import('node:net').Socket>();
  const s: TcpServer = createTcpServer((c) => {
    n++;
    open.add(c);
    c.once('close', () => open.delete(c));
    c.on('error', () => {});
    c.pipe(c);
  });
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as { port: number }).port;
  return {
    port,
    accepted: () => n,
    close: () =>
      new Promise<void>((r) => {
        s.close(() => r());
        for (const c of open) c.destroy();
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
