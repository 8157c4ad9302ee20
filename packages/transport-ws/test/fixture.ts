/**
 * One client and one server identity, and a way to start a listening server transport
 * whose paths land in an Inbox. Everything started through a Fixture is closed by
 * `closeAll()`, which every test file calls in afterEach.
 */
import type { PathLink } from '@mptun/core';
import { generateKeypair, keysEqual, loadCrypto, type CryptoBackend, type Keypair } from '@mptun/session';
import { wsTransport, type WsTransport } from '../src/ws-transport.js';
import type { WsListenOptions, WsPathListener } from '../src/listener.js';
import type { WsTransportInit } from '../src/options.js';
import { Inbox } from './helpers.js';

export interface Server {
  transport: WsTransport;
  listener: WsPathListener;
  paths: Inbox<PathLink>;
  url: string;
}

export class Fixture {
  crypto!: CryptoBackend;
  serverKeys!: Keypair;
  clientKeys!: Keypair;
  private readonly closers: Array<() => unknown> = [];

  async init(): Promise<void> {
    this.crypto = await loadCrypto();
    this.serverKeys = generateKeypair(this.crypto);
    this.clientKeys = generateKeypair(this.crypto);
  }

  /** Registers something to close at the end of the test. */
  track<T extends { close(): unknown }>(thing: T): T {
    this.closers.push(() => thing.close());
    return thing;
  }

  async closeAll(): Promise<void> {
    const closers = this.closers.splice(0).reverse();
    for (const close of closers) await close();
  }

  async server(init: Partial<WsTransportInit> = {}, listen: Partial<WsListenOptions> = {}): Promise<Server> {
    const clientKey = this.clientKeys.publicKey;
    const transport = wsTransport({
      keypair: this.serverKeys,
      isAllowed: (key) => keysEqual(key, clientKey),
      crypto: this.crypto,
      ...init,
    });
    const listener = this.track(await transport.listen({ host: '127.0.0.1', port: 0, ...listen }));
    const paths = new Inbox<PathLink>();
    listener.onPath = (path) => {
      this.track(path);
      paths.push(path);
    };
    const scheme = listen.tls === undefined ? 'ws' : 'wss';
    return { transport, listener, paths, url: `${scheme}://127.0.0.1:${listener.local.port}${listen.path ?? '/'}` };
  }

  client(init: Partial<WsTransportInit> = {}): WsTransport {
    return wsTransport({
      keypair: this.clientKeys,
      serverPublicKey: this.serverKeys.publicKey,
      crypto: this.crypto,
      ...init,
    });
  }

  /** connect(), with the path tracked for closing. */
  async connect(client: WsTransport, localHost: string, url: string): Promise<PathLink> {
    return this.track(await client.connect(localHost, url));
  }
}
