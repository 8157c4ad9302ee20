/**
 * The server side: an HTTP(S) server whose WebSocket upgrades on one URL path become
 * paths once the client completes the key exchange. Until its initiation a socket owns
 * nothing but itself and one timer: no session, no link, no buffers beyond ws's bounded
 * frame parser. A socket that sends anything but a valid initiation, or nothing in time,
 * is closed. An answered socket becomes a path (onPath) only when the client's first
 * sealed message confirms the keys; until then it still counts as unauthenticated.
 */
import { TallySet, type PathLink, type PathListener, type TransportAddress } from '@mptun/core';
import { HandshakeResponder, IndexTable, PathSession, type CryptoBackend, type InitiationResult } from '@mptun/session';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { checkAffinityToken } from './affinity.js';
import { WsCloseCode } from './close-codes.js';
import { WsTransportError } from './errors.js';
import { linkTuning, sessionTimers, type ResolvedOptions } from './options.js';
import { WsPathLink } from './ws-path-link.js';

/** What every listener of one server transport shares (one replay record per client key). */
export interface ServerContext {
  readonly opts: ResolvedOptions;
  readonly crypto: CryptoBackend;
  readonly responder: HandshakeResponder;
  readonly indexes: IndexTable<true>;
}

export interface WsListenOptions {
  host: string;
  /** 0 picks a free port; `local.port` then says which. */
  port: number;
  /** URL path the WebSocket lives on (behind a reverse proxy, say '/mptun'). Default '/'. */
  path?: string;
  /** Serve wss:// with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * This server's name behind an HTTP reverse proxy (affinity.ts): sent in every upgrade
   * response, so a client's further paths can ask the proxy for this server.
   */
  affinityToken?: string;
}

type WsServerOptions = ServerOptions & { closeTimeout: number };

const noop = (): void => {};

/** Zeroes the keys of an accepted initiation that turned out not to be a proper rekey. */
function discard(accepted: Extract<InitiationResult, { kind: 'accept' }>, indexes: IndexTable<true>): void {
  accepted.keys.sendKey.fill(0);
  accepted.keys.receiveKey.fill(0);
  indexes.delete(accepted.keys.localIndex);
}

function normalizePath(path: string | undefined): string {
  const p = path ?? '/';
  if (!p.startsWith('/')) throw new WsTransportError('ERR_MPTUN_BAD_CONFIG', `path must start with '/', got ${JSON.stringify(p)}`);
  return p;
}

