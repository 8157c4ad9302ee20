/**
 * The `mptun-linkem` command line: flags (commander) and an optional JSON config file
 * turned into a checked configuration, then the emulator run until SIGINT/SIGTERM.
 */
import { Command, CommanderError, Option } from 'commander';
import { linkProfiles } from '@mptun/sim';
import { parsePathEndpoints, type HostPort } from './address.js';
import {
  buildPath,
  claimPathName,
  defaultPathName,
  readConfigFile,
  resolveConfig,
  resolveControl,
  type PathProtocol,
  type ResolvedConfig,
  type ResolvedPath,
} from './config.js';
import { startResolvedEmulator, type LinkEmulator, type PathStats } from './emulator.js';
import { LinkemError } from './errors.js';
import { FLAG_SETTINGS, PatchBuilder, type Direction } from './link-spec.js';
import { parseScript } from './script.js';
import { formatRate, parseDuration, parseInteger } from './units.js';

/** Where the control endpoint listens unless told otherwise. */
export const DEFAULT_CONTROL = '127.0.0.1:9470';

export interface CliIo {
  /** One line for standard output. */
  out(line: string): void;
  /** One line for standard error. */
  err(line: string): void;
  /** Resolves (with the signal's name) when the emulator should stop. */
  stopped(): Promise<string>;
}

const FLAG_HELP: Readonly<Record<(typeof FLAG_SETTINGS)[number], [string, string]>> = {
  rate: ['<rate>', 'bottleneck rate: 20mbit, 500kbit, 1gbit, unlimited'],
  delay: ['<time>', 'one-way delay: 30ms, 1.5s (a bare number is ms)'],
  jitter: ['<time>', 'extra delay drawn per packet from [0, jitter); order is kept'],
  loss: ['<prob>', 'random loss: 1%, 0.01 (UDP only)'],
  queue: ['<bound>', 'drop-tail queue before the rate limit: 50ms of traffic, or 64kb'],
  burst: ['<spec>', 'Gilbert-Elliott burst loss: enter=1%,exit=30%[,bad=100%][,good=0] (UDP only)'],
  reorder: ['<spec>', 'hold a share of packets back: 5%,10ms (UDP only)'],
  duplicate: ['<prob>', 'deliver a share of packets twice: 0.5% (UDP only)'],
  mtu: ['<bytes>', 'drop datagrams larger than this (UDP only)'],
};

const HELP_AFTER = `
Directions: "up" is client -> target, "down" is target -> client. Every link flag above
also exists per direction: --up-rate 20mbit --down-rate 5mbit --down-delay 40ms, and
--up-profile / --down-profile. Flags given once apply to every path on the command line;
for paths that differ, use a config file.

Profiles (from @mptun/sim, per direction): ${Object.keys(linkProfiles).join(', ')}.
  Explicit flags override the profile's values.

TCP paths (--tcp) relay a byte stream (WebSocket subflows): rate, delay, jitter, queue and
outages apply. Loss, burst, reorder, duplicate and mtu make no sense on a byte stream and
are refused; a profile's loss is left out. An outage stalls the stream (bytes wait, then
flow on); with --reset-on-down it resets every connection and refuses new ones while down.

Script: steps separated by ";", each "TIME ACTION...": an absolute time since start (10s,
500ms, 2min) or "+TIME" after the previous step; actions are down, up, KEY=VALUE for both
directions, up-KEY=VALUE / down-KEY=VALUE for one, profile=NAME.
  --script "10s down; 12s up; 20s rate=5mbit down-delay=80ms; +5s profile=3g"

Control endpoint (JSON over HTTP, no authentication: keep it on loopback):
  GET  /paths                        every path: state, options, counters
  GET  /paths/NAME                   one path
  POST /paths/NAME  '{"rate":"5mbit","down":{"delay":"80ms"}}'   change settings live
  POST /paths/NAME/down | /up        outage on / off
  e.g. curl -s -XPOST localhost:9470/paths/wifi -d '{"loss":"2%"}'

Config file (JSON): {"seed": 1, "control": "127.0.0.1:9470", "paths": [
  {"name": "wifi", "protocol": "udp", "listen": "127.0.0.2:7000", "target": "127.0.0.1:7000",
   "profile": "wifi", "loss": "1%", "down": {"rate": "20mbit"}, "script": "30s down; 35s up"},
  {"name": "lte-ws", "protocol": "tcp", "listen": "127.0.0.3:8443", "target": "127.0.0.1:8443",
   "profile": "lte", "resetOnDown": true}]}

Path names appear in the control URLs; by default a path is named after its protocol and
listen address (udp-127.0.0.2-7000). When listen and target are both loopback, the relay
talks to the target from the listen address, so the target sees each path's own address.

Examples:
  mptun-linkem --udp wifi@127.0.0.2:7000=127.0.0.1:7000 --profile wifi
  mptun-linkem --udp 127.0.0.3:7000=127.0.0.1:7000 --profile lte --loss 1% --script "10s down; 12s up"
  mptun-linkem --tcp 127.0.0.2:8443=127.0.0.1:8443 --rate 10mbit --delay 20ms --reset-on-down
  mptun-linkem --config paths.json`;

