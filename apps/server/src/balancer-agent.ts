/**
 * HAProxy's agent check: the proxy opens a TCP connection to this port every few seconds and
 * reads one line that sets the server's state. A serving server says "up ready"; a draining
 * one says "drain", which keeps new first paths away from it while paths that ask for it by
 * affinity token (`use-server`) still reach it, so its open connections can finish.
 *
 * The reply reveals only that state. Whatever the proxy sends (`agent-send`) is ignored; each
 * connection gets its line and is closed, and one that lingers is cut after a second.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface BalancerAgent {
  /** The address it listens on (the port the OS chose where 0 was asked for). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

const LINGER_MS = 1_000;

/** The agent's line for a server that is (or is not) draining. */
export function agentReply(draining: boolean): string {
  return draining ? 'drain\n' : 'up ready\n';
}

export async function startBalancerAgent(host: string, port: number, draining: () => boolean): Promise<BalancerAgent> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {}); // agent-send text: read and dropped
    socket.setTimeout(LINGER_MS, () => socket.destroy());
    socket.end(agentReply(draining()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const actualPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    address: { host, port: actualPort },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
