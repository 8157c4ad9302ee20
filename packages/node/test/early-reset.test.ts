/**
 * A connection the peer resets in the same turn that creates it: the server's MptcpSocket is
 * destroyed with an error before 'connection' hands it to the application, which has had no
 * chance to listen for 'error'. That must not crash the process (it took the soak's server
 * down: an unhandled 'error' event), and the application never sees the dead socket.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ccFactory, Endpoint, minRttScheduler, parseSegment, SeededRandom, segmentToUdpPayload, TcpFlag, udpPayloadToSegment } from '@mptun/core';
import type { MptcpSocket } from '../src/index.js';
import { startWorld, until, type World } from './support.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 21;
const ROUNDS = 20;

/** One handshake by an honest client engine over `sock`, whose third ACK and first data are followed at once by its abort (MP_FASTCLOSE on a RST). */
async function handshakeThenReset(sock: dgram.Socket, serverPort: number, round: number): Promise<void> {
  const ep = new Endpoint({ random: new SeededRandom(seed + round), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
  const path = ep.openPath({ host: '127.0.0.2', port: sock.address().port }, { host: '127.0.0.1', port: serverPort }, { authenticated: false });
  const conn = ep.connect(0, { path });
  const syn = ep.pollTransmit(0)!.bytes;
  // The engine's TCP ports stand for the UDP ports (tcp-in-udp carries none): map them back.
  const { srcPort, dstPort } = parseSegment(syn);
  const synAck = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
  sock.send(segmentToUdpPayload(syn), serverPort, '127.0.0.1');
  ep.handleSegment(1, path, udpPayloadToSegment(await synAck, dstPort, srcPort));
  // The third ACK, a request, then the application gives up: MP_FASTCLOSE and RST follow.
  const burst: Uint8Array[] = [ep.pollTransmit(1)!.bytes];
  conn.write(new TextEncoder().encode('a tunnel request'));
  for (let t = ep.pollTransmit(1); t && burst.length < 16; t = ep.pollTransmit(1)) burst.push(t.bytes);
  conn.abort(1);
  for (let t = ep.pollTransmit(1); t && burst.length < 16; t = ep.pollTransmit(1)) burst.push(t.bytes);
  expect(burst.some((b) => (parseSegment(b).flags & TcpFlag.RST) !== 0), 'a RST in the burst').toBe(true);
  // Back to back: the server reads them all in one turn of its event loop.
  for (const b of burst) sock.send(segmentToUdpPayload(b), serverPort, '127.0.0.1');
}

describe('a connection reset before the application has it', () => {
  let world: World | null = null;
  const sockets: dgram.Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await world?.close();
    world = null;
  });

  it(`${ROUNDS} handshakes each reset in the turn that completes them: no crash, no dead socket handed out`, async () => {
    console.log('seed', seed);
    world = await startWorld(['udp-plain']);
    const port = world.ports['udp-plain']!;
    const handed: MptcpSocket[] = [];
    world.server.on('connection', (s: MptcpSocket) => {
      handed.push(s);
      s.on('error', () => {});
    });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const s = dgram.createSocket('udp4');
        sockets.push(s);
        await new Promise<void>((r) => s.bind(0, '127.0.0.2', () => r()));
        await handshakeThenReset(s, port, i);
      }
      // Every reset is processed: the server holds no connection afterwards.
      // (An 'error' thrown with no listener also stops its socket's 'close': stop waiting then.)
      await until(() => world!.server.connectionCount === 0 || uncaught.length > 0, 'the server to drop every reset connection');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    console.log(`handed to the application: ${handed.length} of ${ROUNDS} (each destroyed: ${handed.every((s) => s.destroyed)})`);
    expect(uncaught).toEqual([]);
    // A socket the application was given had its 'error' listener in time, or was alive then.
    for (const s of handed) expect(s.listenerCount('error')).toBeGreaterThan(0);
  }, 60_000);
});
