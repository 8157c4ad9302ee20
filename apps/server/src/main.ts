/** mptun-server: `keygen` writes a key pair; `run` serves until SIGINT/SIGTERM (SIGUSR2 drains it). */
import { Command, Option } from 'commander';
import { createLogger, EXIT_CODES_HELP, exitCodeFor, runKeygen, type LogFormat, type LogLevel, type Logger } from '@mptun/tunnel-common';
import { loadServerConfig, type ServerOverrides } from './config.js';
import { startServer } from './server.js';
import { SERVER_VERSION } from './version.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** The logger of `run` once its config is read; fatal errors go through it (JSON stays JSON). */
let runLog: Logger | null = null;

const program = new Command('mptun-server')
  .description('Multipath TCP tunnel server: accepts MPTCP paths and relays each connection to its TCP target')
  .exitOverride()
  .version(SERVER_VERSION, '-V, --version', 'print the version')
  .addHelpText('after', EXIT_CODES_HELP)
  .showHelpAfterError();

program
  .command('keygen')
  .description('write a new key pair: the private key to FILE (mode 0600), the public key alone on one line to stdout (paste it into the clients\' --server-key)')
  .option('--out <file>', 'private key file', 'server.key')
  .option('--pub-out <file>', 'also write the public key, alone on one line, to this file')
  .option('--force', 'replace an existing file')
  .action(async (o: { out: string; pubOut?: string; force?: boolean }) => {
    await runKeygen(o, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  });

program
  .command('run')
  .description('serve: listen, admit authorized clients, relay to allowed targets')
  .option('--config <file>', 'JSON config file')
  .option('--listen <url>', 'udp://host:port, udp-plain://…, ws://host:port/path, wss://… (repeatable)', collect)
  .option('--insecure-plain-udp', 'allow udp-plain:// listeners, which have no encryption or integrity (interop and tests only)')
  .option('--key <file>', 'private key file')
  .option('--authorized-keys <file>', 'file of client public keys, one per line (a comment may follow the key)')
  .option('--allow <rule>', 'allowed target: host, *.suffix, IP or CIDR, optional :ports (repeatable)', collect)
  .option('--tls-cert <file>', 'certificate (PEM) for wss')
  .option('--tls-key <file>', 'certificate key (PEM) for wss')
  .option('--no-announce-listen', 'do not announce the UDP listen addresses (behind NAT or a link emulator, where clients must not reach them directly)')
  .option('--announce <ip:port>', 'also announce this address to clients (ADD_ADDR), e.g. a public one in front of NAT; the UDP listen addresses are announced anyway (repeatable)', collect)
  .option('--no-pmtud', 'sealed UDP paths keep 1200-byte datagrams instead of searching for the largest the path carries (RFC 8899 path MTU discovery, on by default on Linux)')
  .option('--behind-balancer', 'reached through a load balancer\'s shared address: clients open further paths only to the --announce addresses, never to the shared one (the C bit of RFC 8684)')
  .option('--affinity-token <name>', 'this server\'s name behind an HTTP reverse proxy whose servers clients cannot reach: WebSocket upgrade responses carry it, and clients send it back (X-Mptun-Affinity header and mptun-affinity query parameter) on a connection\'s further paths for the proxy to route on; routing only, it authenticates nothing')
  .option('--metrics <host:port>', 'Prometheus endpoint on a loopback address')
  .option('--balancer-agent <ip:port>', 'answer HAProxy\'s agent check here: "up ready", or "drain" while draining, so the proxy sends new connections elsewhere and keeps routing the open ones\' paths (deploy/haproxy/mptun-ws.cfg)')
  .option('--scheduler <name>', 'packet scheduler for what the server sends: minrtt, roundrobin, redundant, backup, overflow, blest, ecf')
  .option('--cc <name>', 'congestion control for what the server sends: cubic-ld (default: CUBIC that holds its rate through random loss and keeps queues short), reno, cubic, lia, olia, balia, ledbat, bbr')
  .option('--drain <duration>', 'how long shutdown, or a drain (SIGUSR2 or POST /drain on the metrics port), lets connections finish, with a unit: e.g. 10s or 500ms')
  .addOption(new Option('--log-level <level>', 'how much to log').choices(['debug', 'info', 'warn', 'error', 'silent']))
  .addOption(new Option('--log-format <format>', 'log lines as key=value text or JSON').choices(['text', 'json']))
  .option('--pcap <file>', 'write every segment sent and received on every path to FILE (pcap; open it with Wireshark or tshark)')
  .action(async ({ pcap, ...o }: ServerOverrides & { config?: string; pcap?: string }) => {
    // Until the config is read, a fatal error still honours the --log-format flag.
    if (o.logFormat === 'json') runLog = createLogger({ format: 'json' });
    const config = loadServerConfig(o.config, o);
    const log = createLogger({ level: config.logLevel as LogLevel, format: config.logFormat as LogFormat });
    runLog = log;
    const running = await startServer(config, { logger: log, ...(pcap ? { pcap } : {}) });
    log.info('server started', { version: SERVER_VERSION, publicKey: running.publicKey });
    const stop = (signal: string): void => {
      log.info('shutting down', { signal });
      running.close().then(
        () => (process.exitCode = 0),
        (e: unknown) => {
          log.error('shutdown failed', { error: e as Error });
          process.exitCode = 70;
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // Drain on demand (also POST /drain on the metrics port): refuse new connections so
    // clients retry through the balancer, let the open ones finish within --drain, then stay
    // up refusing until stopped. Repeating it changes nothing.
    process.on('SIGUSR2', () => {
      log.info('drain requested', { signal: 'SIGUSR2' });
      void running.drain();
    });
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error & { code?: string; exitCode?: number };
  // commander has printed its own message (usage errors) or the help/version text.
  if (err.code?.startsWith('commander.')) {
    process.exitCode = err.exitCode === 0 ? 0 : exitCodeFor(err);
    return;
  }
  if (runLog) runLog.error('fatal', { error: err.message, ...(err.code ? { code: err.code } : {}) });
  else process.stderr.write(`mptun-server: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
  // Exit now: nothing half-started may keep a failed start alive.
  process.exit(exitCodeFor(err));
});
