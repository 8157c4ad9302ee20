/**
 * Issue 14 item 2: on a udp-plain listener a SYN's source may be spoofed, so data riding it
 * (the tunnel request) waits for the third ACK. 1,000 SYNs carrying data that never complete
 * give the application no connection at all (nothing would be dialled); an honest plain
 * client's first bytes still arrive.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ccFactory, emitSegment, Endpoint, minRttScheduler, parseSegment, SeededRandom, segmentToUdpPayload, TcpFlag, udpPayloadToSegment } from '@mptun/core';
import type { MptcpSocket } from '../src/index.js';
import { newClient, startWorld, until, type World } from './support.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 14;
const request = new TextEncoder().encode('CONNECT 127.0.0.1:9 and more of a tunnel request');

/** An honest client's MP_CAPABLE SYN with `request` riding it. */
function synWithData(serverPort: number): Uint8Array {
  const ep = new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
  const path = ep.openPath({ host: '127.0.0.2', port: 1 }, { host: '127.0.0.1', port: serverPort });
  ep.connect(0, { path, data: request });
  return ep.pollTransmit(0)!.bytes;
}

/** Sends the SYN from `count` fresh sockets on 127.0.0.5, batch by batch; resolves with how many got a SYN/ACK. */
async function spoofFlood(serverPort: number, count: number): Promise<number> {
  const template = parseSegment(synWithData(serverPort));
  let answered = 0;
  for (let done = 0; done < count; ) {
    const batch = Math.min(100, count - done);
    const sockets = await Promise.all(
      Array.from({ length: batch }, () => new Promise<dgram.Socket>((resolve) => {
        const s = dgram.createSocket('udp4');
        s.bind(0, '127.0.0.5', () => resolve(s));
      })),
    );
    const replies = sockets.map((s) => new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 3_000);
      s.on('message', (msg, rinfo) => {
        const seg = parseSegment(udpPayloadToSegment(msg, rinfo.port, s.address().port));
        if ((seg.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) {
          clearTimeout(t);
          resolve(true);
        }
      });
    }));
    for (const s of sockets) {
      s.send(segmentToUdpPayload(emitSegment({ ...template, srcPort: s.address().port, dstPort: serverPort })), serverPort, '127.0.0.1');
    }
    answered += (await Promise.all(replies)).filter(Boolean).length;
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    done += batch;
  }
  return answered;
}

describe('SYN data on udp-plain waits for the handshake', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  it('1,000 SYNs with data that never complete give the server no connection; an honest one still does', async () => {
    console.log('seed', seed);
    world = await startWorld(['udp-plain']);
    const connections: MptcpSocket[] = [];
    world.server.on('connection', (s) => connections.push(s));
    const answered = await spoofFlood(world.ports['udp-plain']!, 1000);
    console.log(`spoofed SYNs answered with SYN/ACK: ${answered} of 1000; connections the server reported: ${connections.length}`);
    expect(answered, 'the server processed the SYNs').toBeGreaterThan(900);
    expect(connections).toHaveLength(0);

    const client = newClient(world, 'udp-plain', { localAddresses: ['127.0.0.2'] });
    const sock = client.connect();
    sock.write(Buffer.from(request));
    await until(() => connections.length === 1, 'the honest connection');
    const peer = connections[0]!;
    const got: Buffer[] = [];
    peer.on('data', (d: Buffer) => got.push(d));
    await until(() => Buffer.concat(got).length >= request.length, 'the honest request');
    expect(new Uint8Array(Buffer.concat(got))).toEqual(request);
  }, 60_000);
});
