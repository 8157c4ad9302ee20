/**
 * The whole tunnel on loopback, built from the real apps: mptun-server (startServer) on
 * 127.0.0.1 with fresh keys in memory, one link-emulator relay per path on its own loopback
 * alias in front of it, and mptun-client (startClient) with one path per alias, each path
 * sent to its own relay, with its SOCKS5 proxy and port forwards. The demo and the
 * end-to-end tests both stand on it.
 */
import { createLogger } from '@mptun/tunnel-common';
import type { MptcpSocket } from '@mptun/node';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { startClient, type RunningClient } from '../../client/src/index.js';
import { defaultLimits, startServer, type RunningServer } from '../../server/src/index.js';
import { startLinkEmulator, type LinkEmulator, type PathPatch } from '@mptun/linkem';
import { PathMeter } from './path-meter.js';

export interface TestbedPath {
  /** The emulator's name for it ("wifi"). */
  name: string;
  /** The loopback alias the client sends from and the relay listens on. */
  local: string;
  /** Link settings for both directions, as the link emulator takes them. */
  link: PathPatch;
}

export interface TestbedOptions {
  paths: TestbedPath[];
  /** The server's target allow rules (apps/server policy syntax). Default: all of 127.0.0.0/8. */
  allow?: string[];
  /** Seed of the emulated links' random choices. */
  seed?: number;
  /** Port forwards to open (bind on 127.0.0.1, any free port). */
  forwards?: Array<{ host: string; port: number }>;
}

export interface Testbed {
  readonly server: RunningServer;
  /** The server's UDP port on 127.0.0.1. */
  readonly serverPort: number;
  readonly emulator: LinkEmulator;
  readonly client: RunningClient;
  readonly socks: { host: string; port: number };
  readonly forwards: RunningClient['forwards'];
  readonly meter: PathMeter;
  /** Every tunnel's MPTCP socket seen so far, in order of first sight. */
  readonly tunnels: MptcpSocket[];
  close(): Promise<void>;
}

/** How often the client's connections are looked for and their counters kept. */
const POLL_MS = 100;

export async function startTestbed(opts: TestbedOptions): Promise<Testbed> {
  const crypto = await loadCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  // The apps log to stderr; the demo's own output is the story here.
  const logger = createLogger({ level: 'silent' });
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => {});
    closers.length = 0;
  };
  try {
    const server = await startServer(
      {
        listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
        // Clients reach the server only through the emulated links: a join straight to the
        // listen address would bypass them.
        announceListen: false,
        privateKey: encodeKey(serverKeys.privateKey),
        authorizedKeys: [encodeKey(clientKeys.publicKey)],
        allow: opts.allow ?? ['127.0.0.0/8'],
        limits: { ...defaultLimits },
        drainMs: 0,
        logLevel: 'silent',
        logFormat: 'text',
      },
      { crypto, logger },
    );
    closers.push(() => server.close(0));
    const serverPort = server.addresses[0]!.port;
    const emulator = await startLinkEmulator({
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      paths: opts.paths.map((p) => ({ name: p.name, protocol: 'udp' as const, listen: `${p.local}:0`, target: `127.0.0.1:${serverPort}`, ...p.link })),
    });
    closers.push(() => emulator.close());
    const relayOf = (i: number): string => `${emulator.paths[i]!.listen.host}:${emulator.paths[i]!.listen.port}`;
    const client = await startClient(
      {
        server: relayOf(0),
        serverKey: encodeKey(serverKeys.publicKey),
        keypair: clientKeys,
        crypto,
        paths: opts.paths.map((p) => p.local),
        // Each path goes through its own emulated link.
        pathServers: Object.fromEntries(opts.paths.map((p, i) => [p.local, relayOf(i)])),
        socks: '127.0.0.1:0',
        forwards: (opts.forwards ?? []).map((t) => `127.0.0.1:0:${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`),
        connectTimeoutMs: 10_000,
        logLevel: 'silent',
      },
      { logger },
    );
    closers.push(() => client.close());
    // startClient opens the paths in the background; the testbed is ready once they are up.
    await client.client.start();
    const meter = new PathMeter(opts.paths.map((p) => ({ name: p.name, localAddress: p.local })));
    const tunnels: MptcpSocket[] = [];
    const seen = new WeakSet<MptcpSocket>();
    // The client app opens a connection per tunnel: pick new ones up, and keep polling the
    // counters, since closed connections drop their subflows.
    const poll = setInterval(() => {
      for (const s of client.client.openSockets()) {
        if (seen.has(s)) continue;
        seen.add(s);
        tunnels.push(s);
        meter.track(s);
      }
      meter.refreshAll();
    }, POLL_MS);
    closers.push(async () => clearInterval(poll));
    return { server, serverPort, emulator, client, socks: client.socks!, forwards: client.forwards, meter, tunnels, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
