/**
 * Path MTU discovery on sealed UDP paths through the Node API (RFC 8899): on loopback (MTU
 * 65536) the paths' segments grow past the 1200-byte floor to the search's default cap
 * (1472-byte datagrams: MSS 1380), and a transfer stays
 * hash-exact while they do; with pmtud: false they keep the floor. Linux only (the sockets
 * are kept from fragmenting through koffi); elsewhere the test says why it does not run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { noFragmentUnavailable, type MptcpSocket } from '../src/index.js';
import { newClient, pattern, readAll, serveBulk, sha256, startWorld, until, writeAll, type World } from './support.js';

const unavailable = noFragmentUnavailable();
if (unavailable) console.log(`path MTU discovery tests skipped: ${unavailable}`);

const SIZE = 16 * 1024 * 1024;
/** 1472-byte datagrams (the default cap) less 32 (session) and 60 (TCP header at its largest). */
const CAPPED_MSS = 1380;

const down = pattern(5, SIZE);
const up = pattern(6, SIZE);

/** Both ways at once; `serverSide` is serveBulk's, set up before the connection. */
async function bulk(sock: MptcpSocket, serverSide: Promise<{ bytes: number; hash: string }>[]): Promise<void> {
  const got = readAll(sock);
  writeAll(sock, up);
  expect(await got).toEqual({ bytes: SIZE, hash: sha256(down) });
  expect(await serverSide[0]).toEqual({ bytes: SIZE, hash: sha256(up) });
}

describe.skipIf(unavailable !== null)('path MTU discovery on sealed UDP (loopback)', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  it('grows both directions past 1200-byte datagrams, transfer hash-exact', async () => {
    world = await startWorld(['udp']);
    const serverSide = serveBulk(world, () => down);
    const sock = newClient(world, 'udp', { localAddresses: ['127.0.0.2'] }).connect();
    await until(() => sock.subflows().some((f) => f.state === 'established'), 'a subflow', 5000);
    const first = sock.subflows()[0]!.mssBytes;
    // The search takes a handful of round trips on loopback.
    await until(() => sock.subflows().every((f) => f.mssBytes === CAPPED_MSS), 'the path MSS to grow', 5000);
    await bulk(sock, serverSide);
    const server = [...world.server.driver.endpoint.connections()][0]!.subflows();
    console.log('client MSS', first, '→', sock.subflows().map((f) => f.mssBytes), 'server MSS', server.map((f) => f.mss));
    expect(server.every((f) => f.mss === CAPPED_MSS)).toBe(true);
  }, 60_000);

  it('pmtud: false keeps the floor', async () => {
    world = await startWorld(['udp']);
    const serverSide = serveBulk(world, () => down);
    const sock = newClient(world, 'udp', { localAddresses: ['127.0.0.2'], pmtud: false }).connect();
    await until(() => sock.subflows().some((f) => f.state === 'established'), 'a subflow', 5000);
    await bulk(sock, serverSide);
    expect(sock.subflows().every((f) => f.mssBytes <= 1200)).toBe(true);
  }, 60_000);
});
