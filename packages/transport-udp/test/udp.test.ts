/**
 * The UDP transport on loopback aliases only (all of 127/8 is loopback on Linux): 127.0.0.1
 * is the server, 127.0.0.2 and 127.0.0.3 are a client's two "interfaces". Every test
 * closes what it opened; the last one checks no socket or timer is left.
 */
import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import type { PathCloseInfo, PathLink } from '@mptun/core';
import {
  HandshakeInitiator,
  MessageType,
  generateKeypair,
  loadCrypto,
  messageType,
  encodeKey,
  type CryptoBackend,
  type Keypair,
} from '@mptun/session';
import { udpTransport, type UdpTransportInit } from '../src/index.js';
import type { UdpPathListener } from '../src/listener-stats.js';

const SERVER = '127.0.0.1';
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends PathLink | UdpPathListener | dgram.Socket>(x: T): T {
  cleanups.push(() => {
    if (x instanceof dgram.Socket) return new Promise<void>((r) => x.close(() => r()));
    return (x as PathLink | UdpPathListener).close();
  });
  return x;
}

function collect(path: PathLink): string[] {
  const got: string[] = [];
  path.onSegment = (s) => got.push(str(s));
  return got;
}

describe('udpTransport', async () => {
  const crypto: CryptoBackend = await loadCrypto();
  const serverKeys: Keypair = generateKeypair(crypto);
  const clientKeys: Keypair = generateKeypair(crypto);
  const serverInit = (extra: Partial<UdpTransportInit> = {}): UdpTransportInit => ({
    crypto,
    keypair: serverKeys,
    authorizedKeys: [encodeKey(clientKeys.publicKey)],
    ...extra,
  });
  const clientInit = (extra: Partial<UdpTransportInit> = {}): UdpTransportInit => ({
    crypto,
    keypair: clientKeys,
    serverPublicKey: serverKeys.publicKey,
    ...extra,
  });

  async function listen(extra: Partial<UdpTransportInit> = {}): Promise<{ listener: UdpPathListener; paths: PathLink[] }> {
    const listener = track(await udpTransport(serverInit(extra)).listen({ host: SERVER, port: 0 }));
    const paths: PathLink[] = [];
    listener.onPath = (p) => paths.push(p);
    return { listener, paths };
  }

  /** A relay between a client and `listener` that passes what the server sends and what `pass` lets through from the client. */
  async function earlyRelay(listener: UdpPathListener, pass: (msg: Buffer) => boolean): Promise<dgram.Socket> {
    const relay = track(dgram.createSocket('udp4'));
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
    let clientAddr: dgram.RemoteInfo | null = null;
    relay.on('message', (msg, rinfo) => {
      if (rinfo.port === listener.local.port) {
        if (clientAddr) relay.send(msg, clientAddr.port, clientAddr.address);
        return;
      }
      clientAddr = rinfo;
      if (pass(msg)) relay.send(msg, listener.local.port, SERVER);
    });
    return relay;
  }

  it(`sealed round trip from two local addresses to one server (${crypto.name})`, async () => {
    const { listener, paths } = await listen();
    const client = udpTransport(clientInit());
    const a = track(await client.connect('127.0.0.2', listener.local));
    const b = track(await client.connect('127.0.0.3', listener.local));
    expect(a.local.host).toBe('127.0.0.2');
    expect(b.local.host).toBe('127.0.0.3');
    expect(a.kind).toBe('udp');
    expect(a.reliable).toBe(false);
    expect(a.maxSegment).toBe(1200 - 32);
    await waitFor(() => paths.length === 2, 'two server paths');
    expect(paths.map((p) => p.remote.host).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(listener.sessionCount).toBe(2);

    const atServer = new Map(paths.map((p) => [p.remote.host, collect(p)]));
    const gotA = collect(a);
    const gotB = collect(b);
    expect(a.send(text('from a'))).toBe(true);
    expect(b.send(text('from b'))).toBe(true);
    await waitFor(() => atServer.get('127.0.0.2')!.length === 1 && atServer.get('127.0.0.3')!.length === 1, 'uplink');
    expect(atServer.get('127.0.0.2')).toEqual(['from a']);
    expect(atServer.get('127.0.0.3')).toEqual(['from b']);
    for (const p of paths) p.send(text(`to ${p.remote.host}`));
    await waitFor(() => gotA.length === 1 && gotB.length === 1, 'downlink');
    expect(gotA).toEqual(['to 127.0.0.2']);
    expect(gotB).toEqual(['to 127.0.0.3']);

    // The largest segment fits; one byte more is refused before it reaches the wire.
    expect(a.send(new Uint8Array(a.maxSegment).fill(7))).toBe(true);
    expect(a.send(new Uint8Array(a.maxSegment + 1))).toBe(false);
    await waitFor(() => atServer.get('127.0.0.2')!.length === 2, 'a full-size segment');
  });

  it('a libsodium-wrappers server and a sodium-native client understand each other', async () => {
    const wasm = await loadCrypto({ prefer: 'libsodium-wrappers' });
    expect(wasm.name).toBe('libsodium-wrappers');
    const { listener, paths } = await listen({ crypto: wasm });
    const path = track(await udpTransport(clientInit()).connect('127.0.0.3', listener.local));
    await waitFor(() => paths.length === 1, 'a server path');
    const atServer = collect(paths[0]!);
    const atClient = collect(path);
    path.send(text('native to wasm'));
    paths[0]!.send(text('wasm to native'));
    await waitFor(() => atServer.length === 1 && atClient.length === 1, 'both segments');
    expect([atServer, atClient]).toEqual([['native to wasm'], ['wasm to native']]);
  });

  it('sealed round trip over IPv6 loopback', async () => {
    const listener = track(await udpTransport(serverInit()).listen({ host: '::1', port: 0 }));
    const paths: PathLink[] = [];
    listener.onPath = (p) => paths.push(p);
    const path = track(await udpTransport(clientInit()).connect('::1', listener.local));
    await waitFor(() => paths.length === 1, 'a server path');
    const got = collect(paths[0]!);
    path.send(text('v6'));
    await waitFor(() => got.length === 1, 'the segment');
    expect(got).toEqual(['v6']);
  });

  it('plain round trip: tcp-in-udp, the TCP ports are the socket ports', async () => {
    const listener = track(await udpTransport({ mode: 'plain' }).listen({ host: SERVER, port: 0 }));
    const paths: PathLink[] = [];
    const atServer: Uint8Array[] = [];
    // onPath runs before the first segment is delivered, so nothing is missed.
    listener.onPath = (p) => {
      paths.push(p);
      p.onSegment = (s) => atServer.push(s);
    };
    const client = track(await udpTransport({ mode: 'plain' }).connect('127.0.0.2', listener.local));
    expect(client.maxSegment).toBe(1208);
    const segment = (src: number, dst: number, payload: string): Uint8Array => {
      const data = text(payload);
      const s = new Uint8Array(20 + data.length);
      const v = new DataView(s.buffer);
      v.setUint16(0, src);
      v.setUint16(2, dst);
      v.setUint32(4, 0x01020304); // seq
      v.setUint32(8, 0x0a0b0c0d); // ack
      s[12] = 5 << 4; // data offset: 5 words
      s[13] = 0x18; // PSH, ACK
      v.setUint16(14, 65535); // window
      s.set(data, 20);
      return s;
    };
    const up = segment(client.local.port, listener.local.port, 'plain up');
    // A segment of another subflow (other ports) cannot ride this path, nor can URG.
    expect(client.send(segment(client.local.port + 1, listener.local.port, 'x'))).toBe(false);
    const urgent = up.slice();
    urgent[13] = 0x38;
    expect(client.send(urgent)).toBe(false);
    expect(client.send(up)).toBe(true);
    await waitFor(() => atServer.length === 1, 'the segment at the server');
    expect(paths).toHaveLength(1);
    // Checksum and urgent pointer were zero, so the segment comes back byte for byte.
    expect(Buffer.from(atServer[0]!).equals(Buffer.from(up))).toBe(true);
    expect(paths[0]!.remote).toEqual({ host: '127.0.0.2', port: client.local.port });

    const atClient: Uint8Array[] = [];
    client.onSegment = (s) => atClient.push(s);
    const down = segment(listener.local.port, client.local.port, 'plain down');
    expect(paths[0]!.send(down)).toBe(true);
    await waitFor(() => atClient.length === 1, 'the segment at the client');
    expect(Buffer.from(atClient[0]!).equals(Buffer.from(down))).toBe(true);
  });

  it('a client pinning the wrong server key gets no path and the server allocates nothing', async () => {
    const drops: string[] = [];
    const { listener, paths } = await listen({ onHandshakeFailure: (reason, source) => drops.push(`${reason} ${source.host}`) });
    const wrong = udpTransport(clientInit({ serverPublicKey: generateKeypair(crypto).publicKey, handshakeTimeoutMs: 400, handshakeRetryMs: 100 }));
    await expect(wrong.connect('127.0.0.2', listener.local)).rejects.toMatchObject({ code: 'ERR_MPTUN_HANDSHAKE_TIMEOUT', message: expect.stringMatching(/wrong --server-key/) });
    // Each initiation is reported, as made for another key (its mac1 fails), with its source.
    expect(drops.length).toBe(listener.stats.initiations);
    expect(new Set(drops)).toEqual(new Set(['mac1 127.0.0.2']));
    expect(listener.stats.initiations).toBeGreaterThan(0);
    expect(listener.stats.handshakes).toBe(0);
    expect(listener.sessionCount).toBe(0);
    expect(paths).toHaveLength(0);
  });

  it('a client that is not allowed gets no path and the server allocates nothing', async () => {
    const drops: string[] = [];
    const { listener, paths } = await listen({ onHandshakeFailure: (reason) => drops.push(reason) });
    const stranger = udpTransport({ crypto, keypair: generateKeypair(crypto), serverPublicKey: serverKeys.publicKey, handshakeTimeoutMs: 400, handshakeRetryMs: 100 });
    await expect(stranger.connect('127.0.0.2', listener.local)).rejects.toMatchObject({ code: 'ERR_MPTUN_HANDSHAKE_TIMEOUT' });
    expect(drops.length).toBeGreaterThan(0);
    expect(new Set(drops)).toEqual(new Set(['not-allowed']));
    expect(listener.stats.initiations).toBeGreaterThan(0);
    expect(listener.stats.handshakes).toBe(0);
    expect(listener.sessionCount).toBe(0);
    expect(paths).toHaveLength(0);
  });

  it('ICMP port unreachable: connect() to a closed port fails at once; a live path ends when its server goes away', async () => {
    // A port nobody listens on: the first initiation draws ICMP port unreachable.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, SERVER, r));
    const closedPort = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const started = Date.now();
    await expect(udpTransport(clientInit()).connect('127.0.0.2', { host: SERVER, port: closedPort })).rejects.toMatchObject({
      code: 'ERR_MPTUN_SERVER_UNREACHABLE',
      message: expect.stringMatching(/nothing listens on UDP 127\.0\.0\.1:\d+/),
    });
    expect(Date.now() - started).toBeLessThan(2000); // not the 10 s handshake timeout

    const { listener } = await listen();
    const path = track(await udpTransport(clientInit({ keepaliveMs: 50 })).connect('127.0.0.2', listener.local));
    const closed = new Promise<PathCloseInfo>((r) => (path.onClose = r));
    await listener.close();
    expect((await closed).code).toBe('ERR_MPTUN_SERVER_UNREACHABLE');
  });

  it('a replayed datagram is refused: data is not delivered twice, an initiation makes no session', async () => {
    const { listener, paths } = await listen();
    // A relay in the middle, on its own raw socket, records everything the client sends.
    const relay = track(dgram.createSocket('udp4'));
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
    const captured: Buffer[] = [];
    let clientAddr: dgram.RemoteInfo | null = null;
    relay.on('message', (msg, rinfo) => {
      if (rinfo.port === listener.local.port) {
        if (clientAddr) relay.send(msg, clientAddr.port, clientAddr.address);
      } else {
        clientAddr = rinfo;
        captured.push(Buffer.from(msg));
        relay.send(msg, listener.local.port, SERVER);
      }
    });
    const path = track(await udpTransport(clientInit()).connect('127.0.0.2', { host: '127.0.0.1', port: relay.address().port }));
    await waitFor(() => paths.length === 1, 'a server path');
    const got = collect(paths[0]!);
    path.send(text('only once'));
    await waitFor(() => got.length === 1, 'the segment');
    const data = captured.filter((m) => messageType(m) === MessageType.Data).at(-1)!;
    const initiation = captured.find((m) => messageType(m) === MessageType.Initiation)!;
    const droppedBefore = listener.stats.dropped;
    relay.send(data, listener.local.port, SERVER);
    relay.send(initiation, listener.local.port, SERVER);
    await waitFor(() => listener.stats.dropped === droppedBefore + 2, 'both replays dropped');
    expect(got).toEqual(['only once']);
    expect(listener.sessionCount).toBe(1);
    expect(listener.stats.handshakes).toBe(1);
    // The path still works after the replays.
    path.send(text('and again'));
    await waitFor(() => got.length === 2, 'the next segment');
    expect(got).toEqual(['only once', 'and again']);
  });

  it('completes a handshake when the round trip is three retry intervals long (issue 14 item 10)', async () => {
    // A relay that holds every datagram 150 ms each way: RTT 300 ms against a 100 ms retry,
    // the scaled-down shape of a 3 s satellite RTT against the default 1 s retry.
    const { listener, paths } = await listen();
    const relay = track(dgram.createSocket('udp4'));
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
    let clientAddr: dgram.RemoteInfo | null = null;
    const held = new Set<NodeJS.Timeout>();
    cleanups.push(() => held.forEach((t) => clearTimeout(t)));
    const later = (fn: () => void): void => {
      const t = setTimeout(() => {
        held.delete(t);
        fn();
      }, 150);
      held.add(t);
    };
    relay.on('message', (msg, rinfo) => {
      if (rinfo.port === listener.local.port) {
        later(() => clientAddr && relay.send(msg, clientAddr.port, clientAddr.address));
      } else {
        clientAddr = rinfo;
        later(() => relay.send(msg, listener.local.port, SERVER));
      }
    });
    const client = udpTransport(clientInit({ handshakeRetryMs: 100, handshakeTimeoutMs: 3000 }));
    const path = track(await client.connect('127.0.0.2', { host: '127.0.0.1', port: relay.address().port }));
    await waitFor(() => paths.length === 1, 'the server path');
    const got = collect(paths[0]!);
    path.send(text('over a long path'));
    await waitFor(() => got.length === 1, 'the segment');
    expect(got).toEqual(['over a long path']);
  });

  it('a path roams: the server follows the client to its new address (sessions are found by index)', async () => {
    const { listener, paths } = await listen();
    // A NAT in the middle: the client talks to `front`; `front` forwards through an upstream socket we can swap.
    const front = track(dgram.createSocket('udp4'));
    await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
    let client: dgram.RemoteInfo | null = null;
    const upstream = async (host: string): Promise<dgram.Socket> => {
      const u = track(dgram.createSocket('udp4'));
      await new Promise<void>((r) => u.bind(0, host, r));
      u.on('message', (msg) => {
        if (client) front.send(msg, client.port, client.address);
      });
      return u;
    };
    let up = await upstream('127.0.0.2');
    front.on('message', (msg, rinfo) => {
      client = rinfo;
      up.send(msg, listener.local.port, SERVER);
    });
    const path = track(await udpTransport(clientInit()).connect('127.0.0.2', { host: '127.0.0.1', port: front.address().port }));
    await waitFor(() => paths.length === 1, 'a server path');
    const atServer = collect(paths[0]!);
    const atClient = collect(path);
    path.send(text('before'));
    await waitFor(() => atServer.length === 1, 'the first segment');
    expect(paths[0]!.remote.host).toBe('127.0.0.2');

    up = await upstream('127.0.0.3'); // the NAT rebinds to a new address and port
    path.send(text('after'));
    await waitFor(() => atServer.length === 2, 'the segment from the new address');
    expect(paths[0]!.remote).toEqual({ host: '127.0.0.3', port: up.address().port });
    paths[0]!.send(text('reply'));
    await waitFor(() => atClient.length === 1, 'the reply to the new address');
    expect(atClient).toEqual(['reply']);
    expect(listener.sessionCount).toBe(1);
  });

  it('a handshake flood gets cookie replies, and an honest client still connects', async () => {
    const { listener, paths } = await listen({ cookieThreshold: 20 });
    const flooder = track(dgram.createSocket('udp4'));
    await new Promise<void>((r) => flooder.bind(0, '127.0.0.3', r));
    let cookiesToFlooder = 0;
    flooder.on('message', (msg) => {
      if (messageType(msg) === MessageType.CookieReply) cookiesToFlooder++;
    });
    // Well-formed initiations with a valid mac1 (the server key is public) from a key the server does not admit.
    const attacker = new HandshakeInitiator(crypto, { staticKeypair: generateKeypair(crypto), serverPublicKey: serverKeys.publicKey });
    let index = 1;
    const burst = (): void => {
      for (let i = 0; i < 20; i++) flooder.send(attacker.initiate(Date.now(), index++).message, listener.local.port, SERVER);
    };
    burst();
    const flood = setInterval(burst, 20);
    cleanups.push(() => clearInterval(flood));
    await waitFor(() => cookiesToFlooder > 0, 'cookie replies to the flood');
    const path = track(await udpTransport(clientInit()).connect('127.0.0.2', listener.local));
    clearInterval(flood);
    await waitFor(() => paths.length === 1, 'the honest path');
    await new Promise((r) => setTimeout(r, 100)); // let the last flood datagrams and their cookies land
    const honestInitiations = listener.stats.initiations - (index - 1);
    const cookiesToHonest = listener.stats.cookieReplies - cookiesToFlooder;
    // The honest client was asked for a cookie too (the server was under load) and came back with mac2.
    expect(cookiesToHonest).toBeGreaterThanOrEqual(1);
    expect(honestInitiations).toBeGreaterThanOrEqual(2);
    expect(listener.stats.handshakes).toBe(1);
    expect(listener.sessionCount).toBe(1);
    const got = collect(paths[0]!);
    path.send(text('through the flood'));
    await waitFor(() => got.length === 1, 'the segment');
  });

  it('keepalives hold an idle path open; a silent peer is closed as gone', async () => {
    const { listener, paths } = await listen({ keepaliveMs: 50, idleTimeoutMs: 400 });
    const path = track(await udpTransport(clientInit({ keepaliveMs: 50, idleTimeoutMs: 400 })).connect('127.0.0.2', listener.local));
    await waitFor(() => paths.length === 1, 'a server path');
    const serverClosed: PathCloseInfo[] = [];
    paths[0]!.onClose = (i) => serverClosed.push(i);
    await new Promise((r) => setTimeout(r, 1000)); // 2.5 idle timeouts with no data
    expect(serverClosed).toEqual([]);
    const got = collect(paths[0]!);
    path.send(text('still here'));
    await waitFor(() => got.length === 1, 'the segment');
    // The client goes away without a word: the server notices by silence.
    const clientClosed: PathCloseInfo[] = [];
    path.onClose = (i) => clientClosed.push(i);
    path.close();
    path.close();
    expect(clientClosed.map((c) => c.code)).toEqual(['ERR_MPTUN_PATH_CLOSED']);
    await waitFor(() => serverClosed.length === 1, 'the server to expire the session');
    expect(serverClosed[0]!.code).toBe('ERR_MPTUN_PEER_GONE');
    expect(listener.sessionCount).toBe(0);
  });

  it('rekeys with traffic flowing and loses nothing on loopback', async () => {
    const limits = { rekeyAfterMs: 150, rejectAfterMs: 2000, previousKeyGraceMs: 100 };
    const { listener, paths } = await listen({ channelLimits: limits });
    const path = track(await udpTransport(clientInit({ channelLimits: limits, handshakeRetryMs: 50 })).connect('127.0.0.2', listener.local));
    await waitFor(() => paths.length === 1, 'a server path');
    const atServer = collect(paths[0]!);
    const atClient = collect(path);
    let sent = 0;
    const pump = setInterval(() => {
      for (let i = 0; i < 5; i++) {
        path.send(text(`u${sent}`));
        paths[0]!.send(text(`d${sent}`));
        sent++;
      }
    }, 5);
    cleanups.push(() => clearInterval(pump));
    await waitFor(() => listener.stats.handshakes >= 4, 'several rekeys');
    clearInterval(pump);
    await waitFor(() => atServer.length === sent && atClient.length === sent, 'every segment', 2000);
    expect(listener.sessionCount).toBe(1);
    expect(paths).toHaveLength(1); // a rekey is not a new path
  });

  it('close() releases sockets and timers; onClose fires once with a code', async () => {
    const { listener, paths } = await listen();
    const client = udpTransport(clientInit());
    const a = await client.connect('127.0.0.2', listener.local);
    const b = await client.connect('127.0.0.3', listener.local);
    await waitFor(() => paths.length === 2, 'two server paths');
    const closes: string[] = [];
    a.onClose = (i) => closes.push(`a:${i.code}`);
    b.onClose = (i) => closes.push(`b:${i.code}`);
    for (const p of paths) p.onClose = (i) => closes.push(`server:${i.code}`);
    a.close();
    b.close();
    await listener.close();
    await listener.close();
    expect(closes.sort()).toEqual([
      'a:ERR_MPTUN_PATH_CLOSED',
      'b:ERR_MPTUN_PATH_CLOSED',
      'server:ERR_MPTUN_LISTENER_CLOSED',
      'server:ERR_MPTUN_LISTENER_CLOSED',
    ]);
    expect(a.send(text('late'))).toBe(false);
    expect(listener.sessionCount).toBe(0);
    // Earlier tests' sockets were closed by afterEach: none may be left at all.
    await waitFor(() => !process.getActiveResourcesInfo().includes('UDPWrap'), 'sockets to close');
  });

  it('pmtud: both ends grow maxSegment as the path MTU search confirms sizes (loopback: 65507-byte datagrams), and a segment that large arrives', async () => {
    // The cap raised to what loopback carries (the default stops at 1472).
    const { listener, paths } = await listen({ pmtud: true, pmtudMaxPayload: 65_507 });
    const a = track(await udpTransport(clientInit({ pmtud: true, pmtudMaxPayload: 65_507 })).connect('127.0.0.2', listener.local));
    const grown = 65_507 - 32;
    expect(a.maxSegment).toBe(1200 - 32);
    expect(a.maxReceiveSegment).toBe(grown);
    const reported: number[] = [];
    a.onMaxSegment = (n) => reported.push(n);
    await waitFor(() => a.maxSegment === grown, 'the client path to grow');
    await waitFor(() => paths.length === 1 && paths[0]!.maxSegment === grown, 'the server path to grow');
    expect(reported[reported.length - 1]).toBe(grown);
    expect(reported.every((n, i) => i === 0 || n > reported[i - 1]!)).toBe(true);
    const sizes: number[] = [];
    paths[0]!.onSegment = (seg) => sizes.push(seg.length);
    expect(a.send(new Uint8Array(grown).fill(9))).toBe(true);
    await waitFor(() => sizes.length === 1, 'a 65475-byte segment');
    expect(sizes).toEqual([grown]);
    // Probes and their acks never reach the user of the path, and cost no drop count.
    expect(listener.stats.dropped).toBe(0);
  });

  it('pmtud with a small receive buffer advertises only what 16 datagrams of that size fit in', async () => {
    const { listener } = await listen();
    const a = track(await udpTransport(clientInit({ pmtud: true, socketBufferBytes: 100_000 })).connect('127.0.0.2', listener.local));
    // Linux reports twice what was asked (its bookkeeping share): 200 000 / 16 = 12 500-byte datagrams.
    console.log('advertised segment with a 100 000-byte receive buffer', a.maxReceiveSegment);
    expect(a.maxReceiveSegment).toBeGreaterThan(1200 - 32);
    expect(a.maxReceiveSegment).toBeLessThanOrEqual(Math.floor(200_000 / 16) - 32);
  });

  it('without pmtud the path keeps its 1200-byte datagrams and advertises no more', async () => {
    const { listener } = await listen();
    const a = track(await udpTransport(clientInit()).connect('127.0.0.2', listener.local));
    await new Promise((r) => setTimeout(r, 300));
    expect([a.maxSegment, a.maxReceiveSegment]).toEqual([1200 - 32, 1200 - 32]);
  });

  it('early data: the first segment rides the initiation, its answer the response; onPath follows at key confirmation with the same link', async () => {
    const { listener, paths } = await listen();
    const early: Array<{ link: PathLink; segment: string; up: boolean }> = [];
    listener.onEarlyPath = (link, segment) => {
      early.push({ link, segment: str(segment), up: paths.includes(link) });
      expect(link.send(text('dropped: not up yet'))).toBe(false);
      return text('syn-ack');
    };
    let shapeSeen: { local: string; maxSegment: number } | null = null;
    const path = track(
      await udpTransport(clientInit()).connect('127.0.0.2', listener.local, undefined, (shape) => {
        shapeSeen = { local: shape.local.host, maxSegment: shape.maxSegment };
        return text('syn');
      }),
    );
    expect(shapeSeen).toEqual({ local: '127.0.0.2', maxSegment: path.maxSegment });
    expect(str(path.earlyAnswer!)).toBe('syn-ack');
    expect(early.map((e) => [e.segment, e.up])).toEqual([['syn', false]]);
    expect(listener.stats.earlySegments).toBe(1);
    // No empty confirmation: the first sealed segment confirms the keys, and the path is reported then.
    expect(paths.length).toBe(0);
    const got = collect(early[0]!.link);
    path.send(text('third ack'));
    await waitFor(() => paths.length === 1 && got.length === 1, 'the path reported up and the segment');
    expect(paths[0]).toBe(early[0]!.link);
    expect(got).toEqual(['third ack']);
  });

  it('early data without a taker: the server answers as before, and a segment too long to ride is not carried', async () => {
    const { listener, paths } = await listen();
    const path = track(await udpTransport(clientInit()).connect('127.0.0.2', listener.local, undefined, () => text('syn')));
    expect(path.earlyAnswer).toBeNull();
    await waitFor(() => paths.length === 1, 'the path reported up (empty confirmation)');
    expect(listener.stats.earlySegments).toBe(0);
    listener.onEarlyPath = () => text('never');
    const long = track(await udpTransport(clientInit()).connect('127.0.0.3', listener.local, undefined, () => new Uint8Array(513)));
    expect(long.earlyAnswer).toBeNull();
    expect(listener.stats.earlySegments).toBe(0);
    // A taker that throws leaves the segment unanswered; the path still comes up.
    listener.onEarlyPath = () => {
      throw new Error('engine failure');
    };
    const thrown = track(await udpTransport(clientInit()).connect('127.0.0.4', listener.local, undefined, () => text('syn')));
    expect(thrown.earlyAnswer).toBeNull();
    expect(listener.stats.earlySegments).toBe(1);
    thrown.send(text('confirm'));
    await waitFor(() => paths.some((p) => p.remote.host === '127.0.0.4'), 'the path from 127.0.0.4 reported up');
  });

  it('early data: a replayed initiation never reaches onEarlyPath and makes no second path; the first path stays', async () => {
    const { listener, paths } = await listen({ handshakeTimeoutMs: 300 });
    let initiation: Buffer | null = null;
    const relay = await earlyRelay(listener, (msg) => {
      if (messageType(msg) === MessageType.Initiation) initiation ??= Buffer.from(msg);
      return true;
    });
    const segments: string[] = [];
    const closed: string[] = [];
    listener.onEarlyPath = (link, segment) => {
      segments.push(str(segment));
      link.onClose = (info) => closed.push(info.code);
      return text('syn-ack');
    };
    const path = track(await udpTransport(clientInit()).connect('127.0.0.2', { host: '127.0.0.1', port: relay.address().port }, undefined, () => text('syn')));
    expect(str(path.earlyAnswer!)).toBe('syn-ack');
    path.send(text('confirm'));
    await waitFor(() => paths.length === 1, 'the path up');
    const droppedBefore = listener.stats.dropped;
    relay.send(initiation!, listener.local.port, SERVER);
    await waitFor(() => listener.stats.dropped === droppedBefore + 1, 'the replay dropped');
    expect(segments).toEqual(['syn']);
    expect(closed).toEqual([]);
    expect(listener.sessionCount).toBe(1);
  });

  it('early data: a path whose keys are never confirmed is never reported up, and its early link closes at the handshake timeout', async () => {
    const { listener, paths } = await listen({ handshakeTimeoutMs: 300 });
    // The relay passes the initiation and the response, then drops all the client sends.
    const relay = await earlyRelay(listener, (msg) => messageType(msg) === MessageType.Initiation);
    const closed: string[] = [];
    listener.onEarlyPath = (link) => {
      link.onClose = (info) => closed.push(info.code);
      return text('syn-ack');
    };
    const path = track(await udpTransport(clientInit()).connect('127.0.0.2', { host: '127.0.0.1', port: relay.address().port }, undefined, () => text('syn')));
    expect(str(path.earlyAnswer!)).toBe('syn-ack');
    path.send(text('third ack, dropped'));
    await waitFor(() => closed.length === 1, 'the early link closed');
    expect(closed).toEqual(['ERR_MPTUN_PEER_GONE']);
    expect(paths).toEqual([]);
    expect(listener.sessionCount).toBe(0);
  });

  it('leaves no socket or timer behind', async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await waitFor(() => !process.getActiveResourcesInfo().includes('UDPWrap'), 'every socket to close');
    // Our intervals are gone too: only vitest's own timers may remain, and none of ours repeat.
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await new Promise((r) => setTimeout(r, 50));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timers);
  });

  it('refuses incomplete configuration with ERR_MPTUN_BAD_CONFIG', async () => {
    await expect(udpTransport({ crypto }).connect('127.0.0.2', { host: SERVER, port: 9 })).rejects.toMatchObject({ code: 'ERR_MPTUN_BAD_CONFIG' });
    await expect(udpTransport({ crypto, keypair: serverKeys }).listen({ host: SERVER, port: 0 })).rejects.toMatchObject({
      code: 'ERR_MPTUN_BAD_CONFIG',
    });
    expect(() => udpTransport({ maxSegment: 10 })).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_BAD_CONFIG' }));
    expect(() => udpTransport({ authorizedKeys: ['not a key'] })).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_BAD_KEY' }));
  });
});
