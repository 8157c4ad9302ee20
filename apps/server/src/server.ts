/** startServer(): the MPTCP listeners, the relay of each connection, limits, metrics, shutdown. */
import { lookup as dnsLookup } from 'node:dns/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createLogger, keyFileModeWarning, readAuthorizedKeysFile, readPrivateKeyFile, TunnelStatus, type Logger } from '@mptun/tunnel-common';
import { MptcpServer, MptunError, type ListenSpec, type MptcpSocket } from '@mptun/node';
import { decodeKey, encodeKey, keypairFromPrivateKey, loadCrypto, type CryptoBackend } from '@mptun/session';
import type { ServerConfig } from './config.js';
import { TargetPolicy, type Lookup } from './policy.js';
import { refuse, relay, type RelayContext } from './relay.js';
import { emptyStats, renderMetrics, type ServerStats } from './stats.js';

export interface RunningServer {
  addresses: Array<{ transport: string; host: string; port: number }>;
  metricsUrl?: string;
  publicKey: string;
  stats(): ServerStats;
  /** Stop accepting, let relays finish for up to graceMs (default config.drainMs), then close all. */
  close(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  crypto?: CryptoBackend;
  /** Name resolution for the policy (tests inject one). */
  lookup?: Lookup;
}

const defaultLookup: Lookup = async (host) => {
  const r = await dnsLookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
};

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const crypto = opts.crypto ?? (await loadCrypto());
  const keypair = config.keyFile ? readPrivateKeyFile(crypto, config.keyFile) : keypairFromPrivateKey(crypto, decodeKey(config.privateKey ?? ''));
  const loose = config.keyFile ? keyFileModeWarning(config.keyFile) : null;
  if (loose) log.warn('private key file is readable by other users', { file: config.keyFile, problem: loose });
  const authorized = [...(config.authorizedKeys ?? []), ...(config.authorizedKeysFile ? readAuthorizedKeysFile(config.authorizedKeysFile) : [])];
  if (authorized.length === 0) log.warn('no client is authorized: every client will be refused until keys are added', { authorizedKeysFile: config.authorizedKeysFile });
  const tls = config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined;
  const listen: ListenSpec[] = config.listen.map((l) => ({ ...l, ...(l.transport === 'wss' && tls ? { tls } : {}) }));
  const policy = new TargetPolicy(config.allow, opts.lookup ?? defaultLookup);
  if (config.allow.length === 0) log.warn('no allow rules: every target will be refused');

  const stats = emptyStats();
  const ctx: RelayContext = { limits: config.limits, policy, stats, log };
  const perClient = new Map<string, number>();
  const targets = new Set<Socket>();
  const relays = new Set<Promise<void>>();

  const server = new MptcpServer({ listen, keypair, authorizedKeys: authorized, crypto, ...(config.announce ? { announce: config.announce } : {}), ...(config.scheduler ? { scheduler: config.scheduler } : {}), ...(config.cc ? { congestionControl: config.cc } : {}) });
  server.on('connection', (socket: MptcpSocket) => {
    stats.total++;
    socket.on('error', (e) => log.debug('mptcp socket error', { error: e, conn: socket.connectionId }));
    // RFC 8684 §3.4.2: the client withdrew addresses (an interface of its went away).
    socket.on('subflow-up', (f: { remoteAddress?: string; remotePort?: number }) => log.info('client path up', { conn: socket.connectionId, address: f.remoteAddress, port: f.remotePort }));
    socket.on('address-removed', (e: { addressIds: number[] }) => log.info('client withdrew addresses', { conn: socket.connectionId, addressIds: e.addressIds }));
    // Per-client accounting: the socket does not expose the peer's static key, so a
    // client is identified by the address of its first path.
    const client = socket.remoteAddress ?? 'unknown';
    if (stats.open >= config.limits.maxConnections) return refuse(ctx, socket, TunnelStatus.BUSY, 'server connection limit reached');
    if ((perClient.get(client) ?? 0) >= config.limits.maxConnectionsPerClient) return refuse(ctx, socket, TunnelStatus.BUSY, 'per-client connection limit reached');
    stats.open++;
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    let target: Socket | null = null;
    const p = relay(ctx, socket, (t) => {
      target = t;
      targets.add(t);
    }).finally(() => {
      stats.open--;
      const n = (perClient.get(client) ?? 1) - 1;
      if (n > 0) perClient.set(client, n);
      else perClient.delete(client);
      for (const f of socket.subflows()) stats.retransmissionsClosed += f.retransmissions;
      if (target) targets.delete(target);
      relays.delete(p);
    });
    relays.add(p);
  });

  let addresses: RunningServer['addresses'];
  try {
    addresses = await server.listen();
  } catch (e) {
    await server.close();
    const err = e as NodeJS.ErrnoException;
    const where = config.listen.map((l) => `${l.transport}://${l.host}:${l.port}`).join(', ');
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (err.code === 'EADDRINUSE' || cause?.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(err.message)) throw new MptunError('ERR_MPTUN_ADDRESS_IN_USE', `cannot listen: address already in use (${err.message}); listen addresses: ${where}`);
    throw new MptunError('ERR_MPTUN_LISTEN', `cannot listen on ${where}: ${err.message}`);
  }
  for (const a of addresses) log.info('listening', { transport: a.transport, address: `${a.host}:${a.port}` });
  for (const a of server.announcedAddresses()) log.info('announcing address', { addressId: a.addressId, address: `${a.host.includes(':') ? new URL(`http://[${a.host}]/`).hostname : a.host}:${a.port}` });

  let metricsServer: HttpServer | null = null;
  let metricsUrl: string | undefined;
  if (config.metrics) {
    const m = createHttpServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(stats, server.connections()));
      } else res.writeHead(404).end('not found\n');
    });
    try {
      await new Promise<void>((resolve, reject) => {
        m.once('error', reject);
        m.listen(config.metrics!.port, config.metrics!.host, () => resolve());
      });
    } catch (e) {
      await server.close();
      throw new MptunError((e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'ERR_MPTUN_ADDRESS_IN_USE' : 'ERR_MPTUN_LISTEN', `metrics endpoint ${config.metrics.host}:${config.metrics.port}: ${(e as Error).message}`);
    }
    metricsServer = m;
    const a = m.address();
    const port = typeof a === 'object' && a ? a.port : config.metrics.port;
    metricsUrl = `http://${config.metrics.host.includes(':') ? `[${config.metrics.host}]` : config.metrics.host}:${port}/metrics`;
    log.info('metrics', { url: metricsUrl });
  }

  let closing: Promise<void> | null = null;
  return {
    addresses,
    ...(metricsUrl ? { metricsUrl } : {}),
    publicKey: encodeKey(keypair.publicKey),
    stats: () => ({ ...stats, refused: { ...stats.refused } }),
    close(graceMs = config.drainMs) {
      closing ??= (async () => {
        await server.stopAccepting();
        log.info('draining', { open: stats.open, graceMs });
        if (relays.size > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([Promise.allSettled([...relays]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
          clearTimeout(timer);
        }
        for (const t of targets) t.destroy();
        await server.close();
        await Promise.allSettled([...relays]);
        if (metricsServer) {
          metricsServer.closeAllConnections();
          await new Promise<void>((r) => metricsServer!.close(() => r()));
        }
        log.info('stopped', { total: stats.total });
      })();
      return closing;
    },
  };
}
