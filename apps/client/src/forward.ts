/**
 * Local port forwards (`-L [bind:]port:host:port`, as ssh spells them): every TCP
 * connection accepted on the bind address becomes one tunnel connection to host:port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { MptunError } from '@mptun/node';
import { listenTcp } from './listen.js';
import type { Logger } from '@mptun/tunnel-common';
import { formatTarget, type ConnectionRegistry } from './connections.js';
import { EARLY_DATA_WAIT_MS, readEarlyData } from './early-data.js';
import { spliceOrReset, type TunnelOpener } from './tunnel.js';

export interface ForwardSpec {
  bind: { host: string; port: number };
  target: { host: string; port: number };
}

/**
 * Parse `[bind:]port:host:port`. IPv6 literals go in brackets ("[::1]:8080:[::1]:80");
 * without a bind address the forward listens on 127.0.0.1 only.
 */
export function parseForward(spec: string): ForwardSpec {
  const parts: string[] = [];
  const re = /\[([^\]]*)\]|([^:]+)/gy;
  let i = 0;
  while (i < spec.length) {
    re.lastIndex = i;
    const m = re.exec(spec);
    if (!m) throw bad(spec, 'empty field');
    parts.push(m[1] ?? m[2]!);
    i = re.lastIndex;
    if (i < spec.length) {
      if (spec[i] !== ':') throw bad(spec, `unexpected "${spec[i]}"`);
      i++;
      if (i === spec.length) throw bad(spec, 'ends with ":"');
    }
  }
  if (parts.length !== 3 && parts.length !== 4) throw bad(spec, 'expected [bind:]port:host:port');
  const [bindHost, bindPort, host, port] = parts.length === 4 ? parts : ['127.0.0.1', ...parts];
  if (!host) throw bad(spec, 'empty target host');
  return { bind: { host: bindHost!, port: portOf(spec, bindPort!, true) }, target: { host, port: portOf(spec, port!, false) } };
}

function portOf(spec: string, s: string, zeroOk: boolean): number {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(n >= (zeroOk ? 0 : 1) && n <= 65535)) throw bad(spec, `bad port "${s}"`);
  return n;
}

function bad(spec: string, why: string): MptunError {
  return new MptunError('ERR_MPTUN_BAD_OPTION', `-L "${spec}": ${why}`);
}

export interface RunningForward {
  bind: { host: string; port: number };
  target: { host: string; port: number };
  close(): Promise<void>;
}

export async function startForward(
  spec: ForwardSpec,
  open: TunnelOpener,
  logger?: Logger,
  connections?: ConnectionRegistry,
  earlyDataWaitMs = EARLY_DATA_WAIT_MS,
): Promise<RunningForward> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (err) => logger?.debug('forward: socket error', { target: formatTarget(spec.target), error: err }));
    void relayAccepted(socket);
  });
  /** The application's first bytes ride the tunnel request (early-data.ts); then both ways. */
  const relayAccepted = async (socket: Socket): Promise<void> => {
    let result;
    let early: Buffer;
    try {
      early = earlyDataWaitMs > 0 ? await readEarlyData(socket, earlyDataWaitMs) : Buffer.alloc(0);
      if (socket.destroyed) return; // gone before it said anything: no tunnel for it
      result = await open(spec.target, early);
    } catch {
      socket.destroy();
      return;
    }
    // A TCP client has no status channel: a reset is the closest thing to "refused".
    spliceOrReset(socket, result, { target: spec.target, label: formatTarget(spec.target), early: early.length, refused: 'forward: the tunnel refused the connection', logger, connections });
  };
  const bind = await listenTcp(server, spec.bind.host, spec.bind.port, `forward -L ${spec.bind.host}:${spec.bind.port}`);
  return {
    bind,
    target: spec.target,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
