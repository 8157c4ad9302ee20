/** A local HTTP server serving generated files whose SHA-256 is known in advance. */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

export interface ServedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface FileServer {
  readonly host: string;
  readonly port: number;
  readonly files: readonly ServedFile[];
  url(path: string): string;
  close(): Promise<void>;
}

/** Serve one random file per entry, at /<name>. */
export async function startFileServer(host: string, sizes: Record<string, number>): Promise<FileServer> {
  const bodies = new Map<string, Buffer>();
  const files: ServedFile[] = [];
  for (const [name, size] of Object.entries(sizes)) {
    const body = randomBytes(size);
    const path = `/${name}`;
    bodies.set(path, body);
    files.push({ path, size, sha256: createHash('sha256').update(body).digest('hex') });
  }
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const body = req.method === 'GET' ? bodies.get(req.url ?? '') : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host,
    port,
    files,
    url: (path) => `http://${host}:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
