/** The rig's mptun-client, in its own process: startClient from apps/client, as the CLI runs it. */
import { decodeKey, keypairFromPrivateKey, loadCrypto } from '@mptun/session';
import { startClient, type ClientConfig } from '../../../apps/client/src/index.js';
import { childLogger, heartbeat } from './child-log.js';
import { childArg, processSample, serveParent } from './ipc.js';

export interface ClientChildArg {
  privateKey: string;
  /** The rest of the client's config (server, serverKey, paths, pathServers, forwards, …). */
  config: Omit<ClientConfig, 'keypair' | 'crypto' | 'key'>;
}

const arg = childArg<ClientChildArg>();
const crypto = await loadCrypto();
const log = childLogger('client');
const client = await startClient(
  {
    ...arg.config,
    keypair: keypairFromPrivateKey(crypto, decodeKey(arg.privateKey)),
    crypto,
    logLevel: log.level,
    // MPTUN_BENCH_PMTUD=0: sealed UDP keeps 1200-byte datagrams (the figures before path MTU discovery).
    ...(process.env['MPTUN_BENCH_PMTUD'] === '0' ? { pmtud: false } : {}),
  },
  { logger: log.logger },
);
// Ready once every path is up, so measurements start from a settled tunnel.
await client.client.start();
heartbeat(log.logger, () => {
  const sockets = client.client.openSockets().filter((s) => s.isBound);
  return {
    sockets: sockets.length,
    conns: sockets
      .map((s) => {
        const c = s.connection;
        const subflows = s.subflows().map((f) => `${f.localAddress.slice(-1)}${f.state[0]}${f.bytesInFlight}/${f.cwndBytes}r${f.rtoCount}`);
        // Data level (acknowledged, unacknowledged, readable) and the stream's two sides.
        const stream = `acked=${c.sndUna},unacked=${c.bufferedBytes},readable=${c.readableBytes},flowing=${s.readableFlowing},rlen=${s.readableLength},wlen=${s.writableLength},ended=${s.readableEnded}/${s.writableEnded}`;
        return `${s.connectionId}:${c.state}[${subflows.join(',')}]{${stream}}`;
      })
      .join(' '),
  };
});

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
    // The process alone, without listing every connection (memory figures with thousands
    // open); gcMemory after a full collection (needs --expose-gc in clientExecArgv).
    memory: () => processSample(),
    gcMemory: () => {
      globalThis.gc?.();
      return processSample();
    },
  },
  () => client.close(),
);
