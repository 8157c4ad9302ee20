/**
 * Local addresses as the machine's interfaces come and go. On Linux, `ip -o monitor address
 * link` prints a line for every netlink address or link event: each line makes the watcher
 * sample os.networkInterfaces() at once, so a change is seen within milliseconds. Where the
 * command does not exist (or dies), the watcher polls instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { InterfaceWatcher, nodeInterfaces, type InterfaceChange, type InterfaceEntry, type InterfaceFilter } from '@mptun/path-manager';

export interface WatchOptions extends InterfaceFilter {
  /** The interface list (tests inject one). Default os.networkInterfaces(). */
  source?: () => readonly InterfaceEntry[];
  /** Netlink events through `ip -o monitor` when it runs. Default true. */
  ipMonitor?: boolean;
  /** Polling interval, ms: the fallback's, or a safety net beside ip monitor. Default 1000 / 5000. */
  pollIntervalMs?: number;
  /** How long a change must hold before it counts, ms. Default 0 with ip monitor, 2000 when polling. */
  debounceMs?: number;
}

export interface InterfaceWatch {
  /** "ip-monitor" while netlink events arrive, else "poll". */
  readonly source: 'ip-monitor' | 'poll';
  stop(): void;
}

/**
 * Report the addresses there are now (synchronously, as 'added') and every later change.
 */
export function watchLocalAddresses(opts: WatchOptions, onChange: (change: InterfaceChange) => void): InterfaceWatch {
  const monitor = opts.ipMonitor !== false && process.platform === 'linux' ? startIpMonitor() : null;
  const watcher = new InterfaceWatcher({
    ...opts,
    source: opts.source ?? nodeInterfaces,
    pollIntervalMs: opts.pollIntervalMs ?? (monitor ? 5000 : 1000),
    debounceMs: opts.debounceMs ?? (monitor ? 0 : 2000),
  });
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const poll = (): void => {
    if (stopped) return;
    for (const change of watcher.poll(performance.now())) onChange(change);
    arm();
  };
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(poll, Math.max(0, watcher.nextTimeout() - performance.now()));
    timer.unref();
  };
  const state = { source: (monitor ? 'ip-monitor' : 'poll') as InterfaceWatch['source'] };
  if (monitor) {
    monitor.onLine = poll;
    monitor.onExit = () => (state.source = 'poll');
  }
  poll();
  return {
    get source() {
      return state.source;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      monitor?.stop();
    },
  };
}

interface IpMonitor {
  onLine: () => void;
  onExit: () => void;
  stop(): void;
}

/** `ip -o monitor address link`, one callback per event line; null when it cannot start. */
function startIpMonitor(): IpMonitor | null {
  let child: ChildProcess;
  try {
    child = spawn('ip', ['-o', 'monitor', 'address', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
  const m: IpMonitor = { onLine: () => {}, onExit: () => {}, stop: () => child.kill() };
  child.on('error', () => m.onExit()); // ENOENT: no `ip` here; polling carries on
  child.on('exit', () => m.onExit());
  child.stdout!.setEncoding('utf8').on('data', () => m.onLine());
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  return m;
}
