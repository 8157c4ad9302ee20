/**
 * The mptun-client command line: `keygen` and `run`. Flags map one to one onto config keys
 * (flags win over the file); the work is done by startClient.
 */
import { addStatusCommand } from './status/index.js';
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { createLogger, EXIT_CODES_HELP, LOG_LEVELS, runKeygen, UsageError, type LogFormat, type LogLevel } from '@mptun/tunnel-common';
import { MptunError } from '@mptun/node';
import { startClient, type RunningClient } from './client-app.js';
import { clientTransports, loadClientConfig, type ClientConfig } from './config.js';
import { CLIENT_VERSION } from './version.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Called with the running client; resolves when it should stop (signals, by default). */
  waitForStop?(running: RunningClient): Promise<void>;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command('mptun-client')
    .description('Carry TCP connections over several network paths at once (Multipath TCP in user space) to an mptun-server.')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .version(CLIENT_VERSION, '-V, --version', 'print the version')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError();

  program
    .command('keygen')
    .description(
      'Make a client keypair. With --out the private key goes to FILE (mode 600) and the public key to stdout; without it stdout is the key file itself (`keygen > client.key`) and the public key goes to stderr. Give the public key line to the server admin.\n  example: mptun-client keygen --out client.key',
    )
    .option('--out <file>', 'write the private key here (mode 600) instead of stdout')
    .option('--pub-out <file>', 'also write the public key, alone on one line, to this file')
    .option('--force', 'replace an existing key file')
    .action(async (opts: { out?: string; pubOut?: string; force?: boolean }) => {
      await runKeygen(opts, io);
    });

  program
    .command('run')
    .description('Start the SOCKS5 proxy and port forwards.\n  example: mptun-client run --server vpn.example.net:4433 --server-key BASE64 --key client.key --path wlan0 --path wwan0')
    .option('-c, --config <file>', 'JSON config file (keys as in the README); flags override it. e.g. --config client.json')
    .option('--server <host:port>', "the server's address. e.g. --server 203.0.113.7:4433")
    .option('--server-key <base64>', "the server's public key. e.g. --server-key 3q2+7w...=")
    .option('--key <file>', "file with this client's private key (from keygen). e.g. --key client.key")
    .option('--path <addr|ifname|auto>', 'a local address or interface to open a path from; repeat for more; "auto" follows every up interface. e.g. --path 192.168.1.20 --path wwan0', collect)
    .option('--no-bind-device', 'paths given as interfaces (or found by --path auto) bind only to the interface\'s address, not to the interface itself (SO_BINDTODEVICE): the routing table then picks the interface they leave by')
    .option('--path-manager <policy>', 'which subflows each connection gets: fullmesh (every local path x every server address, announced ones included) or ndiffports[:N] (N subflows over the first path, each on its own UDP source port). e.g. --path-manager ndiffports:4')
    .option('--backup <addr|ifname>', 'a path used only when the others fail (RFC 8684 MP_PRIO backup). e.g. --backup wwan0', collect)
    .addOption(new Option('--transport <kind>', 'how paths reach the server; auto races UDP and WebSocket per path. e.g. --transport auto').choices([...clientTransports]))
    .option('--ws-url <url>', 'WebSocket endpoint for ws/wss/auto (default: ws://<server host>:<server port>/mptun). e.g. --ws-url wss://vpn.example.net/mptun')
    .option('--tls-insecure', 'wss: accept a certificate no CA vouches for')
    .option('--no-pmtud', 'sealed UDP paths keep 1200-byte datagrams instead of searching for the largest the path carries (RFC 8899 path MTU discovery, on by default on Linux)')
    .option('--scheduler <name>', 'packet scheduler: minrtt, roundrobin, redundant, backup, overflow, blest, ecf. e.g. --scheduler blest')
    .option('--cc <name>', 'congestion control: cubic-ld (default: CUBIC that holds its rate through random loss, e.g. on Wi-Fi, and keeps queues short), reno, cubic, lia, olia, balia, ledbat, bbr. e.g. --cc cubic')
    .option('--profile <name>', 'a preset of scheduler and congestion control. e.g. --profile interactive')
    .option('--socks <host:port>', 'SOCKS5 proxy address (default 127.0.0.1:1080 unless only -L is given). e.g. --socks 127.0.0.1:1080')
    .option('--no-socks', 'no SOCKS5 proxy')
    .option('--socks-user <name>', 'require this SOCKS5 username (RFC 1929); the password comes from --socks-pass-file, MPTUN_SOCKS_PASS or the config file')
    .option('--socks-pass-file <file>', 'file holding the SOCKS5 password (first line). Or set MPTUN_SOCKS_PASS')
    .option('--socks-early-reply', "answer a SOCKS5 CONNECT at once and send the application's first bytes with the tunnel request: one round trip less, but a refused target shows as a reset, not a SOCKS error")
    .addOption(new Option('--socks-pass <password>').hideHelp())
    .option('-L, --forward <[bind:]port:host:port>', 'forward a local port to host:port through the tunnel; repeatable. e.g. -L 8080:intranet:80', collect)
    .option('--status <host:port>', 'serve the status page and /api/status here. e.g. --status 127.0.0.1:9471')
    .option('--metrics <host:port>', 'serve Prometheus metrics at /metrics here (loopback only). e.g. --metrics 127.0.0.1:9472')
    .option('--connect-timeout <duration>', 'give up a connection when no path is up within this long. e.g. --connect-timeout 10s')
    .option('--handshake-timeout <duration>', 'a SOCKS5 client must finish its handshake within this long. e.g. --handshake-timeout 500ms')
    .option('--early-data-wait <duration>', "how long a forwarded connection waits for the application's first bytes, which then go with the tunnel request and save a round trip (default 10ms; 0ms: never wait). e.g. --early-data-wait 50ms")
    .addOption(new Option('--log-level <level>', 'how much to log').choices([...LOG_LEVELS]))
    .addOption(new Option('--log-format <format>', 'log lines as key=value text or JSON').choices(['text', 'json']))
    .option('--pcap <file>', 'write every segment sent and received on every path to FILE (pcap; open it with Wireshark or tshark). e.g. --pcap client.pcap')
    .action(async (opts: RunFlags) => {
      let format: LogFormat | undefined = opts.logFormat;
      let running: RunningClient;
      try {
        const config = loadClientConfig(opts.config, flagsToConfig(opts));
        format = config.logFormat;
        running = await startClient(config);
      } catch (err) {
        // Under JSON logs a fatal error is a JSON line too; main.ts then only sets the exit code.
        if (format === 'json') {
          const e = err as { message?: string; code?: string };
          createLogger({ format: 'json', write: io.err }).error('fatal', { error: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) });
          Object.defineProperty(err, 'reported', { value: true });
        }
        throw err;
      }
      await (io.waitForStop ? io.waitForStop(running) : untilSignal());
      await running.close();
    });
  addStatusCommand(program, (file) => loadClientConfig(file).status);
  return program;
}

