/**
 * Which local addresses carry paths: `--path` values (an address or an interface name)
 * resolved through os.networkInterfaces(), and `--path auto`, which follows the machine's
 * interfaces as they come and go.
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { InterfaceWatcher, nodeInterfaces, type InterfaceChange, type InterfaceEntry } from '@mptun/path-manager';
import { MptunError } from '@mptun/node';

export type InterfaceTable = Record<string, Array<{ address: string; family: string | number; internal: boolean }> | undefined>;

/**
 * An address stays as it is; an interface name becomes its first IPv4 address (else its
 * first IPv6 one). Anything else is an error naming the interfaces there are.
 */
export function resolvePathAddress(value: string, table: InterfaceTable = networkInterfaces()): string {
  if (isIP(value)) return value;
  const list = table[value];
  if (list && list.length > 0) {
    const v4 = list.find((a) => a.family === 'IPv4' || a.family === 4);
    return (v4 ?? list[0]!).address;
  }
  const names = Object.keys(table).join(', ') || 'none';
  throw new MptunError('ERR_MPTUN_BAD_OPTION', `path "${value}" is neither an IP address nor an interface with an address (interfaces: ${names})`);
}

/**
 * Bind a UDP socket to `address` once, so a path address this machine does not have fails
 * at start with the address and the reason rather than retrying quietly for ever.
 */
export function checkLocalAddress(address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.close();
      const why = err.code === 'EADDRNOTAVAIL' ? 'it is not an address of this machine' : err.message;
      reject(new MptunError('ERR_MPTUN_BAD_ADDRESS', `path ${address}: cannot bind (${err.code ?? 'error'}): ${why}`));
    });
    sock.bind({ address, port: 0, exclusive: true }, () => sock.close(() => resolve()));
  });
}

export interface AutoPathsOptions {
  source?: () => readonly InterfaceEntry[];
  pollIntervalMs?: number;
  debounceMs?: number;
  /** Take loopback addresses too (tests). */
  includeInternal?: boolean;
  onChange: (change: InterfaceChange) => void;
}

/**
 * `--path auto`: every up, non-internal interface address. The first sample is taken at
 * once (returned as `initial`); later changes are reported after the watcher's debounce.
 */
export function watchInterfaces(opts: AutoPathsOptions): { initial: string[]; stop(): void } {
  const watcher = new InterfaceWatcher({
    source: opts.source ?? nodeInterfaces,
    pollIntervalMs: opts.pollIntervalMs ?? 1000,
    debounceMs: opts.debounceMs ?? 2000,
    includeInternal: opts.includeInternal ?? false,
  });
  const initial = watcher.poll(performance.now()).map((c) => c.address);
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    const wait = Math.max(0, watcher.nextTimeout() - performance.now());
    timer = setTimeout(() => {
      for (const change of watcher.poll(performance.now())) opts.onChange(change);
      arm();
    }, wait);
    timer.unref();
  };
  arm();
  return {
    initial,
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
