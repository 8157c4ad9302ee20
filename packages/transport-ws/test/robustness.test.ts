/**
 * What the transport does when the peer misbehaves or the path ends: text, oversized,
 * forged and out-of-place messages; sockets that never authenticate; a reader that stops
 * (backpressure); a peer that stops answering pings; closing from either side; key
 * rotation inside a long-lived path.
 */
import { MessageType } from '@mptun/session';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect as connectTcp } from 'node:net';
import { WebSocket } from 'ws';
import { WsCloseCode } from '../src/close-codes.js';
import { WsPathLink } from '../src/ws-path-link.js';
import { Fixture } from './fixture.js';
import { PathProbe, numberedSegment, openTcpHandles, segmentNumber, tcpHandlesDropTo } from './helpers.js';
import { nextClose, openRawPeer, type RawPeer } from './raw-peer.js';

const fx = new Fixture();
beforeAll(() => fx.init());
afterEach(() => fx.closeAll());

async function rawPeer(url: string, opts: { autoPong?: boolean; confirm?: boolean } = {}): Promise<RawPeer> {
  const peer = await openRawPeer({
    crypto: fx.crypto,
    keypair: fx.clientKeys,
    serverPublicKey: fx.serverKeys.publicKey,
    url,
    localAddress: '127.0.0.2',
    ...opts,
  });
  fx.track({ close: () => peer.ws.terminate() });
  return peer;
}

/** A bare WebSocket that never authenticates. */
async function bareSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: '127.0.0.3' });
  ws.on('error', () => {});
  fx.track({ close: () => ws.terminate() });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', reject);
  });
  return ws;
}

describe('messages the server refuses', () => {
  it('a text message closes the path with 1003 and ERR_MPTUN_PROTOCOL', async () => {
    const server = await fx.server();
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    const closed = nextClose(peer.ws);
    peer.ws.send('hello');
    expect((await closed).code).toBe(WsCloseCode.UNSUPPORTED_DATA);
    expect((await path.closed).code).toBe('ERR_MPTUN_PROTOCOL');
    expect(path.segments).toHaveLength(0);
  });

  it('a message over maxPayload closes the path with 1009 and ERR_MPTUN_MESSAGE_TOO_BIG', async () => {
    const server = await fx.server({ maxSegment: 2048 });
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    const closed = nextClose(peer.ws);
    // Sealed, so only its size is wrong: 2049 bytes of segment is one byte too many.
    peer.ws.send(peer.channel.seal(new Uint8Array(2049)));
    expect((await closed).code).toBe(WsCloseCode.MESSAGE_TOO_BIG);
    expect((await path.closed).code).toBe('ERR_MPTUN_MESSAGE_TOO_BIG');
  });

  it('the largest allowed segment still passes', async () => {
    const server = await fx.server({ maxSegment: 2048 });
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    peer.ws.send(peer.channel.seal(numberedSegment(5, 2048)));
    await path.received(1);
    expect(path.segments[0]!.length).toBe(2048);
  });

  it('a forged data message (one byte flipped) closes the path with 4004', async () => {
    const server = await fx.server();
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    peer.ws.send(peer.channel.seal(numberedSegment(1, 64)));
    await path.received(1);
    const forged = peer.channel.seal(numberedSegment(2, 64));
    forged[40] = forged[40]! ^ 0x01;
    const closed = nextClose(peer.ws);
    peer.ws.send(forged);
    expect((await closed).code).toBe(WsCloseCode.BAD_MESSAGE);
    expect((await path.closed).code).toBe('ERR_MPTUN_PROTOCOL');
    expect(path.segments.map(segmentNumber)).toEqual([1]);
  });

  it('a replayed data message closes the path with 4004', async () => {
    const server = await fx.server();
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    const message = peer.channel.seal(numberedSegment(1, 64));
    peer.ws.send(message);
    await path.received(1);
    const closed = nextClose(peer.ws);
    peer.ws.send(message);
    expect((await closed).code).toBe(WsCloseCode.BAD_MESSAGE);
    expect(path.segments).toHaveLength(1);
  });

  it('a second initiation from a raw peer that is not a proper rekey closes the path', async () => {
    const server = await fx.server();
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    const bogus = new Uint8Array(152);
    bogus[0] = MessageType.Initiation;
    const closed = nextClose(peer.ws);
    peer.ws.send(bogus);
    expect((await closed).code).toBe(WsCloseCode.BAD_MESSAGE);
    expect((await path.closed).code).toBe('ERR_MPTUN_PROTOCOL');
  });
});

