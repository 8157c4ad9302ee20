/**
 * Which local addresses carry paths: `--path` values (an address or an interface name)
 * resolved through os.networkInterfaces(). `--path auto` is MptcpClient's interface watcher.
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
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
