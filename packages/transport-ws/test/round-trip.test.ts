/**
 * Authenticated paths over ws:// and wss:// on loopback: segments both ways from two local
 * addresses, refusals (wrong server key, unknown client, wrong URL path, untrusted
 * certificate), and the checks on options and URLs.
 */
import { SeededRandom } from '@mptun/core';
import { generateKeypair } from '@mptun/session';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WsTransportError } from '../src/errors.js';
import { Fixture } from './fixture.js';
import { PathProbe, numberedSegment, segmentNumber } from './helpers.js';
import { makeSelfSignedCertificate, type TestCertificate } from './self-signed.js';
import { wsTransport } from '../src/ws-transport.js';

const fx = new Fixture();
let cert: TestCertificate;

beforeAll(async () => {
  await fx.init();
  cert = makeSelfSignedCertificate();
});
afterEach(() => fx.closeAll());

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WsTransportError);
  expect((err as WsTransportError).code).toBe(code);
}

describe('ws:// paths', () => {
  it('carries segments both ways from two local addresses, each leaving by its own address', async () => {
    const server = await fx.server();
    const client = fx.client();
    const [a, b] = await Promise.all([
      fx.connect(client, '127.0.0.2', server.url),
      fx.connect(client, '127.0.0.3', server.url),
    ]);
    expect(a.kind).toBe('ws');
    expect(a.reliable).toBe(true);
    expect(a.local.host).toBe('127.0.0.2');
    expect(b.local.host).toBe('127.0.0.3');
    expect(a.remote).toEqual({ host: '127.0.0.1', port: server.listener.local.port });

    const serverPaths = [await server.paths.next(), await server.paths.next()];
    const byHost = new Map(serverPaths.map((p) => [p.remote.host, p]));
    expect([...byHost.keys()].sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(byHost.get('127.0.0.2')!.remote.port).toBe(a.local.port);

    for (const [clientPath, host] of [
      [a, '127.0.0.2'],
      [b, '127.0.0.3'],
    ] as const) {
      const serverPath = byHost.get(host)!;
      const atServer = new PathProbe(serverPath);
      const atClient = new PathProbe(clientPath);
      const sizes = [1, 20, 1200, 9000, clientPath.maxSegment];
      sizes.forEach((size, i) => expect(clientPath.send(numberedSegment(i, Math.max(4, size)))).toBe(true));
      sizes.forEach((size, i) => expect(serverPath.send(numberedSegment(100 + i, Math.max(4, size)))).toBe(true));
      await atServer.received(sizes.length);
      await atClient.received(sizes.length);
      expect(atServer.segments.map(segmentNumber)).toEqual([0, 1, 2, 3, 4]);
      expect(atServer.segments.map((s, i) => Buffer.compare(s, numberedSegment(i, Math.max(4, sizes[i]!))))).toEqual([0, 0, 0, 0, 0]);
      expect(atClient.segments.map(segmentNumber)).toEqual([100, 101, 102, 103, 104]);
    }
  });

  it('keeps segments the server sends before the client has attached onSegment', async () => {
    const server = await fx.server();
    server.listener.onPath = (path) => {
      fx.track(path);
      for (let i = 0; i < 20; i++) path.send(numberedSegment(i, 100));
    };
    const path = await fx.connect(fx.client(), '127.0.0.2', server.url);
    const probe = new PathProbe(path);
    await probe.received(20);
    expect(probe.segments.map(segmentNumber)).toEqual([...Array(20).keys()]);
  });

  it('opens many paths at once from one client (initiations never trip the replay check)', async () => {
    const server = await fx.server();
    const client = fx.client();
    const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const paths = await Promise.all(hosts.map((h) => fx.connect(client, h, server.url)));
    expect(paths.map((p) => p.local.host)).toEqual(hosts);
    // The server reports each path once its client's key confirmation arrives.
    for (let i = 0; i < hosts.length; i++) await server.paths.next();
    expect(server.listener.counts.paths).toBe(hosts.length);
  });

  it('serves on a configured URL path and refuses upgrades elsewhere', async () => {
    const server = await fx.server({}, { path: '/mptun/v1' });
    const client = fx.client();
    const path = await fx.connect(client, '127.0.0.2', server.url);
    expect(path.local.host).toBe('127.0.0.2');
    await expectCode(client.connect('127.0.0.2', server.url.replace('/mptun/v1', '/')), 'ERR_MPTUN_WS_CONNECT');
    await expectCode(client.connect('127.0.0.2', server.url.replace('/mptun/v1', '/mptun')), 'ERR_MPTUN_WS_CONNECT');
    expect(server.listener.counts).toEqual({ paths: 1, unauthenticated: 0 });
  });

  it('segments sent in one event-loop turn leave in one socket write, in order', async () => {
    const server = await fx.server();
    const path = await fx.connect(fx.client(), '127.0.0.2', server.url);
    const peer = new PathProbe(await server.paths.next());
    // Count what reaches the client's TCP socket as writes (ws's socket, not in its types).
    const socket = (path as unknown as { ws: { _socket: { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], ...rest: unknown[]) => void } } }).ws._socket;
    const writes: number[] = [];
    const { _write: write, _writev: writev } = socket;
    socket._write = function (this: unknown, ...a: unknown[]) {
      writes.push(1);
      write.apply(this, a);
    };
    socket._writev = function (this: unknown, chunks: unknown[], ...rest: unknown[]) {
      writes.push(chunks.length);
      writev.apply(this, [chunks, ...rest]);
    };
    for (let i = 0; i < 20; i++) expect(path.send(numberedSegment(i, 1000))).toBe(true);
    await peer.received(20);
    expect(peer.segments.map(segmentNumber)).toEqual([...Array(20).keys()]);
    // One writev with every message (a client's masked frame is one buffer), not 20 writes.
    expect(writes).toEqual([20]);
  });

  it('refuses a segment larger than maxSegment, and an empty one, without closing', async () => {
    const server = await fx.server({ maxSegment: 4096 });
    const path = await fx.connect(fx.client({ maxSegment: 4096 }), '127.0.0.2', server.url);
    expect(path.maxSegment).toBe(4096);
    expect(path.send(new Uint8Array(4097))).toBe(false);
    expect(path.send(new Uint8Array(0))).toBe(false);
    const peer = new PathProbe(await server.paths.next());
    expect(path.send(numberedSegment(9, 4096))).toBe(true);
    await peer.received(1);
    expect(segmentNumber(peer.segments[0]!)).toBe(9);
  });
});