/** The commander program: every flag and the help text. */
export function buildProgram(): Command {
  const program = new Command('mptun-linkem')
    .description(
      'Userspace link emulator: relays UDP datagrams or a TCP stream between a listening address and a target, ' +
        'applying rate, queue, delay, jitter, loss, burst loss, reordering, duplication and scripted outages per direction. ' +
        'No root needed: use loopback aliases (127.0.0.2, 127.0.0.3, ...) as "interfaces".',
    )
    .option('--udp <[name@]listen=target>', 'a UDP path (repeat for more), e.g. wifi@127.0.0.2:7000=127.0.0.1:7000', collect)
    .option('--tcp <[name@]listen=target>', 'a TCP (WebSocket) path (repeat for more)', collect)
    .option('--config <file>', 'JSON file with paths and settings (see below)')
    .option('--profile <name>', `link preset: ${Object.keys(linkProfiles).join(', ')}`);
  for (const key of FLAG_SETTINGS) {
    const [arg, help] = FLAG_HELP[key];
    program.option(`--${key} ${arg}`, help);
  }
  for (const dir of ['up', 'down'] as const) {
    program.addOption(new Option(`--${dir}-profile <name>`).hideHelp());
    for (const key of FLAG_SETTINGS) program.addOption(new Option(`--${dir}-${key} ${FLAG_HELP[key][0]}`).hideHelp());
  }
  program
    .option('--script <steps>', 'scripted events, e.g. "10s down; 12s up; 20s rate=5mbit"')
    .option('--reset-on-down', 'TCP paths: an outage resets connections instead of stalling them')
    .option('--control <[host:]port>', `HTTP control endpoint (default ${DEFAULT_CONTROL})`)
    .option('--no-control', 'no control endpoint')
    .option('--seed <n>', 'seed for every random choice (loss, jitter, ...); printed at start')
    .option('--stats <interval>', 'print each path\'s counters this often, e.g. 5s')
    .option('-q, --quiet', 'print only errors')
    .addHelpText('after', HELP_AFTER)
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);
  return program;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** What the parsed flags ask for. */
export interface CliPlan {
  config: ResolvedConfig;
  quiet: boolean;
  statsIntervalMs: number | null;
}

