/**
 * The client side of a WebSocket path: TCP from a chosen local address, TLS for wss://,
 * the HTTP upgrade, then a PathSession (@mptun/session) whose key exchange is the first
 * two binary messages. connect() resolves only when the server's response authenticates.
 */
import type { TransportAddress } from '@mptun/core';
import { HandshakeInitiator, IndexTable, PathSession, claimFrom, type CryptoBackend } from '@mptun/session';
import type { IncomingMessage } from 'node:http';
import { isIP, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import { AFFINITY_HEADER, affinityOfResponse, checkAffinityToken, urlWithAffinity } from './affinity.js';
import { WsCloseCode } from './close-codes.js';
import { describeConnectFailure } from './connect-errors.js';
import { WsTransportError } from './errors.js';
import { linkTuning, sessionTimers, type ResolvedOptions } from './options.js';
import type { SerialQueue } from './serial-queue.js';
import { WsPathLink } from './ws-path-link.js';

/** What every path of one client transport shares. */
export interface ClientContext {
  readonly opts: ResolvedOptions;
  readonly crypto: CryptoBackend;
  readonly initiator: HandshakeInitiator;
  /** Our session indexes, unique across the client's paths. */
  readonly indexes: IndexTable<true>;
  /** One key exchange at a time (see serial-queue.ts). */
  readonly handshakes: SerialQueue;
}

/** ws takes closeTimeout (8.19+) and passes servername to tls.connect; @types/ws lists neither. */
type WsClientOptions = ClientOptions & { closeTimeout: number; servername?: string };

const noop = (): void => {};

/** The URL, checked: ws:// or wss:// only. */
export function parsePathUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WsTransportError('ERR_MPTUN_BAD_URL', `not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new WsTransportError('ERR_MPTUN_BAD_URL', `expected a ws:// or wss:// URL, got ${parsed.protocol}//`);
  }
  if (parsed.hash !== '') throw new WsTransportError('ERR_MPTUN_BAD_URL', 'a WebSocket URL has no #fragment');
  return parsed;
}

/**
 * Makes a path's TCP socket outside Node (socket() and bind() to the path's local address,
 * plus options Node has no API for, such as SO_BINDTODEVICE, which must be set before
 * connect()) and returns its file descriptor; the path adopts it and closes it.
 */
export type OpenSocket = () => number;

/**
 * ws's createConnection for a socket made by OpenSocket: Node adopts the fd and connects
 * it, and for wss:// TLS runs over it (servername as ws sets it: none for an IP address).
 */
function adoptedConnection(fd: number, secure: boolean): (options: ConnectionOptions & { host: string; port: number }) => Socket {
  return (options) => {
    const tcp = new Socket({ fd });
    tcp.connect({ host: options.host, port: options.port });
    if (!secure) return tcp;
    const servername = options.servername ?? (isIP(options.host) ? '' : options.host);
    return tlsConnect({ ...options, path: undefined, servername, socket: tcp } as ConnectionOptions);
  };
}

