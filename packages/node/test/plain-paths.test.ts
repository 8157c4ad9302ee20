/**
 * Plain (tcp-in-udp) paths: each is a UDP socket of one connection's own, carrying one
 * subflow. A plain connection over two local addresses joins over both, survives losing
 * either, and an abort's RST with MP_FASTCLOSE leaves before its paths close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MptcpClient, MptcpSocket } from '../src/index.js';
import { newClient, pattern, readAll, serveBulk, sha256, startWorld, writeAll, type World } from './support.js';

/** Waits for `cond`, polling; fails with `what` after timeoutMs. */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Makes the client's path from `host` a black hole both ways, as a cut link would. */
function cutPath(client: MptcpClient, sock: MptcpSocket, host: string): void {
  const sf = sock.connection.subflows().find((f) => client.driver.endpoint.pathInfo(f.pathId)?.local.host === host);
  const link = sf ? client.driver.linkOf(sf.pathId) : undefined;
  if (!link) throw new Error(`no path from ${host}`);
  link.send = () => true;
  const deliver = link.onSegment;
  link.onSegment = deliver ? () => {} : null;
}

describe('plain paths', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  for (const lost of ['127.0.0.2', '127.0.0.3']) {
    it(`a plain connection joins over both --paths and survives losing ${lost}`, async () => {
      world = await startWorld(['udp-plain']);
      const size = 8_000_000;
      const down = pattern(5, size);
      const serverSide = serveBulk(world, () => down);
      const client = newClient(world, 'udp-plain');
      const sock = client.connect();
      const got = readAll(sock);
      await until(() => sock.isBound && sock.subflows().filter((f) => f.state === 'established').length === 2, 'two established subflows');
      expect(sock.subflows().map((f) => f.localAddress).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
      const up = pattern(6, size);
      writeAll(sock, up);
      await until(() => sock.bytesAcknowledged > 1_000_000, 'a first megabyte acknowledged');
      cutPath(client, sock, lost);
      expect(await got).toEqual({ bytes: size, hash: sha256(down) });
      expect(await serverSide[0]).toEqual({ bytes: size, hash: sha256(up) });
      const kept = sock.subflows().find((f) => f.localAddress !== lost)!;
      expect(kept.bytesSent, 'the remaining path carried data').toBeGreaterThan(0);
    }, 60_000);
  }

  it('destroying a plain connection sends MP_FASTCLOSE before its paths close', async () => {
    world = await startWorld(['udp-plain']);
    const serverSock = new Promise<MptcpSocket>((resolve) => world!.server.once('connection', resolve));
    const client = newClient(world, 'udp-plain', { localAddresses: ['127.0.0.2'] });
    const sock = client.connect();
    sock.write('hello');
    const peer = await serverSock;
    peer.resume();
    await until(() => sock.bytesAcknowledged === 5, 'the first bytes acknowledged');
    const ended = new Promise<string>((resolve) => peer.once('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error')));
    sock.destroy();
    // The server hears of the abort only through that segment: nothing else would end it.
    expect(await ended).toBe('ERR_MPTUN_RESET');
  });
});
