/**
 * startClient: wires a configuration into a running client: one MptcpClient (its paths to
 * the server), a SOCKS5 proxy and port forwards that open tunnel connections through it,
 * interface watching for `--path auto`, and the status server when asked for.
 */
import { isIP } from 'node:net';
import { MptcpClient, MptunError, checkClientOptions, checkDeviceBinding, deviceBindingUnavailable, noFragmentUnavailable, parseHostPort, type UncheckedClientOptions, type MptcpSocket, type PathSpec, type ProfileName, type TransportKind, type WatchOptions } from '@mptun/node';
import { decodeKey, loadCrypto, type Keypair } from '@mptun/session';
import { PcapFile } from '@mptun/pcap';
import type { ClientConfig } from './config.js';
import { EARLY_DATA_WAIT_MS } from './early-data.js';
import { parseForward, startForward, type RunningForward } from './forward.js';
import { createLogger, keyFileModeWarning, readPrivateKeyFile, type Logger } from '@mptun/tunnel-common';
import { checkLocalAddress, resolvePathAddress } from './paths.js';
import { startSocksServer, type SocksServer } from './socks-server.js';
import { raceTransports } from './transport-race.js';
import { openTunnel, type TunnelOpener } from './tunnel.js';
import { parseListenAddress } from './listen.js';
import { ConnectionRegistry, formatTarget } from './connections.js';
import { startStatusServer } from './status/server.js';
import { StatusTracker, type TrackedClient } from './status/tracker.js';
import { CLIENT_VERSION } from './version.js';
import { ClientMetrics } from './metrics.js';
import { plainProofSealer } from './plain-proof.js';
import { isLoopbackName } from '@mptun/local-http';

export interface RunningClient {
  socks?: { host: string; port: number };
  forwards: Array<{ bind: { host: string; port: number }; target: { host: string; port: number } }>;
  statusUrl?: string;
  metricsUrl?: string;
  client: MptcpClient;
  /** The tunnel connections open now (what the status page lists). */
  connections: ConnectionRegistry;
  close(): Promise<void>;
}

export interface StartClientExtras {
  logger?: Logger;
  /** `--path auto` only: the interface source and timing (tests inject these). */
  interfaces?: WatchOptions;
}

export const DEFAULT_SOCKS = '127.0.0.1:1080';
export const DEFAULT_WS_PATH = '/mptun';

/** Where WebSocket paths go: `wsUrl`, else the server's host and port with the default path. */
export function wsEndpoint(config: ClientConfig, server: { host: string; port: number }): { kind: 'ws' | 'wss'; server: { host: string; port: number }; path: string } {
  if (!config.wsUrl) return { kind: config.transport === 'wss' ? 'wss' : 'ws', server, path: DEFAULT_WS_PATH };
  const url = new URL(config.wsUrl);
  const kind = url.protocol === 'wss:' ? 'wss' : 'ws';
  const port = url.port ? Number(url.port) : kind === 'wss' ? 443 : 80;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { kind, server: { host, port }, path: url.pathname || DEFAULT_WS_PATH };
}