/** Refuses an upgrade with a plain HTTP status before any WebSocket exists. */
function refuseUpgrade(socket: Socket, status: number, text: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export class WsPathListener implements PathListener {
  onPath: ((path: PathLink) => void) | null = null;
  readonly local: TransportAddress;

  private readonly links = new Set<WsPathLink>();
  /**
   * Sockets from the upgrade request until key confirmation, filed by the client's address
   * (a budget per host). Counted from the request on, so a burst cannot pass the check
   * while earlier upgrades are still being answered.
   */
  private readonly unauthenticated = new TallySet<Socket>();
  /** Links answered but not yet confirmed by their client. */
  private readonly pendingLinks = new Set<WsPathLink>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly ctx: ServerContext,
    private readonly server: HttpServer,
    private readonly wss: WebSocketServer,
    private readonly path: string,
  ) {
    const address = server.address() as AddressInfo;
    this.local = { host: address.address, port: address.port };
    server.on('upgrade', this.handleUpgrade);
  }

  /** Binds and resolves once listening. */
  static async start(ctx: ServerContext, listen: WsListenOptions): Promise<WsPathListener> {
    const path = normalizePath(listen.path);
    const affinity = listen.affinityToken === undefined ? undefined : checkAffinityToken(listen.affinityToken);
    // A socket that dawdles over its HTTP request is dropped like one that dawdles over the
    // key exchange; Node checks for those every connectionsCheckingInterval.
    const timeouts = {
      requestTimeout: ctx.opts.handshakeTimeoutMs,
      headersTimeout: ctx.opts.handshakeTimeoutMs,
      connectionsCheckingInterval: Math.min(Math.max(ctx.opts.handshakeTimeoutMs >>> 1, 250), 5_000),
    };
    const server: HttpServer =
      listen.tls === undefined
        ? createHttpServer(timeouts)
        : createHttpsServer({ ...timeouts, cert: listen.tls.cert, key: listen.tls.key });
    // Plain HTTP requests learn that only WebSocket is spoken here.
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
    });
    const wssOptions: WsServerOptions = {
      noServer: true,
      perMessageDeflate: false,
      maxPayload: ctx.opts.maxMessage,
      clientTracking: false,
      closeTimeout: ctx.opts.closeTimeoutMs,
      skipUTF8Validation: true,
    };
    const wss = new WebSocketServer(wssOptions);
    if (affinity !== undefined) wss.on('headers', (headers: string[]) => headers.push(`X-Mptun-Affinity: ${affinity}`));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new WsTransportError('ERR_MPTUN_LISTEN', `cannot listen on ${listen.host}:${listen.port}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host: listen.host, port: listen.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return new WsPathListener(ctx, server, wss, path);
  }

  /** Paths currently open, and sockets still in their key exchange. */
  get counts(): { paths: number; unauthenticated: number } {
    let paths = 0;
    for (const link of this.links) if (!link.closed) paths++;
    return { paths, unauthenticated: this.unauthenticated.size };
  }

  /** Stops accepting, closes every path and pending socket, and resolves when all are gone. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.off('upgrade', this.handleUpgrade);
      for (const link of this.pendingLinks) link.close();
      this.pendingLinks.clear();
      for (const socket of this.unauthenticated.values()) socket.destroy();
      this.unauthenticated.clear();
      for (const link of this.links) link.close();
      this.links.clear();
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      this.wss.close();
    });
    return this.closing;
  }

  private readonly handleUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    socket.on('error', noop);
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    if (pathname !== this.path) {
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    // One host holding upgrades open must not lock out the others: each has its own share.
    const source = socket.remoteAddress ?? '';
    if (this.unauthenticated.size >= this.ctx.opts.maxPendingHandshakes || this.unauthenticated.count(source) >= this.ctx.opts.maxPendingHandshakesPerSource) {
      refuseUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    this.unauthenticated.add(socket, [source]);
    socket.once('close', () => this.unauthenticated.delete(socket));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.admit(ws, socket));
  };

  /** Runs an initiation through the responder this transport's listeners share. */
  private answer(message: Uint8Array, now: number, source: string): InitiationResult {
    return this.ctx.responder.consumeInitiation(message, {
      now,
      source,
      // A WebSocket peer completed a TCP handshake: its address is not spoofed, which is
      // all a cookie would prove. So no cookie round trip here.
      underLoad: false,
      allocateIndex: () => {
        const index = this.ctx.indexes.freshIndex();
        this.ctx.indexes.set(index, true);
        return index;
      },
    });
  }

  /** Waits for the initiation on a fresh WebSocket, then answers it or closes. */
  private admit(ws: WebSocket, socket: Socket): void {
    const { opts } = this.ctx;
    ws.binaryType = 'nodebuffer';
    ws.on('error', noop);
    const timer = setTimeout(() => reject(WsCloseCode.HANDSHAKE_TIMEOUT, 'key exchange timed out'), opts.handshakeTimeoutMs);

    const leave = (): void => {
      clearTimeout(timer);
      this.unauthenticated.delete(socket);
      ws.off('message', onMessage);
      ws.off('close', leave);
    };
    const reject = (code: number, reason: string): void => {
      leave();
      ws.close(code, reason);
    };
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      if (!isBinary) {
        reject(WsCloseCode.UNSUPPORTED_DATA, 'binary messages only');
        return;
      }
      const remote: TransportAddress = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
      const now = opts.clock();
      const result = this.answer(data, now, `${remote.host}:${remote.port}`);
      if (result.kind !== 'accept') {
        reject(WsCloseCode.HANDSHAKE_FAILED, 'key exchange failed');
        return;
      }
      // The link takes the socket from here; it stays unauthenticated until the client confirms.
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', leave);
      const link = new WsPathLink({
        ws,
        local: { host: socket.localAddress ?? this.local.host, port: socket.localPort ?? this.local.port },
        remote,
        session: PathSession.responder({
          ...sessionTimers(opts),
          crypto: this.ctx.crypto,
          accepted: result,
          onKeyRetired: (index) => this.ctx.indexes.delete(index),
          now,
        }),
        rekey: (message, at, session) => {
          const rekey = this.answer(message, at, `${remote.host}:${remote.port}`);
          if (rekey.kind !== 'accept') return false;
          if (session.acceptRekey(rekey, at)) return true;
          discard(rekey, this.ctx.indexes);
          return false;
        },
        ...linkTuning(opts),
        onUp: (up) => {
          this.unauthenticated.delete(socket);
          this.pendingLinks.delete(up);
          if (this.closing !== null || this.onPath === null) {
            up.close(); // nobody takes paths: do not keep one open
            return;
          }
          this.links.add(up);
          ws.once('close', () => this.links.delete(up));
          this.onPath(up);
        },
        onEarlyEnd: () => this.unauthenticated.delete(socket),
      });
      this.pendingLinks.add(link);
      ws.once('close', () => this.pendingLinks.delete(link));
    };
    ws.on('message', onMessage);
    ws.on('close', leave);
  }
}
