/**
 * The local SOCKS5 proxy (RFC 1928): negotiates a method (no auth, or RFC 1929
 * username/password when configured), reads one CONNECT request, opens a tunnel
 * connection to the target and answers with the server's verdict, then relays.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { socksReplyFor, TunnelStatus } from '@mptun/tunnel-common';
import {
  encodeAuthStatus,
  encodeMethodChoice,
  encodeReply,
  parseCredentials,
  parseGreeting,
  parseRequest,
  Socks5Error,
  SocksMethod,
  SocksReply,
} from './socks5.js';
import { readEarlyData } from './early-data.js';
import { splice, spliceOrReset, type TunnelOpener } from './tunnel.js';
import { listenTcp } from './listen.js';
import type { Logger } from '@mptun/tunnel-common';
import type { ConnectionRegistry } from './connections.js';

export interface SocksServerOptions {
  host: string;
  port: number;
  /** Require RFC 1929 username/password when set. */
  auth?: { username: string; password: string };
  /** The whole handshake (greeting to request) must arrive within this long. Default 10 s. */
  handshakeTimeoutMs?: number;
  open: TunnelOpener;
  logger?: Logger;
  /** Where accepted connections are registered (status page, close log lines). */
  connections?: ConnectionRegistry;
  /**
   * Answer success at once and send the client's first bytes with the tunnel request (waiting
   * up to this long for them), saving a round trip; a refusal then shows as a reset instead
   * of a SOCKS error code. Off (the server's verdict is awaited) when absent.
   */
  earlyReplyWaitMs?: number;
}

export interface SocksServer {
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** No handshake message is longer than this (RFC 1929: 3 + 255 + 255). */
const MAX_HANDSHAKE_BYTES = 513;

type Stage = 'greeting' | 'auth' | 'request' | 'connecting';

export async function startSocksServer(opts: SocksServerOptions): Promise<SocksServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    handleClient(socket, opts);
  });
  const bound = await listenTcp(server, opts.host, opts.port, 'SOCKS5 proxy');
  return {
    ...bound,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function handleClient(socket: Socket, opts: SocksServerOptions): void {
  const log = opts.logger;
  let stage: Stage = 'greeting';
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    log?.debug('socks: handshake timeout', { from: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.destroy();
  }, opts.handshakeTimeoutMs ?? 10_000);
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', (err) => log?.debug('socks: client socket error', { error: err }));

  const fail = (err: unknown): void => {
    const reply = err instanceof Socks5Error ? err.reply : SocksReply.GENERAL_FAILURE;
    log?.debug('socks: bad handshake', { error: err });
    stage = 'connecting'; // ignore anything further
    socket.off('data', onData);
    if (reply !== null && !socket.destroyed) socket.end(encodeReply(reply));
    else socket.destroy();
  };

  const step = (): void => {
    // Consume every complete message present: clients may send greeting and request together.
    for (;;) {
      if (stage === 'greeting') {
        const g = parseGreeting(buf);
        if (!g) return;
        buf = buf.subarray(g.length);
        const want = opts.auth ? SocksMethod.USER_PASS : SocksMethod.NO_AUTH;
        if (!g.methods.includes(want)) {
          // RFC 1928 §3: X'FF' and the client closes; we close too.
          stage = 'connecting';
          socket.off('data', onData);
          socket.end(encodeMethodChoice(SocksMethod.NO_ACCEPTABLE));
          return;
        }
        socket.write(encodeMethodChoice(want));
        stage = opts.auth ? 'auth' : 'request';
      } else if (stage === 'auth') {
        const c = parseCredentials(buf);
        if (!c) return;
        buf = buf.subarray(c.length);
        const ok = sameText(c.username, opts.auth!.username) && sameText(c.password, opts.auth!.password);
        if (!ok) {
          // RFC 1929 §2: a failure status, then the server closes the connection.
          log?.warn('socks: authentication refused', { user: c.username });
          stage = 'connecting';
          socket.off('data', onData);
          socket.end(encodeAuthStatus(false));
          return;
        }
        socket.write(encodeAuthStatus(true));
        stage = 'request';
      } else if (stage === 'request') {
        const r = parseRequest(buf);
        if (!r) return;
        const early = buf.subarray(r.length);
        buf = Buffer.alloc(0);
        stage = 'connecting';
        socket.off('data', onData);
        socket.pause();
        connect(r.host, r.port, early);
        return;
      } else return;
    }
  };

  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    try {
      step();
    } catch (err) {
      fail(err);
      return;
    }
    // Bounded buffering: nothing legitimate is this long before the request completes.
    if (stage !== 'connecting' && buf.length > MAX_HANDSHAKE_BYTES) fail(new Socks5Error('handshake too long', SocksReply.GENERAL_FAILURE));
  };

  const connect = (host: string, port: number, early: Buffer): void => {
    // The tunnel has its own reply timeout from here on.
    clearTimeout(timer);
    if (opts.earlyReplyWaitMs !== undefined) {
      void connectOptimistically(host, port, early, opts.earlyReplyWaitMs);
      return;
    }
    opts.open({ host, port }).then(
      (result) => {
        if (socket.destroyed) {
          result.socket?.destroy();
          return;
        }
        if (result.status !== TunnelStatus.OK || !result.socket) {
          log?.warn('socks: the tunnel refused the connection', { target: `${host}:${port}`, status: result.status, reason: result.reason });
          socket.end(encodeReply(socksReplyFor(result.status)));
          return;
        }
        log?.debug('socks: connected', { target: `${host}:${port}` });
        socket.write(encodeReply(SocksReply.SUCCEEDED));
        opts.connections?.add({ host, port }, socket, result.socket, early.length);
        // Bytes the client sent right after its request (optimistic data) go first.
        if (early.length > 0) result.socket.write(early);
        splice(socket, result.socket);
      },
      (err: unknown) => {
        fail(err);
      },
    );
  };

  /** RFC 1928 §6 lets the reply's bound address be zero; the client then speaks at once. */
  const connectOptimistically = async (host: string, port: number, buffered: Buffer, waitMs: number): Promise<void> => {
    socket.write(encodeReply(SocksReply.SUCCEEDED));
    const early = buffered.length > 0 ? buffered : await readEarlyData(socket, waitMs);
    if (socket.destroyed) return;
    const result = await opts.open({ host, port }, early).catch((err: unknown) => {
      log?.debug('socks: tunnel failed after an early reply', { target: `${host}:${port}`, error: err });
      socket.destroy(); // the success reply is out: no SOCKS error can follow it
      return null;
    });
    if (!result) return;
    const refused = 'socks: the tunnel refused the connection (after an early reply: reset)';
    if (spliceOrReset(socket, result, { target: { host, port }, label: `${host}:${port}`, early: early.length, refused, logger: log, connections: opts.connections })) {
      log?.debug('socks: connected', { target: `${host}:${port}`, earlyBytes: early.length });
    }
  };

  socket.on('data', onData);
  // A client that half-closes mid-handshake will never finish it.
  socket.on('end', () => {
    if (stage !== 'connecting') socket.destroy();
  });
}

/** Constant-time comparison of two strings' UTF-8 bytes. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
