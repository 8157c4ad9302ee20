/** The rig's mptun-client, in its own process: startClient from apps/client, as the CLI runs it. */
import { createLogger } from '@mptun/cli';
import { decodeKey, keypairFromPrivateKey, loadCrypto } from '@mptun/session';
import { startClient, type ClientConfig } from '../../../apps/client/src/index.js';
import { childArg, processSample, serveParent } from './ipc.js';

export interface ClientChildArg {
  privateKey: string;
  /** The rest of the client's config (server, serverKey, paths, pathServers, forwards, …). */
  config: Omit<ClientConfig, 'keypair' | 'crypto' | 'key'>;
}

const arg = childArg<ClientChildArg>();
const crypto = await loadCrypto();
const client = await startClient(
  { ...arg.config, keypair: keypairFromPrivateKey(crypto, decodeKey(arg.privateKey)), crypto, logLevel: 'silent' },
  { logger: createLogger({ level: 'silent' }) },
);
// Ready once every path is up, so measurements start from a settled tunnel.
await client.client.start();

serveParent(
  { socks: client.socks ?? null, forwards: client.forwards },
  {
    sample: () => ({
      ...processSample(),
      connections: client.client.openSockets().filter((s) => s.isBound).map((s) => ({
        id: s.connectionId,
        // Out-of-order bytes held at once at most (the receive buffer's peak).
        peakReceiveBuffered: s.connection.peakReceiveBuffered,
        subflows: s.subflows(),
      })),
    }),
  },
  () => client.close(),
);