describe('sockets that never authenticate', () => {
  it('are closed with 4001 after handshakeTimeoutMs and leave nothing behind', async () => {
    const server = await fx.server({ handshakeTimeoutMs: 150 });
    const sockets = await Promise.all([bareSocket(server.url), bareSocket(server.url), bareSocket(server.url)]);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 3 });
    const closes = await Promise.all(sockets.map(nextClose));
    expect(closes.map((c) => c.code)).toEqual([4001, 4001, 4001]);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
    expect(server.paths.length).toBe(0);
  });

  it('an answered socket that never confirms its keys is never reported, and is closed with 4001', async () => {
    const server = await fx.server({ handshakeTimeoutMs: 300, pingIntervalMs: 50 });
    // The peer answers pings all along: liveness alone must not make it a path.
    const peer = await rawPeer(server.url, { confirm: false });
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 1 });
    expect((await nextClose(peer.ws)).code).toBe(WsCloseCode.HANDSHAKE_TIMEOUT);
    expect(server.paths.length).toBe(0);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
  });

  it('are closed with 4003 at once when the first message is not a valid initiation', async () => {
    const server = await fx.server({ handshakeTimeoutMs: 60_000 });
    for (const garbage of [new Uint8Array(152), new Uint8Array(3), Buffer.from('GET / HTTP/1.1')]) {
      const ws = await bareSocket(server.url);
      const closed = nextClose(ws);
      ws.send(garbage);
      expect((await closed).code).toBe(WsCloseCode.HANDSHAKE_FAILED);
    }
    const ws = await bareSocket(server.url);
    const closed = nextClose(ws);
    ws.send('text');
    expect((await closed).code).toBe(WsCloseCode.UNSUPPORTED_DATA);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
  });

  it('a socket that never finishes its HTTP upgrade request is dropped too', async () => {
    const server = await fx.server({ handshakeTimeoutMs: 300 });
    const socket = connectTcp({ host: '127.0.0.1', port: server.listener.local.port, localAddress: '127.0.0.3' });
    fx.track({ close: () => socket.destroy() });
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'); // and then nothing
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('close', () => resolve(text));
    });
    expect(reply.startsWith('HTTP/1.1 408')).toBe(true);
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
  });

  it('beyond maxPendingHandshakes, further upgrades are refused with HTTP 503', async () => {
    const server = await fx.server({ maxPendingHandshakes: 2, handshakeTimeoutMs: 60_000 });
    await bareSocket(server.url);
    await bareSocket(server.url);
    const refused = new WebSocket(server.url, { perMessageDeflate: false });
    const status = await new Promise<number>((resolve) => {
      refused.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        refused.terminate();
      });
      refused.on('error', () => {});
    });
    expect(status).toBe(503);
    // The refused socket never counted against the bound.
    expect(server.listener.counts.unauthenticated).toBe(2);
  });
});

describe('backpressure', () => {
  it('send() says false once the backlog passes the high-water mark, then onDrain fires after the reader resumes', async () => {
    const server = await fx.server({ highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024, pingIntervalMs: 60_000 });
    const peer = await rawPeer(server.url);
    const path = await server.paths.next();
    let received = 0;
    let outOfOrder = 0;
    peer.ws.on('message', (data: Buffer) => {
      const segment = peer.channel.open(data);
      if (segment === null || segmentNumber(segment) !== received) outOfOrder++;
      received++;
    });
    peer.ws.pause(); // the reader stops: the kernel buffers fill, then ws's
    let drains = 0;
    path.onDrain = () => drains++;

    // Fill until refused. The kernel's socket buffers absorb a few MB first.
    let sent = 0;
    while (path.send(numberedSegment(sent, 16 * 1024))) {
      sent++;
      if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      expect(sent).toBeLessThan(100_000); // 1.6 GB: the backlog never built up
    }
    expect(path.bufferedAmount).toBeGreaterThanOrEqual(256 * 1024);
    // Refused sends queue nothing more.
    const backlog = path.bufferedAmount;
    for (let i = 0; i < 10; i++) expect(path.send(numberedSegment(sent, 16 * 1024))).toBe(false);
    expect(path.bufferedAmount).toBe(backlog);
    expect(drains).toBe(0);

    const drained = new Promise<void>((resolve) => {
      path.onDrain = () => {
        drains++;
        resolve();
      };
    });
    peer.ws.resume();
    await drained;
    expect(drains).toBe(1);
    expect(path.bufferedAmount).toBeLessThanOrEqual(64 * 1024);
    // Sending works again, and everything accepted arrives, in order.
    expect(path.send(numberedSegment(sent, 16 * 1024))).toBe(true);
    sent++;
    while (received < sent) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(received).toBe(sent);
    expect(outOfOrder).toBe(0);
  });
});