/** Turn parsed flags into a checked configuration (reading the config file if one is named). */
export async function planFromOptions(opts: Record<string, unknown>): Promise<CliPlan> {
  const names = new Set<string>();
  let fromFile: ResolvedConfig | null = null;
  if (typeof opts.config === 'string') {
    const file = opts.config;
    try {
      fromFile = resolveConfig(await readConfigFile(file), 'config');
    } catch (err) {
      if (err instanceof LinkemError && !err.message.startsWith('--config')) {
        throw new LinkemError(err.code, `--config ${file}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    for (const p of fromFile.paths) names.add(p.name);
  }

  const builder = new PatchBuilder();
  let anyLinkFlag = false;
  const profileFlags: [Direction | 'both', string][] = [['both', 'profile'], ['up', 'upProfile'], ['down', 'downProfile']];
  for (const [dir, key] of profileFlags) {
    if (opts[key] === undefined) continue;
    builder.profile(dir, opts[key], `--${flagName(key)}`);
    anyLinkFlag = true;
  }
  for (const [dir, prefix] of [['both', ''], ['up', 'up'], ['down', 'down']] as const) {
    for (const setting of FLAG_SETTINGS) {
      const key = prefix === '' ? setting : `${prefix}${setting[0]!.toUpperCase()}${setting.slice(1)}`;
      if (opts[key] === undefined) continue;
      builder.set(dir, setting, opts[key], `--${flagName(key)}`);
      anyLinkFlag = true;
    }
  }
  const patch = builder.build('flags');
  const script = typeof opts.script === 'string' ? parseScript(opts.script, '--script') : [];
  const resetOnDown = opts.resetOnDown === true;

  const cliPaths: ResolvedPath[] = [];
  for (const protocol of ['udp', 'tcp'] as const satisfies readonly PathProtocol[]) {
    for (const spec of (opts[protocol] as string[] | undefined) ?? []) {
      const where = `--${protocol} ${spec}`;
      const ends = parsePathEndpoints(spec, `--${protocol}`);
      const name = ends.name !== null ? claimPathName(ends.name, names, `--${protocol}`) : defaultPathName(protocol, ends.listen, names);
      const tcpOnly = protocol === 'udp' ? false : resetOnDown;
      cliPaths.push(buildPath({ name, protocol, listen: ends.listen, target: ends.target, patch, script, resetOnDown: tcpOnly }, where));
    }
  }
  if (cliPaths.length === 0 && (anyLinkFlag || script.length > 0 || resetOnDown)) {
    throw new LinkemError(
      'ERR_LINKEM_BAD_CONFIG',
      'link flags (--profile, --rate, --script, ...) describe the paths given with --udp / --tcp, and there are none; settings for config-file paths go in the file',
    );
  }
  if (resetOnDown && !cliPaths.some((p) => p.protocol === 'tcp')) {
    throw new LinkemError('ERR_LINKEM_BAD_CONFIG', '--reset-on-down: applies to --tcp paths, and there are none');
  }
  const paths = [...(fromFile?.paths ?? []), ...cliPaths];
  if (paths.length === 0) {
    throw new LinkemError('ERR_LINKEM_BAD_CONFIG', 'no paths: give --udp LISTEN=TARGET, --tcp LISTEN=TARGET or --config FILE (see --help)');
  }

  const seed = opts.seed !== undefined ? parseInteger(opts.seed as string, '--seed', 0, 0xffffffff) : (fromFile?.seed ?? null);
  let control: HostPort | null;
  if (opts.control === false) control = null;
  else if (typeof opts.control === 'string') control = resolveControl(opts.control, '--control');
  else control = fromFile?.control ?? resolveControl(DEFAULT_CONTROL, '--control');

  let statsIntervalMs: number | null = null;
  if (opts.stats !== undefined) {
    statsIntervalMs = parseDuration(opts.stats as string, '--stats');
    if (!(statsIntervalMs >= 100)) throw new LinkemError('ERR_LINKEM_BAD_OPTION', `--stats: expected an interval of at least 100ms, got ${String(opts.stats)}`);
  }
  return { config: { paths, seed, control }, quiet: opts.quiet === true, statsIntervalMs };
}

/**
 * Run the command line: parse, start, print, wait for `io.stopped()`, close. Returns the
 * exit code (0: stopped cleanly or help shown; 1: bad flags, config or a socket that would
 * not open).
 */
export async function runLinkem(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    });
  let plan: CliPlan;
  try {
    program.parse([...argv], { from: 'user' });
    plan = await planFromOptions(program.opts());
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1; // commander printed it
    if (err instanceof LinkemError) {
      io.err(`mptun-linkem: ${err.message}`);
      return 1;
    }
    throw err;
  }

  const log = plan.quiet ? () => {} : (line: string) => io.out(line);
  let emulator: LinkEmulator;
  try {
    emulator = await startResolvedEmulator(plan.config, { log });
  } catch (err) {
    if (err instanceof LinkemError) {
      io.err(`mptun-linkem: ${err.message}`);
      return 1;
    }
    throw err;
  }
  log(`seed ${emulator.seed}`);
  if (emulator.control !== null) log(`control ${emulator.control.url}/paths`);
  log('running; Ctrl-C to stop');

  const statsTimer = plan.statsIntervalMs === null ? null : setInterval(statsPrinter(emulator, io), plan.statsIntervalMs);
  const signal = await io.stopped();
  if (statsTimer !== null) clearInterval(statsTimer);
  log(`${signal}: closing`);
  await emulator.close();
  log('closed');
  return 0;
}

/** Prints one line per path: delivered rate since the last line, counters, drops. */
function statsPrinter(emulator: LinkEmulator, io: CliIo): () => void {
  const previous = new Map<string, { at: number; bytes: number }>();
  const direction = (key: string, d: PathStats['up']): string => {
    const now = performance.now();
    const before = previous.get(key);
    previous.set(key, { at: now, bytes: d.bytesDelivered });
    const bps = before === undefined ? 0 : ((d.bytesDelivered - before.bytes) * 8000) / Math.max(1, now - before.at);
    const drops = Object.entries(d.dropped).filter(([, n]) => n > 0);
    const dropText = drops.length === 0 ? 'no drops' : `dropped ${drops.map(([cause, n]) => `${cause} ${n}`).join(' ')}`;
    return `${formatRate(bps)} (${d.delivered}/${d.sent} delivered, ${dropText}, queue ${d.queueBytes} B)`;
  };
  return () => {
    for (const s of emulator.stats()) {
      io.out(`${s.name} [${s.state}] up ${direction(`${s.name} up`, s.up)} | down ${direction(`${s.name} down`, s.down)}`);
    }
  };
}

/** "upRate" → "up-rate". */
function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