function clientOptions(opts: ResolvedOptions, localHost: string, secure: boolean, fd: number | undefined, affinity: string | undefined): WsClientOptions {
  const options: WsClientOptions = {
    ...(fd === undefined ? { localAddress: localHost } : { createConnection: adoptedConnection(fd, secure) as unknown as ClientOptions['createConnection'] }),
    perMessageDeflate: false,
    maxPayload: opts.maxMessage,
    handshakeTimeout: opts.handshakeTimeoutMs,
    closeTimeout: opts.closeTimeoutMs,
    followRedirects: false,
    // Text messages are refused unread, so their UTF-8 need not be checked.
    skipUTF8Validation: true,
  };
  if (affinity !== undefined) options.headers = { [AFFINITY_HEADER]: affinity };
  if (secure) {
    if (opts.tls.ca !== undefined) options.ca = opts.tls.ca;
    if (opts.tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = opts.tls.rejectUnauthorized;
    if (opts.tls.servername !== undefined) options.servername = opts.tls.servername;
  }
  return options;
}

function addressOf(host: string | undefined, port: number | undefined, fallbackHost: string): TransportAddress {
  return { host: host ?? fallbackHost, port: port ?? 0 };
}

/** Why a socket closed before the key exchange finished, as the error connect() rejects with. */
function errorForEarlyClose(code: number, reason: string): WsTransportError {
  const why = reason.length > 0 ? ` (${reason})` : '';
  if (code === WsCloseCode.HANDSHAKE_FAILED) {
    return new WsTransportError(
      'ERR_MPTUN_HANDSHAKE_REJECTED',
      `the server refused the key exchange${why}: unknown client key, or not the server whose key we pinned`,
    );
  }
  if (code === WsCloseCode.HANDSHAKE_TIMEOUT) {
    return new WsTransportError('ERR_MPTUN_HANDSHAKE_TIMEOUT', `the server timed out our key exchange${why}`);
  }
  return new WsTransportError('ERR_MPTUN_WS_CONNECT', `the WebSocket closed with code ${code} during the key exchange${why}`);
}

/** How a path is opened, besides its ends. */
export interface ConnectOptions {
  /** Makes the TCP socket (bound to the local address and, say, to its device). */
  openSocket?: OpenSocket;
  /** A server's token (the `affinity` of a path to it, affinity.ts): the upgrade request carries it as a header and a query parameter, for a proxy to route on. */
  affinity?: string;
}

/** Opens one path from `localHost` (or the socket `openSocket` makes) to `url`. */
export function connectPath(ctx: ClientContext, localHost: string, url: string, { openSocket, affinity }: ConnectOptions = {}): Promise<WsPathLink> {
  const target = parsePathUrl(url);
  const { opts } = ctx;
  if (affinity !== undefined) checkAffinityToken(affinity);
  let fd: number | undefined;
  try {
    fd = openSocket?.();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return Promise.reject(new WsTransportError('ERR_MPTUN_WS_CONNECT', `cannot open ${target.href} from ${localHost}: ${why}`, { cause: err }));
  }
  return new Promise<WsPathLink>((resolve, reject) => {
    const dialled = affinity === undefined ? target : urlWithAffinity(target, affinity);
    const ws = new WebSocket(dialled, clientOptions(opts, localHost, target.protocol === 'wss:', fd, affinity));
    ws.binaryType = 'nodebuffer';
    // ws reports late errors (after a terminate, say) as events: they must never throw.
    ws.on('error', noop);

    let settled = false;
    let local: TransportAddress = { host: localHost, port: 0 };
    let remote: TransportAddress = { host: target.hostname, port: Number(target.port) || 0 };
    let link: WsPathLink | null = null;
    /** The token the server named itself with in its upgrade response, if any. */
    let served: string | null = null;
    let releaseHandshakeTurn: (() => void) | null = null;

    const deadline = setTimeout(() => {
      fail(new WsTransportError('ERR_MPTUN_HANDSHAKE_TIMEOUT', `no authenticated path to ${target.href} within ${opts.handshakeTimeoutMs} ms`));
    }, opts.handshakeTimeoutMs);

    const detach = (): void => {
      clearTimeout(deadline);
      ws.off('upgrade', onUpgrade);
      ws.off('open', onOpen);
      ws.off('close', onClose);
      ws.off('error', onError);
      releaseHandshakeTurn?.();
      releaseHandshakeTurn = null;
    };

    const fail = (err: WsTransportError): void => {
      if (settled) return;
      settled = true;
      detach();
      link?.close(); // zeroes the session; reports nothing, it was never up
      ws.terminate();
      reject(err);
    };

    const onUpgrade = (response: IncomingMessage): void => {
      const socket = response.socket as Socket;
      local = addressOf(socket.localAddress, socket.localPort, localHost);
      remote = addressOf(socket.remoteAddress, socket.remotePort, target.hostname);
      served = affinityOfResponse(response.headers);
    };

    /** The link's session ended before it was up: say why as connect()'s error. */
    const onEarlyEnd = (wsCode: number, reason: string, bySelf: boolean): void => {
      if (!bySelf) fail(errorForEarlyClose(wsCode, reason));
      else if (wsCode === WsCloseCode.HANDSHAKE_TIMEOUT) fail(new WsTransportError('ERR_MPTUN_HANDSHAKE_TIMEOUT', `no handshake response from ${target.href}`));
      else if (wsCode === WsCloseCode.ABNORMAL) fail(new WsTransportError('ERR_MPTUN_WS_CONNECT', `the connection to ${target.href} failed: ${reason}`));
      else fail(new WsTransportError('ERR_MPTUN_HANDSHAKE_REJECTED', `the server's answer did not authenticate against the pinned key (${reason})`));
    };

    const onOpen = (): void => {
      void ctx.handshakes.run(
        () =>
          new Promise<void>((release) => {
            releaseHandshakeTurn = release;
            if (settled) {
              release();
              return;
            }
            // From here the link watches the socket; this function only waits for the verdict.
            ws.off('close', onClose);
            ws.off('error', onError);
            link = new WsPathLink({
              ws,
              local,
              remote,
              affinity: served,
              session: PathSession.initiator({
                ...sessionTimers(opts),
                initiator: ctx.initiator,
                indexes: claimFrom(ctx.indexes),
                now: opts.clock(),
              }),
              ...linkTuning(opts),
              trafficSilenceMs: opts.trafficSilenceMs,
              onUp: (up) => {
                if (settled) return;
                settled = true;
                detach();
                resolve(up);
              },
              onEarlyEnd,
            });
          }),
      );
    };

    const onClose = (code: number, reason: Buffer): void => {
      fail(errorForEarlyClose(code, reason.toString('utf8')));
    };

    const onError = (err: Error): void => {
      fail(new WsTransportError('ERR_MPTUN_WS_CONNECT', `cannot open ${target.href} from ${localHost}: ${describeConnectFailure(err, target)}`, { cause: err }));
    };

    ws.on('upgrade', onUpgrade);
    ws.on('open', onOpen);
    ws.on('close', onClose);
    ws.on('error', onError);
  });
}
