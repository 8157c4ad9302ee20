/**
 * The link emulator: a set of paths, each a UDP or TCP relay with an emulated link per
 * direction, their scripts, and (optionally) the HTTP control endpoint.
 *
 *   const em = await startLinkEmulator({ paths: [{ name: 'wifi', listen: '127.0.0.2:7000',
 *     target: '127.0.0.1:7000', profile: 'wifi' }] });
 *   em.down('wifi'); em.setOptions('wifi', { down: { rate: '5mbit' } }); await em.close();
 */
import { randomInt } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SeededRandom } from '@mptun/core';
import type { ResolvedLinkOptions } from '@mptun/sim';
import { formatHostPort, type HostPort } from './address.js';
import { systemClock, type LinkClock, type TimerHandle } from './clock.js';
import { notForStreams, resolveConfig, type LinkEmulatorConfig, type PathProtocol, type ResolvedConfig, type ResolvedPath } from './config.js';
import { startControlServer, type ControlServer } from './control.js';
import { LinkemError } from './errors.js';
import { parsePathPatch, streamOptions, summarizeOptions, type ParsedPatch, type PathPatch } from './link-spec.js';
import type { RealtimeLinkStats } from './realtime-link.js';
import type { ScriptStep } from './script.js';
import { TcpRelay, type TcpRelayStats } from './tcp-relay.js';
import { UdpRelay, type UdpRelayStats } from './udp-relay.js';

export interface LinkEmulatorEnv {
  /** The clock and timers (default: the system's). */
  clock?: LinkClock;
  /** Receives one line per event (start, script steps, changes); default: nothing. */
  log?: (line: string) => void;
}

export interface PathInfo {
  readonly name: string;
  readonly protocol: PathProtocol;
  /** The address actually listened on (port 0 in the config becomes the bound port). */
  readonly listen: HostPort;
  readonly target: HostPort;
}

export interface DirectionStats extends RealtimeLinkStats {
  options: ResolvedLinkOptions;
}

export interface PathStats {
  name: string;
  protocol: PathProtocol;
  listen: string;
  target: string;
  state: 'up' | 'down';
  /** Client → target. */
  up: DirectionStats;
  /** Target → client. */
  down: DirectionStats;
  script: { steps: number; done: number };
  udp?: UdpRelayStats;
  tcp?: TcpRelayStats;
}

export interface LinkEmulator {
  readonly paths: readonly PathInfo[];
  /** The seed every random choice comes from (print it: it reproduces a run's losses). */
  readonly seed: number;
  /** The control endpoint, when one was asked for. */
  readonly control: { host: string; port: number; url: string } | null;
  /** Change a path's settings now: keys at the top for both directions, `up` / `down` for one. */
  setOptions(name: string, patch: PathPatch): void;
  /** Take a path down now (UDP drops, TCP stalls or resets). */
  down(name: string): void;
  up(name: string): void;
  stats(): PathStats[];
  pathStats(name: string): PathStats;
  /** Close every socket, timer and the control endpoint. Safe to call twice. */
  close(): Promise<void>;
}

type Relay = UdpRelay | TcpRelay;

/** Node timers cannot wait longer; a later step is reached in several waits. */
const MAX_TIMER_MS = 2 ** 31 - 1;

class EmulatedPath {
  isUp = true;
  scriptDone = 0;
  scriptTimer: TimerHandle | null = null;
  constructor(
    readonly config: ResolvedPath,
    readonly relay: Relay,
    readonly target: HostPort,
  ) {}

  get info(): PathInfo {
    return { name: this.config.name, protocol: this.config.protocol, listen: this.relay.address, target: this.target };
  }
}

/** Start the emulator from a configuration (checked first: errors name the key at fault). */
export async function startLinkEmulator(config: LinkEmulatorConfig, env: LinkEmulatorEnv = {}): Promise<LinkEmulator> {
  return startResolvedEmulator(resolveConfig(config), env);
}

/** Start the emulator from a configuration already checked (the command line builds one). */
export async function startResolvedEmulator(config: ResolvedConfig, env: LinkEmulatorEnv = {}): Promise<LinkEmulator> {
  const emulator = new Emulator(config, env);
  try {
    await emulator.start();
  } catch (err) {
    await emulator.close();
    throw err;
  }
  return emulator;
}

