/**
 * Test pieces for mptun-client: a real MptcpServer with a minimal tunnel relay (what
 * apps/server does, reduced to the header and a TCP connect), an echo server, and a raw
 * SOCKS5 client that reads exact byte counts.
 */
import { createSocket } from 'node:dgram';
import { afterEach } from 'vitest';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { decodeTunnelRequest, encodeTunnelReply, TunnelStatus } from '@mptun/tunnel-common';
import { MptcpServer, type MptcpSocket } from '@mptun/node';
import { generateKeypair, loadCrypto, type CryptoBackend, type Keypair } from '@mptun/session';
import type { RunningClient } from '../src/client-app.js';
export { blackHole, pattern, until } from '../../../packages/node/test/support.js';
/** A TCP port of 127.0.0.1 that nothing listens on now (bound, then let go). */
export { closedPort as freeTcpPort } from '../../server/test/support.js';

/** What one test of the client app starts: a tunnel server, an echo target and the client. */
export interface ClientTestBed {
  world: TunnelWorld | null;
  echo: Awaited<ReturnType<typeof startEcho>> | null;
  app: RunningClient | null;
}

/** A test bed whose pieces are closed after each test (client first, server last). */
export function clientTestBed(): ClientTestBed {
  const bed: ClientTestBed = { world: null, echo: null, app: null };
  afterEach(async () => {
    await bed.app?.close();
    await bed.echo?.close();
    await bed.world?.close();
    bed.app = bed.echo = bed.world = null;
  });
  return bed;
}

export interface TunnelWorld {
  crypto: CryptoBackend;
  serverKeys: Keypair;
  clientKeys: Keypair;
  server: MptcpServer;
  udpPort: number;
  /** Targets the relay was asked for, in order. */
  requests: Array<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** Hosts the relay refuses (as a server policy would): answered NOT_ALLOWED. */
export const DENIED_HOST = 'denied.invalid';

/** A tunnel server on 127.0.0.1 over sealed UDP (the default) or plain tcp-in-udp. */
export async function startTunnelWorld(transport: 'udp' | 'udp-plain' = 'udp'): Promise<TunnelWorld> {
  const crypto = await loadCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  const server = new MptcpServer({
    listen: [{ transport, host: '127.0.0.1', port: 0 }],
    keypair: serverKeys,
    authorizedKeys: [clientKeys.publicKey],
    crypto,
  });
  const requests: Array<{ host: string; port: number }> = [];
  const targets = new Set<Socket>();
  server.on('connection', (s: MptcpSocket) => relay(s, requests, targets));
  const bound = await server.listen();
  return {
    crypto,
    serverKeys,
    clientKeys,
    server,
    udpPort: bound[0]!.port,
    requests,
    async close() {
      for (const t of targets) t.destroy();
      await server.close();
    },
  };
}

function relay(s: MptcpSocket, requests: Array<{ host: string; port: number }>, targets: Set<Socket>): void {
  let buf = Buffer.alloc(0);
  s.on('error', () => {});
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    let req;
    try {
      req = decodeTunnelRequest(buf);
    } catch {
      s.end(encodeTunnelReply(TunnelStatus.BAD_REQUEST, 'bad header'));
      return;
    }
    if (!req) return;
    s.off('data', onData);
    s.pause();
    requests.push(req.target);
    const rest = buf.subarray(req.length);
    if (req.target.host === DENIED_HOST) {
      s.end(encodeTunnelReply(TunnelStatus.NOT_ALLOWED, 'target not allowed'));
      return;
    }
    const t = tcpConnect({ host: req.target.host, port: req.target.port });
    targets.add(t);
    t.once('close', () => targets.delete(t));
    let connected = false;
    t.once('connect', () => {
      connected = true;
      s.write(encodeTunnelReply(TunnelStatus.OK));
      if (rest.length > 0) t.write(rest);
      t.pipe(s);
      s.pipe(t);
    });
    t.once('error', (err: NodeJS.ErrnoException) => {
      if (connected) {
        s.destroy();
        return;
      }
      s.end(encodeTunnelReply(err.code === 'ECONNREFUSED' ? TunnelStatus.CONNECTION_REFUSED : TunnelStatus.HOST_UNREACHABLE, err.message));
    });
  };
  s.on('data', onData);
}

/** A TCP echo server; `host` may be an IPv6 literal. */
export async function startEcho(host = '127.0.0.1'): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (c) => {
    sockets.add(c);
    c.once('close', () => sockets.delete(c));
    c.on('error', () => {});
    c.pipe(c);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const c of sockets) c.destroy();
        server.close(() => r());
      }),
  };
}

/** A socket reader that hands out exact byte counts, and tells when the peer closed. */
export class Reader {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Exactly n bytes, or null if the peer closed first. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (this.ended) return null;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Resolves once the peer has closed; returns the bytes left unread. */
  async closed(): Promise<Buffer> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
    return this.buf;
  }
}

export function connectTcp(port: number, host = '127.0.0.1'): Promise<{ socket: Socket; reader: Reader }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const reader = new Reader(socket);
    socket.once('connect', () => resolve({ socket, reader }));
    socket.once('error', reject);
  });
}

/** SOCKS5 CONNECT request bytes for an IPv4, IPv6 or domain target (RFC 1928 §4). */
export function connectRequest(host: string, port: number, command = 0x01): Buffer {
  const p = [port >> 8, port & 0xff];
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return Buffer.from([5, command, 0, 1, ...host.split('.').map(Number), ...p]);
  if (host === '::1') return Buffer.from([5, command, 0, 4, ...new Array<number>(15).fill(0), 1, ...p]);
  const name = Buffer.from(host);
  return Buffer.concat([Buffer.from([5, command, 0, 3, name.length]), name, Buffer.from(p)]);
}

/**
 * A port of 127.0.0.1 that nothing listens on now (bound, then let go): a "wrong port" for a
 * client to try, or one a server can be started on again and again.
 */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}
