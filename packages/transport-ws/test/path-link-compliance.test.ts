/**
 * The shared PathLink suite (packages/core/test/transport/path-link-compliance.ts) against WebSocket paths on
 * loopback: 127.0.0.1 serves, 127.0.0.2 is the client's address.
 */
import type { PathLink } from '@mptun/core';
import { generateKeypair, keysEqual, loadCrypto } from '@mptun/session';
import { describePathLinkCompliance } from '../../core/test/transport/path-link-compliance.js';
import { wsTransport } from '../src/index.js';

const PING_MS = 200;
const crypto = await loadCrypto();
const serverKeys = generateKeypair(crypto);
const clientKeys = generateKeypair(crypto);

describePathLinkCompliance({
  name: 'ws',
  // A silent peer is declared gone within two ping intervals (heartbeat.ts).
  idleTimeoutMs: 2 * PING_MS,
  open: async () => {
    const server = wsTransport({ keypair: serverKeys, isAllowed: (k) => keysEqual(k, clientKeys.publicKey), crypto, pingIntervalMs: PING_MS });
    const listener = await server.listen({ host: '127.0.0.1', port: 0 });
    const serverPath = new Promise<PathLink>((resolve) => {
      listener.onPath = resolve;
    });
    const client = wsTransport({ keypair: clientKeys, serverPublicKey: serverKeys.publicKey, crypto, pingIntervalMs: PING_MS });
    const clientPath = await client.connect('127.0.0.2', `ws://127.0.0.1:${listener.local.port}/`);
    return {
      client: clientPath,
      server: await serverPath,
      cleanup: async () => {
        clientPath.close();
        await listener.close();
      },
    };
  },
});
