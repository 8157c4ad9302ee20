/** Bind a TCP server, turning the usual bind failures into errors that say what to change. */
import type { Server } from 'node:net';
import { MptunError } from '@mptun/node';

export function listenTcp(server: Server, host: string, port: number, what: string): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (err.code === 'EADDRINUSE') reject(new MptunError('ERR_MPTUN_ADDRESS_IN_USE', `${what}: ${where} is already in use; pick another port`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new MptunError('ERR_MPTUN_BAD_ADDRESS', `${what}: ${host} is not an address of this machine`));
      else if (err.code === 'EACCES') reject(new MptunError('ERR_MPTUN_PERMISSION', `${what}: no permission to listen on ${where}`));
      else reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const a = server.address();
      resolve(a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

/** "host:port" for a local listener; port 0 asks the system for a free port. */
export function parseListenAddress(s: string, what: string): { host: string; port: number } {
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new MptunError('ERR_MPTUN_BAD_OPTION', `${what}: expected host:port, got "${s}"`);
  return { host: m[1]!, port };
}
