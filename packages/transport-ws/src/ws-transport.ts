/**
 * `wsTransport(init)`: the factory of WebSocket paths, client and server side. It only
 * adapts sockets; the session package does the cryptography and the engine the protocol.
 */
import {
  HandshakeInitiator,
  HandshakeResponder,
  IndexTable,
  TimestampClock,
  cryptoRandomSource,
  loadCrypto,
  type CryptoBackend,
} from '@mptun/session';
import { connectPath, parsePathUrl, type ClientContext, type ConnectOptions } from './connect.js';
import { WsTransportError } from './errors.js';
import { WsPathListener, type ServerContext, type WsListenOptions } from './listener.js';
import { resolveOptions, type WsTransportInit } from './options.js';
import { SerialQueue } from './serial-queue.js';
import type { WsPathLink } from './ws-path-link.js';

export interface WsTransport {
  /**
   * Opens a path from local address `localHost` (the path leaves by that interface) to
   * `url` (ws:// or wss://, any URL path). Resolves once the server is authenticated.
   * `opts`: the socket to use (`openSocket`) and the server to ask a proxy for (`affinity`).
   */
  connect(localHost: string, url: string, opts?: ConnectOptions): Promise<WsPathLink>;
  /** Listens for paths. */
  listen(opts: WsListenOptions): Promise<WsPathListener>;
}

export function wsTransport(init: WsTransportInit): WsTransport {
  const opts = resolveOptions(init);
  let crypto: Promise<CryptoBackend> | null = init.crypto === undefined ? null : Promise.resolve(init.crypto);
  const backend = (): Promise<CryptoBackend> => (crypto ??= loadCrypto());
  let client: Promise<ClientContext> | null = null;
  let server: Promise<ServerContext> | null = null;

  const clientContext = (): Promise<ClientContext> =>
    (client ??= backend().then((c) => {
      if (opts.serverPublicKey === undefined) {
        throw new WsTransportError('ERR_MPTUN_BAD_CONFIG', 'connect() needs serverPublicKey, the server key to pin');
      }
      return {
        opts,
        crypto: c,
        // One timestamp clock for every path: they all share our static key.
        initiator: new HandshakeInitiator(c, {
          staticKeypair: opts.keypair,
          serverPublicKey: opts.serverPublicKey,
          clock: init.timestampClock ?? TimestampClock.random(),
        }),
        indexes: new IndexTable<true>(cryptoRandomSource(c)),
        handshakes: new SerialQueue(),
      };
    }));

  const serverContext = (): Promise<ServerContext> =>
    (server ??= backend().then((c) => {
      if (opts.isAllowed === undefined) {
        throw new WsTransportError('ERR_MPTUN_BAD_CONFIG', 'listen() needs isAllowed, the check of client keys');
      }
      return {
        opts,
        crypto: c,
        responder: new HandshakeResponder(c, { staticKeypair: opts.keypair, isAllowed: opts.isAllowed, ...(init.replay ? { replay: init.replay } : {}) }),
        indexes: new IndexTable<true>(cryptoRandomSource(c)),
      };
    }));

  return {
    async connect(localHost, url, opts) {
      parsePathUrl(url); // a bad URL fails before any crypto loads
      return connectPath(await clientContext(), localHost, url, opts);
    },
    async listen(listenOpts) {
      return WsPathListener.start(await serverContext(), listenOpts);
    },
  };
}