describe('liveness', () => {
  it('a peer that stops answering pings is reported quiet, then closed with 4002 and ERR_MPTUN_PEER_GONE once the limit passes', async () => {
    const server = await fx.server({ pingIntervalMs: 50, silenceLimitMs: 300, closeTimeoutMs: 200 });
    const peer = await rawPeer(server.url, { autoPong: false });
    const link = await server.paths.next();
    const quiet: Array<{ silent: boolean; at: number }> = [];
    const t0 = performance.now();
    link.onSilence = (silent) => quiet.push({ silent, at: performance.now() - t0 });
    const path = new PathProbe(link);
    const closed = nextClose(peer.ws);
    expect((await path.closed).code).toBe('ERR_MPTUN_PEER_GONE');
    expect((await closed).code).toBe(WsCloseCode.PEER_GONE);
    const ended = performance.now() - t0;
    console.log(`quiet reported at ${quiet.map((q) => q.at.toFixed(0)).join(', ')} ms, path ended at ${ended.toFixed(0)} ms`);
    expect(quiet.map((q) => q.silent)).toEqual([true]);
    expect(ended).toBeGreaterThan(quiet[0]!.at); // quiet first, gone only after the limit
  });

  it('a peer quiet for a while (an outage, a stalled process) is reported quiet and heard again: the path stays', async () => {
    const server = await fx.server({ pingIntervalMs: 50, silenceLimitMs: 60_000 });
    const peer = await rawPeer(server.url, { autoPong: false });
    const link = await server.paths.next();
    const quiet: boolean[] = [];
    link.onSilence = (silent) => quiet.push(silent);
    for (let i = 0; i < 100 && !quiet.includes(true); i++) await new Promise((r) => setTimeout(r, 50));
    expect(quiet).toEqual([true]);
    peer.ws.on('ping', () => peer.ws.pong()); // it answers again
    for (let i = 0; i < 100 && quiet.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(quiet).toEqual([true, false]);
    expect((link as WsPathLink).closed).toBe(false);
    peer.ws.send(peer.channel.seal(numberedSegment(1, 10)));
    await new PathProbe(link).received(1);
  });

  it('a peer that answers pings stays up across many intervals', async () => {
    const server = await fx.server({ pingIntervalMs: 20 });
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    let pings = 0;
    peer.ws.on('ping', () => pings++);
    while (pings < 10) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((path.path as WsPathLink).closed).toBe(false);
    peer.ws.send(peer.channel.seal(numberedSegment(1, 10)));
    await path.received(1);
  });
});

describe('closing', () => {
  it('close() from the client ends both sides with ERR_MPTUN_PATH_CLOSED and releases every socket', async () => {
    // Sockets of earlier tests finish closing first; this file opens no other TCP handles.
    await tcpHandlesDropTo(0);
    const server = await fx.server();
    const client = fx.client();
    const paths = await Promise.all([client.connect('127.0.0.2', server.url), client.connect('127.0.0.3', server.url)]);
    const serverSide = [new PathProbe(await server.paths.next()), new PathProbe(await server.paths.next())];
    const clientSide = paths.map((p) => new PathProbe(p));
    expect(openTcpHandles()).toBe(5); // a listening socket, then both ends of two paths

    for (const p of paths) p.close();
    expect((await clientSide[0]!.closed).code).toBe('ERR_MPTUN_PATH_CLOSED');
    expect((await clientSide[1]!.closed).code).toBe('ERR_MPTUN_PATH_CLOSED');
    expect((await serverSide[0]!.closed).code).toBe('ERR_MPTUN_PATH_CLOSED');
    expect((await serverSide[1]!.closed).code).toBe('ERR_MPTUN_PATH_CLOSED');
    // Closed paths refuse sends and call nothing more.
    expect(paths[0]!.send(numberedSegment(1, 10))).toBe(false);
    expect(paths[0]!.bufferedAmount).toBe(0);
    paths[0]!.close(); // idempotent

    await server.listener.close();
    await tcpHandlesDropTo(0);
  });

  it('listener.close() ends every open path with a close code the client sees', async () => {
    await tcpHandlesDropTo(0);
    const server = await fx.server();
    const path = new PathProbe(await fx.client().connect('127.0.0.2', server.url));
    await server.paths.next();
    await server.listener.close();
    expect(server.listener.counts).toEqual({ paths: 0, unauthenticated: 0 });
    expect((await path.closed).code).toBe('ERR_MPTUN_PATH_CLOSED');
    await tcpHandlesDropTo(0); // the client's end goes once the server's FIN arrives
  });

  it('a peer that vanishes (socket destroyed) ends the path with ERR_MPTUN_PEER_GONE', async () => {
    const server = await fx.server();
    const peer = await rawPeer(server.url);
    const path = new PathProbe(await server.paths.next());
    peer.ws.terminate();
    expect((await path.closed).code).toBe('ERR_MPTUN_PEER_GONE');
  });
});

describe('key rotation', () => {
  it('renews the keys inside the WebSocket while segments flow, losing none', async () => {
    let now = Date.now();
    const clock = (): number => now;
    const limits = { rekeyAfterMs: 10_000, rejectAfterMs: 15_000, previousKeyGraceMs: 2_000 };
    const server = await fx.server({ clock, channelLimits: limits, maintenanceIntervalMs: 10 });
    const client = fx.client({ clock, channelLimits: limits, maintenanceIntervalMs: 10 });
    const path = (await fx.connect(client, '127.0.0.2', server.url)) as WsPathLink;
    const serverPath = (await server.paths.next()) as WsPathLink;
    const atServer = new PathProbe(serverPath);
    const atClient = new PathProbe(path);

    let n = 0;
    for (let round = 1; round <= 3; round++) {
      // Time passes: the keys are old, the client starts a rekey on its next tick.
      now += 11_000;
      while (path.rekeyCount < round || serverPath.rekeyCount < round) {
        path.send(numberedSegment(n, 200));
        serverPath.send(numberedSegment(n, 200));
        n++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      // Let the client's key confirmation land before time jumps again (an 11 s jump in zero
      // real time would outrun a real message): a segment sent after it arrives after it.
      path.send(numberedSegment(n, 200));
      serverPath.send(numberedSegment(n, 200));
      n++;
      await Promise.race([Promise.all([atServer.received(n), atClient.received(n)]), atServer.closed.then((c) => Promise.reject(new Error(c.message)))]);
    }
    // Well past every old key's lifetime: only the rotated keys can still work.
    now += 5_000;
    await new Promise((resolve) => setTimeout(resolve, 30));
    path.send(numberedSegment(n, 200));
    serverPath.send(numberedSegment(n, 200));
    n++;
    await atServer.received(n);
    await atClient.received(n);
    expect(atServer.segments.map(segmentNumber)).toEqual([...Array(n).keys()]);
    expect(atClient.segments.map(segmentNumber)).toEqual([...Array(n).keys()]);
    expect(path.rekeyCount).toBe(3);
    expect(serverPath.closed).toBe(false);
  });

  it('a path whose keys expire without a rekey closes with ERR_MPTUN_KEYS_EXPIRED', async () => {
    let now = Date.now();
    const clock = (): number => now;
    // The client never rekeys (its rekey age is beyond the server's key lifetime).
    const server = await fx.server({ clock, channelLimits: { rejectAfterMs: 5_000 }, maintenanceIntervalMs: 10 });
    const client = fx.client({ clock, channelLimits: { rekeyAfterMs: 1e9, rejectAfterMs: 1e9 }, maintenanceIntervalMs: 10 });
    const path = new PathProbe(await fx.connect(client, '127.0.0.2', server.url));
    const serverPath = new PathProbe(await server.paths.next());
    now += 6_000;
    expect((await serverPath.closed).code).toBe('ERR_MPTUN_KEYS_EXPIRED');
    expect((await path.closed).code).toBe('ERR_MPTUN_KEYS_EXPIRED');
  });
});
