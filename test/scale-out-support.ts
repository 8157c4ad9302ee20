/**
 * What the scale-out tests (several mptun-servers behind a stock balancer) share: a SOCKS5
 * echo through a client that stays open while the servers are looked at, and the sum of a
 * metric over a server's /metrics page.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** The sum of every series of `name` in a Prometheus text page. */
export function metricSum(page: string, name: string): number {
  let sum = 0;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * SOCKS5 CONNECT through the client to the echo target, then `bytes` random bytes out and
 * back; the socket stays open so the test can look at the servers while it is. Resolves with
 * the hashes of what was sent and what came back.
 */
export function echoThroughSocks(socks: string, targetPort: number, bytes: number): Promise<{ socket: Socket; sent: string; got: string }> {
  const [host, port] = [socks.slice(0, socks.lastIndexOf(':')), Number(socks.slice(socks.lastIndexOf(':') + 1))];
  const payload = randomBytes(bytes);
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let stage: 'method' | 'reply' | 'data' = 'method';
    let buf = Buffer.alloc(0);
    let received = 0;
    const hash = createHash('sha256');
    s.setTimeout(60_000, () => s.destroy(new Error(`echo stalled in stage ${stage} after ${received} bytes`)));
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (d: Buffer) => {
      if (stage === 'data') {
        hash.update(d);
        received += d.length;
        if (received >= bytes) {
          s.setTimeout(0);
          resolve({ socket: s, sent: createHash('sha256').update(payload).digest('hex'), got: hash.digest('hex') });
        }
        return;
      }
      buf = Buffer.concat([buf, d]);
      if (stage === 'method' && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 'reply';
        s.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, targetPort >> 8, targetPort & 0xff]));
      }
      if (stage === 'reply' && buf.length >= 10) {
        if (buf[1] !== 0) return s.destroy(new Error(`SOCKS reply ${buf[1]}`));
        stage = 'data';
        s.write(payload);
      }
    });
  });
}
