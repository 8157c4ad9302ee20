/** startServer(): the MPTCP listeners, the relay of each connection, limits, metrics, shutdown. */
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createLogger, keyFileModeWarning, readAuthorizedKeysFile, readPrivateKeyFile, TunnelStatus, type Logger } from '@mptun/tunnel-common';
import { BufferBudget, MptcpServer, MptunError, PlainProofVerifier, noFragmentUnavailable, type HandshakeDropReason, type ListenSpec, type MptcpSocket } from '@mptun/node';
import { PcapFile } from '@mptun/pcap';
import { decodeKey, encodeKey, keypairFromPrivateKey, loadCrypto, type CryptoBackend } from '@mptun/session';
import type { ServerConfig } from './config.js';
import { TargetPolicy, type Lookup } from './policy.js';
import { refuse, relay, type RelayContext } from './relay.js';
import { createAppRegistry, packageVersion, startMetricsEndpoint, SubflowCounters, type MetricsEndpoint } from '@mptun/local-http';
import { emptyStats, registerServerMetrics, type ServerStats } from './stats.js';
import { HandshakeFailures } from './handshake-failures.js';
import { tunnelBuffers } from './tunnel-memory.js';
import { startBalancerAgent, type BalancerAgent } from './balancer-agent.js';

export interface RunningServer {
  addresses: Array<{ transport: string; host: string; port: number }>;
  metricsUrl?: string;
  /** Where HAProxy's agent check is answered (`--balancer-agent`), its port as bound. */
  balancerAgent?: { host: string; port: number };
  publicKey: string;
  stats(): ServerStats;
  /**
   * Drain on demand (SIGUSR2, POST /drain): refuse new connections with DRAINING (the client
   * retries elsewhere through the balancer), announce no address to them, let the open ones
   * finish for up to graceMs (default config.drainMs), then cut what is left. The server
   * stays up with no connection, refusing, until close().
   */
  drain(graceMs?: number): Promise<void>;
  /** Stop accepting, let relays finish for up to graceMs (default config.drainMs), then close all. */
  close(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  crypto?: CryptoBackend;
  /** Name resolution for the policy (tests inject one). */
  lookup?: Lookup;
  /** Write every segment of every path to this pcap file (`--pcap`). */
  pcap?: string;
}

/** Who a connection belongs to for the per-client limits: its proven key, else its address. */
function clientId(socket: MptcpSocket): string {
  const key = socket.peerKey;
  return key ? `key ${encodeKey(key)}` : `address ${socket.remoteAddress ?? 'unknown'}`;
}

const defaultLookup: Lookup = async (host) => {
  const r = await dnsLookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
};

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  if (config.listen.some((l) => l.transport === 'udp-plain') && !config.insecurePlainUdp) {
    throw new MptunError('ERR_MPTUN_CONFIG', 'a udp-plain listener has no encryption or integrity; it opens only with insecurePlainUdp (--insecure-plain-udp)');
  }
  const crypto = opts.crypto ?? (await loadCrypto());
  const keypair = config.keyFile ? readPrivateKeyFile(crypto, config.keyFile) : keypairFromPrivateKey(crypto, decodeKey(config.privateKey ?? ''));
  const loose = config.keyFile ? keyFileModeWarning(config.keyFile) : null;
  if (loose) log.warn('private key file is readable by other users', { file: config.keyFile, problem: loose });
  const authorized = [...(config.authorizedKeys ?? []), ...(config.authorizedKeysFile ? readAuthorizedKeysFile(config.authorizedKeysFile) : [])];
  if (authorized.length === 0) log.warn('no client is authorized: every client will be refused until keys are added', { authorizedKeysFile: config.authorizedKeysFile });
  const tls = config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined;
  const listen: ListenSpec[] = config.listen.map((l) => ({ ...l, ...(l.transport === 'wss' && tls ? { tls } : {}) }));
  const policy = new TargetPolicy(config.allow, opts.lookup ?? defaultLookup);
  if (config.allow.some((r) => /^(0\.0\.0\.0\/0|\[?::\]?\/0)(:|$)/.test(r))) {
    log.info('a rule opens every address; loopback, link-local, private and this host\'s own addresses still need a rule of their own');
  }
  if (config.allow.length === 0) log.warn('no allow rules: every target will be refused');

  const stats = emptyStats();
  const subflows = new SubflowCounters();
  const authorizedHex = new Set(authorized.map((k) => Buffer.from(decodeKey(k)).toString('hex')));
  // The transports ask this for each path handshake; a refusal is counted and logged naming
  // the key (rate-limited), so an operator can add it. Other refusals come from the listeners.
  const failures = new HandshakeFailures(stats, log);
  const listed = (publicKey: Uint8Array): boolean => authorizedHex.has(Buffer.from(publicKey).toString('hex'));
  const isAllowed = (publicKey: Uint8Array): boolean => {
    const ok = listed(publicKey);
    if (!ok) failures.record('not-allowed', { clientKey: encodeKey(publicKey) });
    return ok;
  };
  // 'not-allowed' was recorded by isAllowed above, with the key.
  const onHandshakeFailure = (reason: HandshakeDropReason, source: { host: string; port: number }): void => {
    if (reason !== 'not-allowed') failures.record(reason, { source: `${source.host}:${source.port}` });
  };
  const ctx: RelayContext = { limits: config.limits, policy, stats, log };
  /** Per client key: its open connections, and the share of the buffer budget they hold together. */
  const perClient = new Map<string, { open: number; budget: BufferBudget }>();
  const targets = new Set<Socket>();
  const relays = new Set<Promise<void>>();