export async function startClient(config: ClientConfig, extras: StartClientExtras = {}): Promise<RunningClient> {
  const log = extras.logger ?? createLogger({ level: config.logLevel ?? 'info', format: config.logFormat ?? 'text' });
  const startedAt = Date.now();
  if (!config.server) throw new MptunError('ERR_MPTUN_CONFIG', 'no server given: set "server" in the config or pass --server host:port');
  const server = parseHostPort(config.server);
  const transport = config.transport ?? 'udp';
  const crypto = config.crypto ?? (await loadCrypto());
  let keypair: Keypair | undefined = config.keypair;
  if (!keypair && config.key) {
    keypair = readPrivateKeyFile(crypto, config.key);
    const loose = keyFileModeWarning(config.key);
    if (loose) log.warn('private key file is readable by other users', { file: config.key, problem: loose });
  }
  let serverPublicKey: Uint8Array | undefined;
  if (config.serverKey) serverPublicKey = decodeKey(config.serverKey);
  if (transport !== 'udp-plain') {
    if (!keypair) throw new MptunError('ERR_MPTUN_CONFIG', 'no client key: set "key" to a private key file (mptun-client keygen makes one) or pass --key FILE');
    if (!serverPublicKey) throw new MptunError('ERR_MPTUN_CONFIG', 'no server key: set "serverKey" or pass --server-key BASE64');
  }

  const stops: Array<() => Promise<void> | void> = [];
  const closeAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn('shutdown step failed', { error: err });
      }
    }
  };

  try {
    // Paths: addresses, interface names, or "auto": the client's interface watcher follows
    // the machine's interfaces and its path managers add and withdraw their addresses.
    const wantsAuto = (config.paths ?? []).includes('auto');
    if (wantsAuto && config.paths!.length > 1) throw new MptunError('ERR_MPTUN_CONFIG', '"auto" as a path must be the only path');
    const locals = wantsAuto ? [] : (config.paths ?? []).map((p) => resolvePathAddress(p));
    const backups = (config.backup ?? []).map((p) => resolvePathAddress(p));
    // A path address this machine does not have fails now, naming it, not at debug level later.
    if (!wantsAuto) await Promise.all([...locals, ...backups].map((a) => checkLocalAddress(a)));
    const names: Record<string, string> = {};
    [...(wantsAuto ? [] : (config.paths ?? [])), ...(config.backup ?? [])].forEach((p) => {
      if (!isIP(p)) names[resolvePathAddress(p)] = p;
    });
    const devices = deviceBindings(names, config.bindDevice !== false, log);
    // `--path auto`: each interface found binds its paths the same way.
    const bindWatched = wantsAuto && autoDeviceBinding(config.bindDevice !== false, log);
    // A device that cannot be bound (an older kernel without root) stops the start, naming it.
    for (const [address, device] of Object.entries(devices ?? {})) checkDeviceBinding(address, device);
    logPathMtuDiscovery(transport, config.pmtud !== false, log);

    // Paths given by name or address follow their interface too: one that goes down (libuv
    // lists only running interfaces) or loses its address is withdrawn at once, with
    // REMOVE_ADDR, instead of waiting for the path to fall silent, and it comes back with it.
    const followed = wantsAuto ? [] : [...locals, ...backups].filter((a) => a !== '0.0.0.0' && a !== '::');
    const ws = wsEndpoint(config, server);
    const common = {
      ...(keypair ? { keypair } : {}),
      ...(serverPublicKey ? { serverPublicKey } : {}),
      crypto,
      wsPath: ws.path,
      ...(config.tlsInsecure ? { tlsInsecure: true } : {}),
      ...(config.pmtud === false ? { pmtud: false } : {}),
      ...(config.profile ? { profile: config.profile as ProfileName } : {}),
      ...(config.scheduler ? { scheduler: config.scheduler } : {}),
      ...(config.cc ? { congestionControl: config.cc } : {}),
      ...(config.connectTimeoutMs ? { connectTimeoutMs: config.connectTimeoutMs } : {}),
      ...(config.pathManager ? { pathManager: config.pathManager } : {}),
      ...(wantsAuto ? { watchInterfaces: { includeInternal: false, ...extras.interfaces }, bindWatchedInterfaces: bindWatched } : {}),
      ...(followed.length > 0 ? { watchInterfaces: { addresses: followed, includeInternal: true, includeLinkLocal: true, ...extras.interfaces } } : {}),
      ...(devices ? { devices } : {}),
    };
    let options: UncheckedClientOptions;
    if (transport === 'auto' && config.pathServers && Object.keys(config.pathServers).length > 0) {
      throw new MptunError('ERR_MPTUN_CONFIG', 'pathServers cannot be combined with transport "auto"');
    }
    if (transport === 'auto') {
      const raceLocals = locals.length > 0 ? locals : ['0.0.0.0'];
      const { paths, results } = await raceTransports(raceLocals, backups, { base: common, udpServer: server, wsServer: ws.server, wsKind: ws.kind });
      for (const r of results) {
        if (r.up) log.info('path transport chosen', { path: r.local, transport: r.transport });
        else log.warn('path: neither transport answered yet; will keep trying', { path: r.local, transport: r.transport });
      }
      options = { ...common, transport: 'udp', server, paths };
    } else {
      const kind: TransportKind = transport;
      // Paths with a server of their own become PathSpecs; the rest share `server`.
      const own = pathServerSpecs(config.pathServers, locals, backups);
      const shared = (list: string[]): string[] => list.filter((a) => !own.some((p) => p.local === a));
      options = {
        ...common,
        transport: kind,
        server: kind === 'ws' || kind === 'wss' ? (config.wsUrl ? ws.server : server) : server,
        ...(shared(locals).length > 0 ? { localAddresses: shared(locals) } : {}),
        ...(shared(backups).length > 0 ? { backupAddresses: shared(backups) } : {}),
        ...(own.length > 0 ? { paths: own } : {}),
      };
    }
    const capture = config.pcap ? await PcapFile.open(config.pcap) : null;
    const client = new MptcpClient(checkClientOptions(capture ? { ...options, onSegment: (s) => capture.add(s) } : options));
    stops.unshift(() => client.close()); // the client closes last
    if (capture) {
      stops.unshift(() => capture.close()); // after the client: its last segments are in the file
      log.info('pcap: writing every segment', { file: capture.path });
    }
    // A path toward a server that is down is retried about every second: its failure is
    // logged once per outage (and again if the reason changes), not at every retry.
    const lastFailure = new Map<string, string>();
    client.on('path-up', (p: { localAddress: string }) => {
      lastFailure.delete(p.localAddress);
      log.info('path up', { path: p.localAddress });
    });
    client.on('path-down', (p) => log.warn('path down', { path: p.localAddress, server: p.remoteAddress, reason: p.reason }));
    client.on('path-error', (p: { localAddress: string; remoteAddress: string; error: unknown }) => {
      const why = p.error instanceof Error ? p.error.message : String(p.error);
      if (lastFailure.get(p.localAddress) === why) return;
      lastFailure.set(p.localAddress, why);
      log.warn('path could not be opened', { path: p.localAddress, server: p.remoteAddress, error: p.error });
    });
    client.on('interface', (c: { type: string; name: string; address: string }) => {
      if (c.type === 'added') log.info('interface appeared', { interface: c.name, address: c.address });
      else log.warn('interface went away', { interface: c.name, address: c.address });
    });
    if (wantsAuto) log.info('following interfaces', { source: client.interfaceSource });
    else if (followed.length > 0) log.info('following the paths\' interfaces', { source: client.interfaceSource, addresses: followed });
    if (transport !== 'udp-plain') void client.start();

    const metrics = config.metrics ? new ClientMetrics(client) : null;
    const plainSeal = transport === 'udp-plain' ? plainProofSealer(crypto, keypair, serverPublicKey, log) : undefined;
    const openTunnelOf: TunnelOpener = (target, early) =>
      openTunnel(client, target, {
        replyTimeoutMs: (config.connectTimeoutMs ?? 10_000) + 5_000,
        logger: log,
        // When each subflow of a connection carries data (a join: once its third ACK is acknowledged).
        onSocket: (socket) => socket.on('subflow-up', (f) => log.debug('subflow up', { conn: socket.connectionId, path: f.localAddress, server: `${f.remoteAddress}:${f.remotePort}`, srttMs: f.srttMs })),
        ...(plainSeal ? { seal: plainSeal } : {}),
        ...(early ? { early } : {}),
      });
    const open = metrics ? metrics.count(openTunnelOf) : openTunnelOf;

    const connections = new ConnectionRegistry(log);
    const listeners: string[] = [];
    const running: RunningClient = { forwards: [], client, connections, close: closeAll };
    const socksAddr = config.socks === undefined ? (config.forwards?.length ? null : DEFAULT_SOCKS) : config.socks;
    if (socksAddr) {
      const where = parseListenAddress(socksAddr, 'socks');
      if (!config.socksUser && !isLoopbackName(where.host)) {
        log.warn('SOCKS5 proxy without credentials beyond loopback: anyone who can reach this address can use the tunnel', { address: where.host, fix: 'set socksUser, with socksPass in the config file, --socks-pass-file or MPTUN_SOCKS_PASS' });
      }
      const socks: SocksServer = await startSocksServer({
        host: where.host,
        port: where.port,
        open,
        logger: log,
        connections,
        ...(config.socksUser && config.socksPass ? { auth: { username: config.socksUser, password: config.socksPass } } : {}),
        ...(config.handshakeTimeoutMs ? { handshakeTimeoutMs: config.handshakeTimeoutMs } : {}),
        ...(config.socksEarlyReply ? { earlyReplyWaitMs: config.earlyDataWaitMs ?? EARLY_DATA_WAIT_MS } : {}),
      });
      stops.push(() => socks.close());
      running.socks = { host: socks.host, port: socks.port };
      listeners.push(`socks ${formatTarget(socks)}`);
      log.info('SOCKS5 proxy listening', { address: formatTarget(socks) });
    }
    for (const spec of config.forwards ?? []) {
      const f: RunningForward = await startForward(parseForward(spec), open, log, connections, config.earlyDataWaitMs);
      stops.push(() => f.close());
      running.forwards.push({ bind: f.bind, target: f.target });
      listeners.push(`forward ${formatTarget(f.bind)} -> ${formatTarget(f.target)}`);
      log.info('forward listening', { address: formatTarget(f.bind), target: formatTarget(f.target) });
    }
    if (metrics) {
      const endpoint = await metrics.start(config.metrics!);
      stops.push(() => endpoint.close());
      running.metricsUrl = endpoint.url;
      listeners.push(`metrics ${endpoint.url}`);
      log.info('metrics listening', { url: endpoint.url });
    }
    if (config.status) {
      const source: TrackedClient = {
        pathList: () => client.pathList(),
        connections: () => connections.list(),
        on: (event, listener) => client.on(event, listener),
        off: (event, listener) => client.off(event, listener),
      };
      const tracker = new StatusTracker(source, {
        names,
        summary: () => {
          const t = connections.totals();
          return { version: CLIENT_VERSION, server: config.server!, transport, listeners, uptimeMs: Date.now() - startedAt, connectionsTotal: t.connections, bytesUp: t.bytesUp, bytesDown: t.bytesDown, bufferedUpBytes: t.bufferedUpBytes, unacknowledgedUpBytes: t.unacknowledgedUpBytes };
        },
      });
      const status = await startStatusServer(source, { ...parseListenAddress(config.status, 'status'), tracker });
      stops.push(() => status.close());
      running.statusUrl = status.url;
      listeners.push(`status ${status.url}`);
      log.info('status page listening', { url: status.url });
    }
    return running;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * `pathServers` as MptcpClient path specs: one per local address that has its own server.
 * A key naming no configured path is an error (most likely a typo), not silently ignored.
 */
export function pathServerSpecs(pathServers: Record<string, string> | undefined, locals: string[], backups: string[]): PathSpec[] {
  const specs: PathSpec[] = [];
  for (const [local, where] of Object.entries(pathServers ?? {})) {
    const backup = backups.includes(local);
    if (!backup && !locals.includes(local)) {
      throw new MptunError('ERR_MPTUN_CONFIG', `pathServers: "${local}" is not one of the configured paths (${[...locals, ...backups].join(', ') || 'none'})`);
    }
    specs.push({ local, server: parseHostPort(where), ...(backup ? { backup: true } : {}) });
  }
  return specs;
}

/** One line when sealed UDP paths cannot search their path MTU here (RFC 8899): they keep 1200-byte datagrams. */
function logPathMtuDiscovery(transport: string, wanted: boolean, log: Logger): void {
  if (!wanted || (transport !== 'udp' && transport !== 'auto')) return;
  const unavailable = noFragmentUnavailable();
  if (unavailable !== null) log.info('path MTU discovery off: sealed UDP paths keep 1200-byte datagrams', { reason: unavailable });
}

/**
 * Paths given as interfaces (address → name) leave through their interface: their sockets
 * are bound to it (SO_BINDTODEVICE, Linux). Where that cannot be done (another platform, the
 * FFI does not load), or the user turned it off, they are bound to the interface's address
 * only, as before, and the warning says the routing table then picks the device.
 */
function deviceBindings(names: Record<string, string>, wanted: boolean, log: Logger): Record<string, string> | null {
  if (Object.keys(names).length === 0) return null;
  const unavailable = wanted ? deviceBindingUnavailable() : 'bindDevice is off';
  if (unavailable === null) return names;
  log.warn('paths given as interfaces are bound to their address only: the routing table picks the interface they leave by', { interfaces: Object.values(names).join(','), reason: unavailable });
  return null;
}

/** Whether `--path auto` binds each interface's paths to it; where it cannot, the warning says so. */
function autoDeviceBinding(wanted: boolean, log: Logger): boolean {
  if (!wanted) return false;
  const unavailable = deviceBindingUnavailable();
  if (unavailable === null) return true;
  log.warn('paths of the interfaces found are bound to their address only: the routing table picks the interface they leave by', { reason: unavailable });
  return false;
}
