/**
 * RFC 8684 §3.6 through the node API: when the client drops one of its addresses, its
 * subflow there closes with a RST carrying MP_TCPRST, and the server's MptcpSocket reports
 * the peer's reason code and T flag on 'subflow-down'. Loopback aliases 127.0.0.2 and
 * 127.0.0.3 act as the client's two interfaces.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TcpRstReason, type PeerReset, type SubflowCloseReason } from '@mptun/core';
import type { MptcpSocket } from '../src/index.js';
import { newClient, startWorld, until, type World } from './support.js';

describe("the peer's MP_TCPRST on MptcpSocket 'subflow-down'", () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.close();
    world = null;
  });

  it('the client removes an address: the server hears the subflow closed with MP_TCPRST (administratively prohibited, T=0)', async () => {
    world = await startWorld(['udp']);
    const downs: Array<{ id: number; reason: SubflowCloseReason; peerReset?: PeerReset }> = [];
    let serverSock: MptcpSocket | null = null;
    world.server.on('connection', (s: MptcpSocket) => {
      serverSock = s;
      s.on('subflow-down', (d) => downs.push(d));
      s.resume();
    });
    const sock = newClient(world, 'udp').connect();
    sock.resume();
    await until(() => sock.subflows().filter((f) => f.state === 'established').length === 2, 'two subflows up');
    await until(() => serverSock !== null && serverSock.subflows().filter((f) => f.state === 'established').length === 2, 'the server sees both');
    sock.removeLocalAddress('127.0.0.3');
    await until(() => downs.length > 0, "the server's subflow-down");
    // The client's path manager closes the subflow of an address the application took away so.
    expect(downs[0]).toMatchObject({ reason: 'reset', peerReset: { reason: TcpRstReason.ADMIN_PROHIBITED, transient: false } });
  }, 30_000);
});