  const buffers = tunnelBuffers(config.limits);
  const capture = opts.pcap ? await PcapFile.open(opts.pcap) : null;
  if (capture) log.info('pcap: writing every segment', { file: capture.path });
  const server = new MptcpServer({
    listen,
    keypair,
    isAllowed,
    onHandshakeFailure,
    crypto,
    ...(config.replayStateFile ? { replayStateFile: config.replayStateFile } : {}),
    ...(config.announce ? { announce: config.announce } : {}),
    ...(config.announceListen === false ? { announceListenAddresses: false } : {}),
    ...(config.behindBalancer ? { behindBalancer: true } : {}),
    ...(config.pmtud === false ? { pmtud: false } : {}),
    ...(config.affinityToken !== undefined ? { affinityToken: config.affinityToken } : {}),
    ...(config.scheduler ? { scheduler: config.scheduler } : {}),
    ...(config.cc ? { congestionControl: config.cc } : {}),
    // A tunnel whose reader stops holds at most connectionBuffer per direction, the engine's
    // share and the relay's streams together (tunnel-memory.ts), and all of them together
    // about bufferBudget in the engine. A tunnel that moves gets more room in flight.
    engine: { ...buffers.engine, bufferBudget: config.limits.bufferBudgetBytes },
    ...(capture ? { onSegment: (s) => capture.add(s) } : {}),
  });
  server.on('warning', (e) => log.warn('server warning', { code: e.code, error: e.message }));
  server.on('path-stalled', (p) => log.info('client path stalled', { address: p.remoteAddress, port: p.remotePort, silentMs: Math.round(p.silentMs), cause: p.cause }));
  server.on('path-resumed', (p) => log.info('client path answers again', { address: p.remoteAddress, port: p.remotePort, stalledMs: Math.round(p.stalledMs) }));
  server.on('connection', (socket: MptcpSocket) => {
    stats.total++;
    subflows.track(socket);
    socket.on('error', (e) => log.debug('mptcp socket error', { error: e, conn: socket.connectionId }));
    // RFC 8684 §3.4.2: the client withdrew addresses (an interface of its went away).
    socket.on('subflow-up', (f: { remoteAddress?: string; remotePort?: number }) => log.info('client path up', { conn: socket.connectionId, address: f.remoteAddress, port: f.remotePort }));
    socket.on('address-removed', (e: { addressIds: number[] }) => log.info('client withdrew addresses', { conn: socket.connectionId, addressIds: e.addressIds }));
    // Per-client accounting by the client's key, as its path session proved it: one key
    // over many addresses is one client, and clients behind one address are not lumped
    // together. A plain path proves no key at this point, so there the address stands in.
    const client = clientId(socket);
    if (stats.draining) return refuse(ctx, socket, TunnelStatus.DRAINING, 'server draining, retry elsewhere');
    if (stats.open >= config.limits.maxConnections) return refuse(ctx, socket, TunnelStatus.BUSY, 'server connection limit reached');
    const mine = perClient.get(client) ?? { open: 0, budget: new BufferBudget(config.limits.clientBufferBudgetBytes) };
    if (mine.open >= config.limits.maxConnectionsPerClient) return refuse(ctx, socket, TunnelStatus.BUSY, 'per-client connection limit reached');
    stats.open++;
    mine.open++;
    perClient.set(client, mine);
    // One client's tunnels together hold at most its share of the server's buffer budget.
    socket.connection.shareBudget(mine.budget);
    let target: Socket | null = null;
    const p = relay(ctx, socket, (t) => {
      target = t;
      targets.add(t);
    }).finally(() => {
      stats.open--;
      if (--mine.open === 0) perClient.delete(client);
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
    await capture?.close();
    const err = e as NodeJS.ErrnoException;
    const where = config.listen.map((l) => `${l.transport}://${l.host}:${l.port}`).join(', ');
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (err.code === 'EADDRINUSE' || cause?.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(err.message)) throw new MptunError('ERR_MPTUN_ADDRESS_IN_USE', `cannot listen: address already in use (${err.message}); listen addresses: ${where}`);
    throw new MptunError('ERR_MPTUN_LISTEN', `cannot listen on ${where}: ${err.message}`);
  }
  const plainPorts = new Set(addresses.filter((a) => a.transport === 'udp-plain').map((a) => a.port));
  if (plainPorts.size > 0) {
    // A subflow tells its local port, not its transport: a WebSocket listener on the same
    // port number would be taken for plain.
    const shared = addresses.find((a) => a.transport !== 'udp-plain' && plainPorts.has(a.port));
    if (shared) {
      await server.close();
      throw new MptunError('ERR_MPTUN_CONFIG', `udp-plain and ${shared.transport} listeners share port ${shared.port}; give them different ports`);
    }
    ctx.plain = {
      isPlain: (socket) => plainPorts.has(socket.subflows()[0]?.localPort ?? -1),
      verifier: new PlainProofVerifier(crypto, keypair, listed),
    };
  }
  for (const a of addresses) {
    log.info('listening', { transport: a.transport, address: `${a.host}:${a.port}` });
    if (a.transport === 'udp-plain') log.warn('udp-plain listener: no encryption or integrity; clients prove their key in the tunnel request, but anyone on the path can read and take over their connections', { address: `${a.host}:${a.port}` });
  }
  if (config.affinityToken !== undefined) log.info('affinity token: WebSocket upgrades name this server for the reverse proxy', { token: config.affinityToken });
  const noPmtud = config.pmtud === false ? null : addresses.some((a) => a.transport === 'udp') ? noFragmentUnavailable() : null;
  if (noPmtud !== null) log.info('path MTU discovery off: sealed UDP paths keep 1200-byte datagrams', { reason: noPmtud });
  if (config.behindBalancer) log.info('behind a balancer: clients open further paths only to the announced addresses (C bit)');
  for (const a of server.announcedAddresses()) log.info('announcing address', { addressId: a.addressId, address: `${a.host.includes(':') ? new URL(`http://[${a.host}]/`).hostname : a.host}:${a.port}` });

  let metrics: MetricsEndpoint | null = null;
  if (config.metrics) {
    const registry = createAppRegistry('server', packageVersion(import.meta.url));
    registerServerMetrics(registry, stats, () => server.connections(), subflows, () => targets);
    try {
      // POST /drain on the metrics port: the loopback control an orchestrator can reach.
      const actions = { '/drain': () => (void running.drain(), `draining: ${stats.open} connections open, refusing new ones\n`) };
      metrics = await startMetricsEndpoint(registry, config.metrics.host, config.metrics.port, actions);
    } catch (e) {
      await server.close();
      await capture?.close();
      throw e; // MetricsListenError: names the address, code ERR_MPTUN_ADDRESS_IN_USE or ERR_MPTUN_LISTEN
    }
    log.info('metrics', { url: metrics.url });
  }

  let agent: BalancerAgent | null = null;
  if (config.balancerAgent) {
    try {
      agent = await startBalancerAgent(config.balancerAgent.host, config.balancerAgent.port, () => stats.draining);
    } catch (e) {
      await metrics?.close();
      await server.close();
      await capture?.close();
      const err = e as NodeJS.ErrnoException;
      const where = `${config.balancerAgent.host}:${config.balancerAgent.port}`;
      throw new MptunError(err.code === 'EADDRINUSE' ? 'ERR_MPTUN_ADDRESS_IN_USE' : 'ERR_MPTUN_LISTEN', `cannot listen for the balancer's agent check on ${where}: ${err.message}`);
    }
    log.info('balancer agent check', { address: `${agent.address.host}:${agent.address.port}` });
  }

  /** Resolves once every relay ended or graceMs passed, whichever is first. */
  const relaysEnded = async (graceMs: number): Promise<void> => {
    if (relays.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...relays]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  };

  let closing: Promise<void> | null = null;
  let draining: Promise<void> | null = null;
  const running: RunningServer = {
    addresses,
    ...(metrics ? { metricsUrl: metrics.url } : {}),
    ...(agent ? { balancerAgent: agent.address } : {}),
    publicKey: encodeKey(keypair.publicKey),
    stats: () => ({ ...stats, refused: { ...stats.refused }, handshakeFailures: { ...stats.handshakeFailures }, headerFailures: { ...stats.headerFailures } }),
    drain(graceMs = config.drainMs) {
      draining ??= (async () => {
        stats.draining = true;
        server.stopAnnouncing();
        log.info('draining on demand: refusing new connections', { open: stats.open, graceMs });
        const started = Date.now();
        await relaysEnded(graceMs);
        const cut = stats.open;
        if (closing) return; // close() ends the rest
        // Past the bound: what is still open is cut, its target first, then the tunnel.
        for (const t of targets) t.destroy();
        for (const s of server.connections()) s.destroy();
        await Promise.allSettled([...relays]);
        log.info('drained: no connection left; new ones are refused until the server is stopped', { ms: Date.now() - started, cut });
      })();
      return draining;
    },
    close(graceMs = config.drainMs) {
      closing ??= (async () => {
        await server.stopAccepting();
        log.info('draining', { open: stats.open, graceMs });
        await relaysEnded(graceMs);
        for (const t of targets) t.destroy();
        await server.close();
        await capture?.close();
        await Promise.allSettled([...relays]);
        if (metrics) await metrics.close();
        if (agent) await agent.close();
        log.info('stopped', { total: stats.total });
      })();
      return closing;
    },
  };
  return running;
}