interface RunFlags {
  config?: string;
  server?: string;
  serverKey?: string;
  key?: string;
  path?: string[];
  /** commander: true unless --no-bind-device. */
  bindDevice?: boolean;
  backup?: string[];
  pathManager?: string;
  transport?: ClientConfig['transport'];
  wsUrl?: string;
  tlsInsecure?: boolean;
  /** commander: true unless --no-pmtud. */
  pmtud?: boolean;
  scheduler?: string;
  cc?: string;
  profile?: string;
  socks?: string | false;
  socksUser?: string;
  socksPass?: string;
  socksPassFile?: string;
  forward?: string[];
  status?: string;
  metrics?: string;
  connectTimeout?: string;
  handshakeTimeout?: string;
  earlyDataWait?: string;
  socksEarlyReply?: boolean;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
  pcap?: string;
}

export function flagsToConfig(f: RunFlags): ClientConfig {
  return {
    server: f.server,
    serverKey: f.serverKey,
    key: f.key,
    paths: f.path,
    // commander defaults bindDevice to true because of --no-bind-device: only false counts, so a config file's value stands otherwise.
    bindDevice: f.bindDevice === false ? false : undefined,
    backup: f.backup,
    pathManager: f.pathManager,
    transport: f.transport,
    wsUrl: f.wsUrl,
    tlsInsecure: f.tlsInsecure,
    // As bindDevice: only --no-pmtud counts, so a config file's value stands otherwise.
    pmtud: f.pmtud === false ? false : undefined,
    scheduler: f.scheduler,
    cc: f.cc,
    profile: f.profile,
    // commander sets socks to true by default because of --no-socks: only a string or false counts.
    socks: f.socks === false ? null : typeof f.socks === 'string' ? f.socks : undefined,
    socksUser: f.socksUser,
    socksPass: socksPassword(f),
    forwards: f.forward,
    status: f.status,
    metrics: f.metrics,
    connectTimeout: f.connectTimeout,
    handshakeTimeout: f.handshakeTimeout,
    earlyDataWait: f.earlyDataWait,
    socksEarlyReply: f.socksEarlyReply,
    logLevel: f.logLevel,
    logFormat: f.logFormat,
    pcap: f.pcap,
  };
}

/**
 * The SOCKS5 password from a file or MPTUN_SOCKS_PASS, never from argv: any local user can
 * read another's command line (ps, /proc/PID/cmdline).
 */
export function socksPassword(f: Pick<RunFlags, 'socksPass' | 'socksPassFile'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (f.socksPass !== undefined) {
    throw new UsageError('--socks-pass on the command line is visible to every local user (ps); put the password in a file and pass --socks-pass-file FILE, or set MPTUN_SOCKS_PASS');
  }
  if (f.socksPassFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(f.socksPassFile, 'utf8');
    } catch (e) {
      throw new MptunError('ERR_MPTUN_BAD_OPTION', `--socks-pass-file: cannot read ${f.socksPassFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const first = text.split(/\r?\n/)[0] ?? '';
    if (first.length === 0) throw new MptunError('ERR_MPTUN_BAD_OPTION', `--socks-pass-file: ${f.socksPassFile} starts with an empty line; the password is its first line`);
    return first;
  }
  return env.MPTUN_SOCKS_PASS !== undefined && env.MPTUN_SOCKS_PASS !== '' ? env.MPTUN_SOCKS_PASS : undefined;
}
