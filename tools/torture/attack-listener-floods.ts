/**
 * Listener floods (issue 14 items 2–5) against the attack rig's mptun-server, which listens
 * on sealed UDP (the honest download's path), udp-plain and WebSocket at once. The flooders
 * run in this process, the server in its own:
 *   - plain SYN flood: MP_CAPABLE SYNs carrying a tunnel request to the sink, from 1,100
 *     distinct ports of one host (127.0.0.9) on the plain listener, never completed. No
 *     connection may reach the app and no byte may reach the sink; the bytes the flooder
 *     gets back per byte sent (reflection) may not exceed 1.
 *   - WS upgrade hoarding: 1,100 upgrades from 127.0.0.9 held open without a key exchange;
 *     then 28 authorized WS clients from 127.0.0.2 must all get a path.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { ccFactory, emitSegment, Endpoint, minRttScheduler, parseSegment, SeededRandom, segmentToUdpPayload } from '@mptun/core';
import { MptcpClient, type MptcpSocket } from '@mptun/node';
import { loadCrypto } from '@mptun/session';
import { encodeTunnelRequest } from '@mptun/tunnel-common';
import type { HostPort } from '../bench/rig/index.js';
import type { AttackRig } from './attack-rig.js';

const FLOODERS = 1100;
const HONEST_WS = 28;
const FLOOD_HOST = '127.0.0.9';

export interface PlainFloodCounts {
  syns: number;
  bytesSent: number;
  bytesBack: number;
  /** Bytes back per byte sent, over the window. */
  reflection: number;
  /** Connections the server's app reported (its `total`) and the sink accepted meanwhile. */
  appConnections: number;
  sinkConnections: number;
}

/** The SYN flood on the plain listener; `during` is called after `seconds`, while the flooders still listen. */
export async function plainSynFlood(rig: AttackRig, seconds: number, seed: number, during: () => Promise<void>): Promise<PlainFloodCounts> {
  const totalBefore = (await rig.serverSample()).stats.total;
  const sinkBefore = rig.sink.accepted;
  const syn = tunnelSyn(seed, rig.plainAddress.port, rig.sink.address);
  const flooders = await Promise.all(Array.from({ length: FLOODERS }, () => bindUdp(FLOOD_HOST)));
  try {
    let bytesSent = 0;
    let bytesBack = 0;
    for (const s of flooders) {
      s.on('message', (m: Buffer) => (bytesBack += m.length));
      const datagram = segmentToUdpPayload(emitSegment({ ...syn, srcPort: s.address().port }));
      bytesSent += datagram.length;
      s.send(datagram, rig.plainAddress.port, rig.plainAddress.host);
    }
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await during();
    const totalAfter = (await rig.serverSample()).stats.total;
    return { syns: FLOODERS, bytesSent, bytesBack, reflection: bytesBack / bytesSent, appConnections: totalAfter - totalBefore, sinkConnections: rig.sink.accepted - sinkBefore };
  } finally {
    for (const s of flooders) s.close();
  }
}

export interface HoardCounts {
  held: number;
  refused: number;
  honestOk: number;
  honestTried: number;
  /** Why honest clients did not get in, each reason once with its count. */
  honestFailures: string[];
}

/** Upgrades held on the WebSocket listener; `during` is called after `seconds`, then honest WS clients try while the hoard still holds. */
export async function hoardUpgrades(rig: AttackRig, seconds: number, during: () => Promise<void>): Promise<HoardCounts> {
  const sockets: net.Socket[] = [];
  const clients: MptcpClient[] = [];
  try {
    const hoard = await Promise.all(Array.from({ length: FLOODERS }, () => holdUpgrade(rig.wsAddress, sockets)));
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await during();
    const crypto = await loadCrypto();
    for (let i = 0; i < HONEST_WS; i++) {
      clients.push(new MptcpClient({ transport: 'ws', server: { host: rig.wsAddress.host, port: rig.wsAddress.port }, localAddresses: ['127.0.0.2'], keypair: rig.keys.client, serverPublicKey: rig.keys.server.publicKey, crypto, connectTimeoutMs: 10_000 }));
    }
    const honest = await Promise.all(clients.map((c) => established(c.connect())));
    const failures = new Map<string, number>();
    for (const why of honest) if (why !== null) failures.set(why, (failures.get(why) ?? 0) + 1);
    return {
      held: hoard.filter((r) => r === 'open').length,
      refused: hoard.filter((r) => r === 503).length,
      honestOk: honest.filter((why) => why === null).length,
      honestTried: HONEST_WS,
      honestFailures: [...failures].map(([why, n]) => `${n}× ${why}`),
    };
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** An honest client engine's MP_CAPABLE SYN with a tunnel request to `target` riding it. */
function tunnelSyn(seed: number, serverPort: number, target: HostPort): ReturnType<typeof parseSegment> {
  const ep = new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
  const path = ep.openPath({ host: FLOOD_HOST, port: 1 }, { host: '127.0.0.1', port: serverPort });
  ep.connect(0, { path, data: encodeTunnelRequest(target) });
  return parseSegment(ep.pollTransmit(0)!.bytes);
}

function bindUdp(host: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => {});
    s.bind(0, host, () => resolve(s));
  });
}

/** A bare WebSocket upgrade (RFC 6455 §4.1) from FLOOD_HOST, then silence: resolves 'open' (101) or the refusal's status. */
function holdUpgrade(server: HostPort, sockets: net.Socket[]): Promise<'open' | number> {
  const sock = net.connect({ host: server.host, port: server.port, localAddress: FLOOD_HOST });
  sock.on('error', () => {});
  sockets.push(sock);
  return new Promise((resolve) => {
    sock.once('connect', () => {
      sock.write(`GET /mptun HTTP/1.1\r\nHost: ${server.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.once('data', (d: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0);
      resolve(status === 101 ? 'open' : status);
    });
    sock.once('close', () => resolve(0));
  });
}

/** null when the connection was established within 10 s (it is closed then: its download would only add load), else why not. */
function established(s: MptcpSocket): Promise<string | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.destroy();
      resolve('not established within 10 s');
    }, 10_000);
    s.once('error', (e: Error & { code?: string }) => {
      clearTimeout(t);
      resolve(`${e.code ?? 'error'}: ${e.message}`);
    });
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(null);
    });
  });
}