describe('seeded random traffic', () => {
  for (const seed of [1, 2, 3]) {
    it(`random segment sizes and counts both ways arrive intact and in order (seed ${seed})`, async () => {
      console.log(`transport-ws random round trip seed=${seed}`);
      const random = new SeededRandom(seed);
      const server = await fx.server({ maxSegment: 8192 });
      const client = fx.client({ maxSegment: 8192 });
      const clientPath = await fx.connect(client, random.nextU32() % 2 === 0 ? '127.0.0.2' : '127.0.0.3', server.url);
      const serverPath = await server.paths.next();
      const atServer = new PathProbe(serverPath);
      const atClient = new PathProbe(clientPath);
      const sent: Uint8Array[][] = [[], []];
      const count = 50 + (random.nextU32() % 200);
      for (let i = 0; i < count; i++) {
        const fromClient = random.nextU32() % 2 === 0;
        const segment = new Uint8Array(1 + (random.nextU32() % 8192));
        random.fill(segment);
        expect((fromClient ? clientPath : serverPath).send(segment)).toBe(true);
        sent[fromClient ? 0 : 1]!.push(segment);
      }
      await atServer.received(sent[0]!.length);
      await atClient.received(sent[1]!.length);
      expect(atServer.segments.map((s) => Buffer.from(s).toString('base64'))).toEqual(sent[0]!.map((s) => Buffer.from(s).toString('base64')));
      expect(atClient.segments.map((s) => Buffer.from(s).toString('base64'))).toEqual(sent[1]!.map((s) => Buffer.from(s).toString('base64')));
    });
  }
});

