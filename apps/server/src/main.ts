#!/usr/bin/env node
/** mptun-server: `keygen` writes a key pair; `run` serves until SIGINT/SIGTERM. */
import { Command } from 'commander';
import { createLogger, writePrivateKeyFile, type LogFormat, type LogLevel } from '@mptun/cli';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { loadServerConfig, type ServerOverrides } from './config.js';
import { startServer } from './server.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

const program = new Command('mptun-server').description('Multipath TCP tunnel server: accepts MPTCP paths and relays each connection to its TCP target');

program
  .command('keygen')
  .description('write a new key pair (private key file, mode 0600) and print the public key')
  .option('--out <file>', 'private key file', 'server.key')
  .option('--force', 'replace an existing file')
  .action(async (o: { out: string; force?: boolean }) => {
    const kp = generateKeypair(await loadCrypto());
    writePrivateKeyFile(o.out, kp, { overwrite: o.force === true });
    process.stdout.write(encodeKey(kp.publicKey) + '\n');
  });

program
  .command('run')
  .description('serve: listen, admit authorized clients, relay to allowed targets')
  .option('--config <file>', 'JSON config file')
  .option('--listen <url>', 'udp://host:port, udp-plain://…, ws://host:port/path, wss://… (repeatable)', collect)
  .option('--insecure-plain-udp', 'allow udp-plain:// listeners, which have no encryption or integrity (interop and tests only)')
  .option('--key <file>', 'private key file')
  .option('--authorized-keys <file>', 'file of client public keys, one per line')
  .option('--allow <rule>', 'allowed target: host, *.suffix, IP or CIDR, optional :ports (repeatable)', collect)
  .option('--tls-cert <file>', 'certificate (PEM) for wss')
  .option('--tls-key <file>', 'certificate key (PEM) for wss')
  .option('--metrics <host:port>', 'Prometheus endpoint on a loopback address')
  .option('--scheduler <name>', 'packet scheduler for what the server sends: minrtt, roundrobin, redundant, backup, overflow, blest, ecf')
  .option('--cc <name>', 'congestion control for what the server sends: reno, cubic, lia, olia, balia, ledbat, bbr (bbr holds its rate through random loss)')
  .option('--drain <duration>', 'how long shutdown lets connections finish, e.g. 10s')
  .option('--log-level <level>', 'debug, info, warn, error or silent')
  .option('--log-format <format>', 'text or json')
  .action(async (o: ServerOverrides & { config?: string }) => {
    const config = loadServerConfig(o.config, o);
    const log = createLogger({ level: config.logLevel as LogLevel, format: config.logFormat as LogFormat });
    const running = await startServer(config, { logger: log });
    log.info('server public key', { publicKey: running.publicKey });
    const stop = (signal: string): void => {
      log.info('shutting down', { signal });
      running.close().then(
        () => (process.exitCode = 0),
        (e: unknown) => {
          log.error('shutdown failed', { error: e as Error });
          process.exitCode = 1;
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error & { code?: string };
  process.stderr.write(`mptun-server: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
  process.exit(2);
});
