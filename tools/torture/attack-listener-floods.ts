/**
 * Listener floods (issue 14 items 2–5), in this process against an MptcpServer listening on
 * udp-plain, sealed udp and ws at once. An honest sealed client downloads all along; its
 * goodput in a quiet window is printed beside its goodput during each flood:
 *   - plain SYN flood: SYNs carrying data from 1,100 distinct ports of one host (127.0.0.9)
 *     on the plain listener, never completed. Counts connections the server reported (none
 *     may be) and the bytes the flooder got back per byte sent (reflection, ≤ 1).
 *   - WS upgrade hoarding: 1,100 upgrades from 127.0.0.9 held open without a key exchange,
 *     then 28 authorized WS clients from 127.0.0.2 must all get a path.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { ccFactory, emitSegment, Endpoint, minRttScheduler, parseSegment, SeededRandom, segmentToUdpPayload } from '@mptun/core';
import { connect, MptcpClient, MptcpServer, type MptcpSocket } from '@mptun/node';
import { generateKeypair, loadCrypto } from '@mptun/session';
import { fillPattern } from '../bench/rig/index.js';
import { goodputOver } from './attack-honest.js';

export interface ListenerFloodPlan {
  windowSeconds: number;
  seed: number;
  log: (line: string) => void;
}

export interface ListenerFloodResult {
  baselineBps: number;
  plainFlood: { bps: number; syns: number; bytesSent: number; bytesBack: number; connections: number };
  wsHoard: { bps: number; held: number; refused: number; honestOk: number; honestTried: number };
}

const FLOOD = 1100;
const HONEST_WS = 28;
const CHUNK = 32 * 1024;
const pattern = fillPattern(new Uint8Array(CHUNK), 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runListenerFloods(plan: ListenerFloodPlan): Promise<ListenerFloodResult> {
  const crypto = await loadCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  let connections = 0;
  const server = new MptcpServer(
    {
      listen: [
        { transport: 'udp-plain', host: '127.0.0.1', port: 0 },
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'ws', host: '127.0.0.1', port: 0 },
      ],
      keypair: serverKeys,
      authorizedKeys: [clientKeys.publicKey],
      crypto,
    },
    (s) => {
      connections++;
      s.on('error', () => {});
      const pump = (): void => {
        while (!s.destroyed) if (!s.write(pattern)) return void s.once('drain', pump);
      };
      pump();
    },
  );
  const closers: Array<() => unknown> = [];
  try {
    const bound = await server.listen();
    const port = (t: string): number => bound.find((b) => b.transport === t)!.port;
    let got = 0;
    const honest = connect({ transport: 'udp', server: { host: '127.0.0.1', port: port('udp') }, localAddresses: ['127.0.0.2'], keypair: clientKeys, serverPublicKey: serverKeys.publicKey, crypto });
    closers.push(() => honest.destroy());
    honest.on('error', () => {});
    honest.on('data', (d: Buffer) => (got += d.length));
    for (let i = 0; i < 100 && got === 0; i++) await sleep(50);
    if (got === 0) throw new Error('the honest sealed connection did not start');
    await sleep(1000); // past slow start
    const window = (): Promise<number> => goodputOver(plan.windowSeconds, () => got);
    const baselineBps = await window();
    const before = connections;

    // Plain SYN flood, from fresh sockets so each has its own source port.
    const syn = honestSyn(plan.seed, port('udp-plain'));
    const flooders = await Promise.all(Array.from({ length: FLOOD }, () => bindUdp('127.0.0.9')));
    closers.push(() => flooders.forEach((s) => s.close()));
    let bytesSent = 0;
    let bytesBack = 0;
    for (const s of flooders) {
      s.on('message', (m: Buffer) => (bytesBack += m.length));
      const datagram = segmentToUdpPayload(emitSegment({ ...syn, srcPort: s.address().port }));
      bytesSent += datagram.length;
      s.send(datagram, port('udp-plain'), '127.0.0.1');
    }
    const floodBps = await window();
    const plainFlood = { bps: floodBps, syns: FLOOD, bytesSent, bytesBack, connections: connections - before };

    // WS upgrade hoarding, then honest WS clients from another host.
    const hoard = await Promise.all(Array.from({ length: FLOOD }, () => holdUpgrade(port('ws'), closers)));
    const hoardBps = await window();
    // Then authorized WS clients from another host, while the hoard still holds.
    const clients = Array.from({ length: HONEST_WS }, () => new MptcpClient({ transport: 'ws', server: { host: '127.0.0.1', port: port('ws') }, localAddresses: ['127.0.0.2'], keypair: clientKeys, serverPublicKey: serverKeys.publicKey, crypto, connectTimeoutMs: 10_000 }));
    closers.push(() => clients.forEach((c) => void c.close()));
    const honestWs = await Promise.all(clients.map((c) => established(c.connect())));
    const wsHoard = { bps: hoardBps, held: hoard.filter((r) => r === 'open').length, refused: hoard.filter((r) => r === 503).length, honestOk: honestWs.filter(Boolean).length, honestTried: HONEST_WS };
    return { baselineBps, plainFlood, wsHoard };
  } finally {
    for (const c of closers.reverse()) await c();
    await server.close();
  }
}

/** The MP_CAPABLE SYN of an honest client engine, with a tunnel request riding it. */
function honestSyn(seed: number, serverPort: number): ReturnType<typeof parseSegment> {
  const ep = new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
  const path = ep.openPath({ host: '127.0.0.9', port: 1 }, { host: '127.0.0.1', port: serverPort });
  ep.connect(0, { path, data: new TextEncoder().encode('CONNECT 127.0.0.1:80') });
  return parseSegment(ep.pollTransmit(0)!.bytes);
}

function bindUdp(host: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => {});
    s.bind(0, host, () => resolve(s));
  });
}

/** A bare WebSocket upgrade (RFC 6455 §4.1) from 127.0.0.9, then silence: resolves 'open' (101) or the refusal's status. */
function holdUpgrade(port: number, closers: Array<() => unknown>): Promise<'open' | number> {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
  sock.on('error', () => {});
  closers.push(() => sock.destroy());
  return new Promise((resolve) => {
    sock.once('connect', () => {
      sock.write('GET /mptun HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    sock.once('data', (d: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0);
      resolve(status === 101 ? 'open' : status);
    });
    sock.once('close', () => resolve(0));
  });
}

/** Whether the connection was established within 10 s; it is closed then (its download would only add load). */
function established(s: MptcpSocket): Promise<boolean> {
  s.on('error', () => {});
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 10_000);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
  });
}