describe('wss:// paths', () => {
  it('carries segments both ways over TLS from two local addresses, trusting the test CA', async () => {
    const server = await fx.server({}, { tls: cert });
    const client = fx.client({ tls: { ca: cert.cert } });
    const [a, b] = await Promise.all([
      fx.connect(client, '127.0.0.2', server.url),
      fx.connect(client, '127.0.0.3', server.url),
    ]);
    expect(server.url.startsWith('wss://')).toBe(true);
    const serverPaths = [await server.paths.next(), await server.paths.next()];
    expect(serverPaths.map((p) => p.remote.host).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    for (const clientPath of [a, b]) {
      const serverPath = serverPaths.find((p) => p.remote.port === clientPath.local.port)!;
      const atServer = new PathProbe(serverPath);
      const atClient = new PathProbe(clientPath);
      for (let i = 0; i < 50; i++) expect(clientPath.send(numberedSegment(i, 4 + ((i * 997) % (clientPath.maxSegment - 4))))).toBe(true);
      for (let i = 0; i < 50; i++) expect(serverPath.send(numberedSegment(i, 4 + ((i * 331) % 4000)))).toBe(true);
      await atServer.received(50);
      await atClient.received(50);
      expect(atServer.segments.map(segmentNumber)).toEqual([...Array(50).keys()]);
      expect(atClient.segments.map(segmentNumber)).toEqual([...Array(50).keys()]);
    }
  });

  it('fails with ERR_MPTUN_WS_CONNECT when the certificate is not trusted', async () => {
    const server = await fx.server({}, { tls: cert });
    await expectCode(fx.client().connect('127.0.0.2', server.url), 'ERR_MPTUN_WS_CONNECT');
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
  });

  it('accepts any certificate with rejectUnauthorized: false, the Noise key still pinned', async () => {
    const server = await fx.server({}, { tls: cert });
    const path = await fx.connect(fx.client({ tls: { rejectUnauthorized: false } }), '127.0.0.3', server.url);
    expect(path.local.host).toBe('127.0.0.3');
    const wrongKey = generateKeypair(fx.crypto).publicKey;
    await expectCode(
      fx.client({ tls: { rejectUnauthorized: false }, serverPublicKey: wrongKey }).connect('127.0.0.3', server.url),
      'ERR_MPTUN_HANDSHAKE_REJECTED',
    );
  });
});

describe('authentication', () => {
  it('a client that pins the wrong server key gets no path, and the server keeps nothing', async () => {
    const server = await fx.server();
    const wrongKey = generateKeypair(fx.crypto).publicKey;
    await expectCode(fx.client({ serverPublicKey: wrongKey }).connect('127.0.0.2', server.url), 'ERR_MPTUN_HANDSHAKE_REJECTED');
    expect(server.paths.length).toBe(0);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
  });

  it('a client whose key is not allowed gets no path', async () => {
    const server = await fx.server();
    const stranger = wsTransport({
      keypair: generateKeypair(fx.crypto),
      serverPublicKey: fx.serverKeys.publicKey,
      crypto: fx.crypto,
    });
    await expectCode(stranger.connect('127.0.0.3', server.url), 'ERR_MPTUN_HANDSHAKE_REJECTED');
    expect(server.paths.length).toBe(0);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
  });

  it('a server that does not answer the key exchange times the client out', async () => {
    // A server transport that never learns of our key: its isAllowed stalls nothing, so use
    // a plain ws server that upgrades and then stays silent.
    const { WebSocketServer } = await import('ws');
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => silent.once('listening', resolve));
    fx.track({ close: () => new Promise<void>((resolve) => silent.close(() => resolve())) });
    silent.on('connection', (ws) => fx.track({ close: () => ws.terminate() }));
    const port = (silent.address() as { port: number }).port;
    await expectCode(
      fx.client({ handshakeTimeoutMs: 300 }).connect('127.0.0.2', `ws://127.0.0.1:${port}/`),
      'ERR_MPTUN_HANDSHAKE_TIMEOUT',
    );
  });
});

describe('options and URLs', () => {
  it('rejects URLs that are not ws:// or wss://', async () => {
    const client = fx.client();
    await expectCode(client.connect('127.0.0.2', 'http://127.0.0.1:1/'), 'ERR_MPTUN_BAD_URL');
    await expectCode(client.connect('127.0.0.2', 'not a url'), 'ERR_MPTUN_BAD_URL');
    await expectCode(client.connect('127.0.0.2', 'ws://127.0.0.1:1/#frag'), 'ERR_MPTUN_BAD_URL');
  });

  it('rejects out-of-range options at construction', () => {
    const keypair = fx.clientKeys;
    for (const bad of [{ maxSegment: 100 }, { maxSegment: 2 ** 21 }, { pingIntervalMs: 0 }, { highWaterMark: 1000, lowWaterMark: 1000 }]) {
      let err: unknown = null;
      try {
        wsTransport({ keypair, ...bad });
      } catch (e) {
        err = e;
      }
      expect((err as WsTransportError).code).toBe('ERR_MPTUN_BAD_CONFIG');
    }
  });

  it('needs serverPublicKey to connect and isAllowed to listen', async () => {
    const bare = wsTransport({ keypair: fx.clientKeys, crypto: fx.crypto });
    await expectCode(bare.connect('127.0.0.2', 'ws://127.0.0.1:1/'), 'ERR_MPTUN_BAD_CONFIG');
    await expectCode(bare.listen({ host: '127.0.0.1', port: 0 }), 'ERR_MPTUN_BAD_CONFIG');
  });

  it('reports a refused TCP connection as ERR_MPTUN_WS_CONNECT', async () => {
    const server = await fx.server();
    const port = server.listener.local.port;
    await server.listener.close();
    await expectCode(fx.client().connect('127.0.0.2', `ws://127.0.0.1:${port}/`), 'ERR_MPTUN_WS_CONNECT');
  });
});
