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

/** One server's figures from its /metrics page. */
export interface ServerFigures {
  host: string;
  /** Connections open now, their subflows, and connections accepted in all. */
  open: number;
  subflows: number;
  connections: number;
}

/**
 * Each server's figures once every open connection has `perConnection` subflows (a join that
 * went to the wrong server leaves fewer), or as they are after 15 s.
 */
export async function settledFigures(servers: ReadonlyArray<{ host: string; metrics: string }>, perConnection: number): Promise<ServerFigures[]> {
  const figures = async (): Promise<ServerFigures[]> =>
    Promise.all(servers.map(async (s) => {
      const page = await (await fetch(s.metrics)).text();
      return { host: s.host, open: metricSum(page, 'mptun_connections_open'), subflows: metricSum(page, 'mptun_subflows'), connections: metricSum(page, 'mptun_connections_total') };
    }));
  let seen = await figures();
  const deadline = Date.now() + 15_000;
  while (seen.some((f) => f.subflows !== perConnection * f.open) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    seen = await figures();
  }
  return seen;
}

/**
 * `perClient` echoes through each SOCKS address at once, all hash-checked by the caller;
 * after 120 s without all of them done, `explain` prints what the processes said and it fails.
 */
export async function echoAll(socks: readonly string[], targetPort: number, perClient: number, bytes: number, explain: () => void): Promise<Array<{ socket: Socket; sent: string; got: string }>> {
  let watchdog: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => (watchdog = setTimeout(() => reject(new Error('the echoes did not finish within 120 s')), 120_000)));
  const echoes = Promise.all(socks.flatMap((s) => Array.from({ length: perClient }, () => echoThroughSocks(s, targetPort, bytes))));
  return Promise.race([echoes, overdue]).finally(() => clearTimeout(watchdog)).catch((e: unknown) => {
    explain();
    throw e;
  });
}

/** The last lines each process wrote to stderr, to tell a balancer problem from an mptun one. */
export function printLastWords(processes: ReadonlyArray<{ who: string; app: { stderr(): string } }>): void {
  for (const p of processes) console.log(`--- ${p.who}\n${p.app.stderr().split('\n').slice(-12).join('\n')}`);
}
