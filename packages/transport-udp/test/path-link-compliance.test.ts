/**
 * The shared PathLink suite (packages/core/test/transport/path-link-compliance.ts) against sealed and plain UDP
 * paths on loopback aliases: 127.0.0.1 serves, 127.0.0.2 is the client's address.
 */
import type { PathLink } from '@mptun/core';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { describePathLinkCompliance, type OpenedPath } from '../../core/test/transport/path-link-compliance.js';
import { udpTransport, type UdpTransportInit } from '../src/index.js';

const IDLE_MS = 1_000;
const crypto = await loadCrypto();
const serverKeys = generateKeypair(crypto);
const clientKeys = generateKeypair(crypto);

async function openUdp(serverInit: UdpTransportInit, clientInit: UdpTransportInit): Promise<OpenedPath> {
  const listener = await udpTransport(serverInit).listen({ host: '127.0.0.1', port: 0 });
  const serverPath = new Promise<PathLink>((resolve) => {
    listener.onPath = resolve;
  });
  const clientPath = await udpTransport(clientInit).connect('127.0.0.2', listener.local);
  // Plain paths exist on the server once the first datagram arrives: send one (a bare ACK).
  if (clientInit.mode === 'plain') {
    const hello = new Uint8Array(20);
    new DataView(hello.buffer).setUint16(0, clientPath.local.port);
    new DataView(hello.buffer).setUint16(2, clientPath.remote.port);
    hello[12] = 5 << 4;
    hello[13] = 0x10;
    clientPath.send(hello);
  }
  const server = await serverPath;
  server.onSegment = () => {}; // the plain hello, if any, is not part of a case
  return {
    client: clientPath,
    server,
    cleanup: async () => {
      clientPath.close();
      await listener.close();
    },
  };
}

const timings = { keepaliveMs: IDLE_MS / 5, idleTimeoutMs: IDLE_MS };

describePathLinkCompliance({
  name: 'udp (sealed)',
  idleTimeoutMs: IDLE_MS,
  open: () =>
    openUdp(
      { crypto, keypair: serverKeys, authorizedKeys: [encodeKey(clientKeys.publicKey)], ...timings },
      { crypto, keypair: clientKeys, serverPublicKey: serverKeys.publicKey, ...timings },
    ),
  findings: {
    backpressure:
      'UdpPath never calls onDrain: send() drops past a 256 KiB socket queue, and on loopback the kernel takes every datagram, so no refusal is seen either',
  },
});

describePathLinkCompliance({
  name: 'udp-plain (tcp-in-udp)',
  idleTimeoutMs: IDLE_MS,
  open: () => openUdp({ mode: 'plain', ...timings }, { mode: 'plain', ...timings }),
  findings: {
    idle: 'plain paths send no keepalives (no session): the listener drops a quiet path after idleTimeoutMs; only the engine’s own traffic keeps it',
    backpressure:
      'UdpPath never calls onDrain: send() drops past a 256 KiB socket queue, and on loopback the kernel takes every datagram, so no refusal is seen either',
  },
});
