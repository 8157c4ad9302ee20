/**
 * A small HTTP/1.0 GET through a SOCKS5 proxy (RFC 1928, domain-name address so the proxy
 * resolves it, as curl --socks5-hostname does). It hashes the body as it arrives and records
 * when each chunk came, so the caller can find the longest stall.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

export interface DownloadProgress {
  bytes: number;
  /** Content-Length, once the headers are in. */
  total: number | null;
}

export interface DownloadResult {
  status: number;
  bytes: number;
  sha256: string;
  startedAt: number;
  firstByteAt: number;
  endedAt: number;
  /** Longest time between two body chunks, and when it started. */
  longestGapMs: number;
  longestGapAt: number;
}

export class SocksDownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocksDownloadError';
  }
}

const MAX_HEADER_BYTES = 16 * 1024;

export function socksHttpGet(
  proxy: { host: string; port: number },
  url: string,
  onProgress?: (p: DownloadProgress) => void,
  now: () => number = () => performance.now(),
): { done: Promise<DownloadResult>; abort(): void } {
  const u = new URL(url);
  const port = Number(u.port || 80);
  const conn = net.connect({ host: proxy.host, port: proxy.port });
  const done = new Promise<DownloadResult>((resolve, reject) => {
    const hash = createHash('sha256');
    const startedAt = now();
    let stage: 'method' | 'reply' | 'headers' | 'body' = 'method';
    let buffered = Buffer.alloc(0);
    let status = 0;
    let total: number | null = null;
    let bytes = 0;
    let firstByteAt = 0;
    let lastChunkAt = 0;
    let longestGapMs = 0;
    let longestGapAt = 0;
    const fail = (msg: string): void => {
      conn.destroy();
      reject(new SocksDownloadError(msg));
    };
    conn.on('error', (err) => reject(new SocksDownloadError(`proxy connection: ${err.message}`)));
    conn.once('connect', () => conn.write(Buffer.from([5, 1, 0])));
    const body = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      const t = now();
      if (bytes === 0) firstByteAt = t;
      else if (t - lastChunkAt > longestGapMs) {
        longestGapMs = t - lastChunkAt;
        longestGapAt = lastChunkAt;
      }
      lastChunkAt = t;
      bytes += chunk.length;
      hash.update(chunk);
      onProgress?.({ bytes, total });
    };
    conn.on('data', (chunk: Buffer) => {
      if (stage === 'body') return body(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'method') {
        if (buffered.length < 2) return;
        if (buffered[0] !== 5 || buffered[1] !== 0) return fail(`the proxy refused the no-auth method (${buffered[1]})`);
        buffered = buffered.subarray(2);
        const name = Buffer.from(u.hostname, 'latin1');
        const req = Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 0xff])]);
        conn.write(req);
        stage = 'reply';
      }
      if (stage === 'reply') {
        if (buffered.length < 10) return; // our proxy answers with an IPv4 BND address
        if (buffered[1] !== 0) return fail(`SOCKS5 reply ${buffered[1]}`);
        buffered = buffered.subarray(10);
        conn.write(`GET ${u.pathname}${u.search} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n`);
        stage = 'headers';
      }
      if (stage === 'headers') {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffered.length > MAX_HEADER_BYTES) fail('HTTP headers too long');
          return;
        }
        const head = buffered.subarray(0, end).toString('latin1').split('\r\n');
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
        const len = head.find((h) => /^content-length:/i.test(h));
        total = len ? Number(len.split(':')[1]) : null;
        stage = 'body';
        body(buffered.subarray(end + 4));
      }
    });
    conn.once('end', () => {
      conn.end();
      if (stage !== 'body') return fail('the connection ended before the HTTP headers');
      if (total !== null && bytes !== total) return fail(`short body: ${bytes} of ${total} bytes`);
      resolve({ status, bytes, sha256: hash.digest('hex'), startedAt, firstByteAt, endedAt: now(), longestGapMs, longestGapAt });
    });
  });
  return { done, abort: () => conn.destroy() };
}
