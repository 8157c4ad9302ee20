/**
 * A stand-in for an HTTP reverse proxy in front of WebSocket servers on 127.0.0.1: each
 * upgrade request is recorded, sent to the port `route` picks, and the two sockets are piped.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface SeenUpgrade {
  url: string;
  headers: IncomingHttpHeaders;
  /** The backend port the request went to. */
  port: number;
}

export interface UpgradeProxy {
  port: number;
  seen: SeenUpgrade[];
  close(): Promise<void>;
}

export async function startUpgradeProxy(route: (req: IncomingMessage) => number): Promise<UpgradeProxy> {
  const seen: SeenUpgrade[] = [];
  const sockets = new Set<Socket>();
  const server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const port = route(req);
    seen.push({ url: req.url ?? '', headers: req.headers, port });
    const upstream = connect(port, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`), '', ''];
      upstream.write(lines.join('\r\n'));
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
