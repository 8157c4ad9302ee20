/**
 * Shared pieces of the Node API tests: keys, a server on loopback with any transport, a
 * client over the loopback aliases 127.0.0.2 and 127.0.0.3, and hash-checked streams.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { generateKeypair, loadCrypto, type CryptoBackend, type Keypair } from '@mptun/session';
import type { PathLink } from '@mptun/core';
import { MptcpClient, MptcpServer, type ClientOptions, type MptcpSocket, type SegmentTap, type TransportKind } from '../src/index.js';
import { makeSelfSignedCertificate } from '../../transport-ws/test/self-signed.js';

export interface World {
  crypto: CryptoBackend;
  serverKeys: Keypair;
  clientKeys: Keypair;
  server: MptcpServer;
  /** Bound port of each transport the server listens on. */
  ports: Partial<Record<TransportKind, number>>;
  tlsCert?: string;
  clients: MptcpClient[];
  close(): Promise<void>;
}

let crypto: CryptoBackend | null = null;
export async function testCrypto(): Promise<CryptoBackend> {
  return (crypto ??= await loadCrypto());
}

/** A server listening on 127.0.0.1 with each given transport (ephemeral ports). */
export async function startWorld(kinds: TransportKind[], opts: { serverEngine?: object; onSegment?: SegmentTap } = {}): Promise<World> {
  const c = await testCrypto();
  const serverKeys = generateKeypair(c);
  const clientKeys = generateKeypair(c);
  const cert = kinds.includes('wss') ? makeSelfSignedCertificate() : undefined;
  const server = new MptcpServer({
    listen: kinds.map((transport) => ({ transport, host: '127.0.0.1', port: 0, ...(transport === 'wss' && cert ? { tls: cert } : {}) })),
    keypair: serverKeys,
    authorizedKeys: [clientKeys.publicKey],
    crypto: c,
    ...(opts.serverEngine ? { engine: opts.serverEngine } : {}),
    ...(opts.onSegment ? { onSegment: opts.onSegment } : {}),
  });
  const bound = await server.listen();
  const ports: Partial<Record<TransportKind, number>> = {};
  for (const b of bound) ports[b.transport as TransportKind] = b.port;
  const world: World = {
    crypto: c,
    serverKeys,
    clientKeys,
    server,
    ports,
    ...(cert ? { tlsCert: cert.cert } : {}),
    clients: [],
    async close() {
      await Promise.all(world.clients.map((cl) => cl.close()));
      await server.close();
    },
  };
  return world;
}

/** A client of `world` over `kind`, from the given local addresses. */
export function newClient(world: World, kind: TransportKind, extra: Partial<ClientOptions> = {}): MptcpClient {
  const client = new MptcpClient({
    transport: kind,
    server: { host: '127.0.0.1', port: world.ports[kind]! },
    keypair: world.clientKeys,
    serverPublicKey: world.serverKeys.publicKey,
    crypto: world.crypto,
    localAddresses: ['127.0.0.2', '127.0.0.3'],
    ...(kind === 'wss' && world.tlsCert ? { tlsCa: world.tlsCert } : {}),
    connectTimeoutMs: 5000,
    ...extra,
  });
  world.clients.push(client);
  return client;
}

/** A byte pattern that differs per seed and position. */
export function pattern(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Write `data` respecting backpressure, then end. */
export function writeAll(s: MptcpSocket, data: Buffer, chunk = 64 * 1024): void {
  let off = 0;
  const go = (): void => {
    while (off < data.length) {
      const ok = s.write(data.subarray(off, off + chunk));
      off += chunk;
      if (!ok) {
        s.once('drain', go);
        return;
      }
    }
    s.end();
  };
  go();
}

/** Everything the socket reads until its end: byte count and SHA-256. */
export function readAll(s: MptcpSocket): Promise<{ bytes: number; hash: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    s.once('end', () => resolve({ bytes: n, hash: h.digest('hex') }));
    s.once('error', reject);
  });
}

/** The server's side of a bulk exchange: hash what arrives, send `reply`. */
export function serveBulk(world: World, reply: (socket: MptcpSocket) => Buffer): Promise<{ bytes: number; hash: string }>[] {
  const results: Promise<{ bytes: number; hash: string }>[] = [];
  world.server.on('connection', (s: MptcpSocket) => {
    results.push(readAll(s));
    writeAll(s, reply(s));
  });
  return results;
}

/** Waits for `cond` (polled every 20 ms); fails naming `what` after timeoutMs. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes `text` on a stream that echoes and resolves with as many bytes once they came back. */
export function echoText(s: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length < text.length) return;
      s.off('data', onData);
      resolve(got);
    };
    s.on('data', onData).once('error', reject);
    s.resume(); // a stream paused after a header was read
    s.write(text);
  });
}

/** A dead link: nothing leaves by `link` and nothing it receives is delivered. */
export function blackHole(link: PathLink): void {
  link.send = () => true;
  link.onSegment = () => {};
}