class Emulator implements LinkEmulator {
  readonly seed: number;
  private readonly clock: LinkClock;
  private readonly log: (line: string) => void;
  private readonly byName = new Map<string, EmulatedPath>();
  private readonly order: EmulatedPath[] = [];
  private controlServer: ControlServer | null = null;
  private startedAt = 0;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly config: ResolvedConfig,
    env: LinkEmulatorEnv,
  ) {
    this.seed = config.seed ?? randomInt(0, 0xffffffff);
    this.clock = env.clock ?? systemClock;
    this.log = env.log ?? (() => {});
  }

  get paths(): PathInfo[] {
    return this.order.map((p) => p.info);
  }

  get control(): { host: string; port: number; url: string } | null {
    const c = this.controlServer;
    return c === null ? null : { host: c.address.host, port: c.address.port, url: `http://${formatHostPort(c.address)}` };
  }

  async start(): Promise<void> {
    const root = new SeededRandom(this.seed);
    for (const config of this.config.paths) {
      // Forked in config order, so a seed gives each direction the same draws every run.
      const randomUp = root.fork();
      const randomDown = root.fork();
      const target = await resolveTarget(config);
      const common = {
        name: config.name,
        listen: config.listen,
        target,
        upstreamHost: config.upstreamHost,
        up: config.up,
        down: config.down,
        randomUp,
        randomDown,
        clock: this.clock,
      };
      const relay: Relay =
        config.protocol === 'udp'
          ? new UdpRelay({ ...common, idleTimeoutMs: config.idleTimeoutMs, maxMappings: config.maxClients })
          : new TcpRelay({ ...common, resetOnDown: config.resetOnDown });
      const path = new EmulatedPath(config, relay, target);
      this.byName.set(config.name, path);
      this.order.push(path);
      await relay.start();
      this.log(
        `${config.protocol} ${config.name}: ${formatHostPort(relay.address)} -> ${formatHostPort(target)}\n` +
          `  up:   ${summarizeOptions(relay.up.options)}\n  down: ${summarizeOptions(relay.down.options)}`,
      );
    }
    if (this.config.control !== null) {
      this.controlServer = await startControlServer(this, this.config.control);
    }
    this.startedAt = this.clock.now();
    for (const path of this.order) this.scheduleScript(path);
  }

  setOptions(name: string, patch: PathPatch): void {
    const path = this.path(name);
    this.apply(path, parsePathPatch(patch, `setOptions(${name})`), 'set');
  }

  down(name: string): void {
    this.setState(this.path(name), false);
  }

  up(name: string): void {
    this.setState(this.path(name), true);
  }

  stats(): PathStats[] {
    this.checkOpen();
    return this.order.map((p) => this.statsOf(p));
  }

  pathStats(name: string): PathStats {
    return this.statsOf(this.path(name));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const path of this.order) {
      if (path.scriptTimer !== null) this.clock.clearTimer(path.scriptTimer);
      path.scriptTimer = null;
    }
    const closing: Promise<void>[] = this.order.map((p) => p.relay.close());
    if (this.controlServer !== null) closing.push(this.controlServer.close());
    await Promise.all(closing);
  }

  private statsOf(path: EmulatedPath): PathStats {
    const relay = path.relay;
    const out: PathStats = {
      name: path.config.name,
      protocol: path.config.protocol,
      listen: formatHostPort(relay.address),
      target: formatHostPort(path.target),
      state: path.isUp ? 'up' : 'down',
      up: { ...relay.up.stats, options: relay.up.options },
      down: { ...relay.down.stats, options: relay.down.options },
      script: { steps: path.config.script.length, done: path.scriptDone },
    };
    if (relay instanceof UdpRelay) out.udp = relay.stats;
    else out.tcp = relay.stats;
    return out;
  }

  private apply(path: EmulatedPath, patch: ParsedPatch, why: string): void {
    let { up, down } = patch;
    if (path.config.protocol === 'tcp') {
      if (patch.datagramOnly.length > 0) throw notForStreams(patch.datagramOnly);
      up = streamOptions(up);
      down = streamOptions(down);
    }
    const relay = path.relay;
    relay.up.setOptions(up);
    relay.down.setOptions(down);
    this.log(`${this.elapsed()} ${path.config.name} ${why}: up ${summarizeOptions(relay.up.options)}; down ${summarizeOptions(relay.down.options)}`);
  }

  private setState(path: EmulatedPath, up: boolean): void {
    if (path.isUp === up) return;
    path.isUp = up;
    path.relay.setUp(up);
    this.log(`${this.elapsed()} ${path.config.name} ${up ? 'up' : 'down'}`);
  }

  private scheduleScript(path: EmulatedPath): void {
    const step = path.config.script[path.scriptDone];
    if (step === undefined || this.closing !== null) return;
    const wait = this.startedAt + step.atMs - this.clock.now();
    path.scriptTimer = this.clock.setTimer(() => {
      path.scriptTimer = null;
      this.runDueSteps(path);
    }, Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(wait))));
  }

  private runDueSteps(path: EmulatedPath): void {
    const elapsed = this.clock.now() - this.startedAt;
    let step: ScriptStep | undefined;
    while ((step = path.config.script[path.scriptDone]) !== undefined && step.atMs <= elapsed) {
      path.scriptDone++;
      if (step.patch !== null) this.apply(path, step.patch, `script "${step.text}"`);
      if (step.state !== null) this.setState(path, step.state === 'up');
    }
    this.scheduleScript(path);
  }

  private path(name: string): EmulatedPath {
    this.checkOpen();
    const path = this.byName.get(name);
    if (path === undefined) {
      throw new LinkemError('ERR_LINKEM_UNKNOWN_PATH', `no path named "${name}" (paths: ${[...this.byName.keys()].join(', ')})`);
    }
    return path;
  }

  private checkOpen(): void {
    if (this.closing !== null) throw new LinkemError('ERR_LINKEM_CLOSED', 'the link emulator is closed');
  }

  private elapsed(): string {
    return `t=${((this.clock.now() - this.startedAt) / 1000).toFixed(3)}s`;
  }
}

/** The target's IP address (a name is looked up once, at start). */
async function resolveTarget(config: ResolvedPath): Promise<HostPort> {
  const { host, port } = config.target;
  if (isIP(host) !== 0) return config.target;
  try {
    const found = await lookup(host);
    return { host: found.address, port };
  } catch (err) {
    throw new LinkemError('ERR_LINKEM_BAD_CONFIG', `path ${config.name}: cannot resolve target host ${host}: ${(err as Error).message}`, { cause: err });
  }
}
