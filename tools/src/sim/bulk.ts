/**
 * A bulk transfer in the simulator for benchmarks: a client sends as fast as the engine
 * lets it for a fixed stretch of virtual time over the given paths; the figures are what
 * the server's application read.
 */
import { Endpoint, SeededRandom, ccFactory, type EndpointConfig } from '@mptun/core';
import { schedulerFactory } from '@mptun/scheduler';
import { Pair, type LinkOptions } from '@mptun/sim';

export interface BulkSpec {
  seed: number;
  paths: Array<{ forward: LinkOptions; backward?: LinkOptions }>;
  seconds: number;
  cc?: string;
  scheduler?: string;
  config?: Partial<EndpointConfig>;
}

export interface BulkResult {
  goodputBps: number;
  bytesRead: number;
  /** Payload bytes that crossed each path towards the server. */
  bytesPerPath: number[];
  peakReceiveBuffer: number;
  /** Per-chunk delivery delay from write to read, ms, sorted. */
  delays: number[];
}

const CHUNK = 16 * 1024;

export function runBulk(spec: BulkSpec): BulkResult {
  const rng = new SeededRandom(spec.seed);
  const base: EndpointConfig = {
    random: rng.fork(),
    scheduler: schedulerFactory(spec.scheduler ?? 'minrtt'),
    congestionControl: ccFactory(spec.cc ?? 'cubic'),
    ...spec.config,
  };
  const client = new Endpoint(base);
  const server = new Endpoint({ ...base, random: rng.fork() });
  server.listen(443);
  const cp: number[] = [];
  const sp: number[] = [];
  spec.paths.forEach((_, i) => {
    cp.push(client.openPath({ host: `10.0.${i}.2`, port: 40000 + i }, { host: '10.9.9.9', port: 443 }));
    sp.push(server.openPath({ host: '10.9.9.9', port: 443 }, { host: `10.0.${i}.2`, port: 40000 + i }));
  });
  const pair = new Pair(client, server, spec.paths.map((p, i) => ({ ...p, pathIdA: cp[i]!, pathIdB: sp[i]! })), { seed: spec.seed });
  const bytesPerPath = spec.paths.map(() => 0);
  pair.onPacket = (ev) => {
    if (ev.type === 'deliver' && ev.to === 'b') bytesPerPath[ev.path] = (bytesPerPath[ev.path] ?? 0) + ev.bytes.length;
  };
  const chunk = new Uint8Array(CHUNK);
  const conn = client.connect(0, { path: cp[0]!, extraPaths: cp.slice(1) });
  let serverConn: ReturnType<Endpoint['connect']> | null = null;
  let written = 0;
  let read = 0;
  // Each write's end offset and time: a write's delay is from then until it was all read.
  const writes: Array<{ end: number; at: number }> = [];
  let nextWrite = 0;
  const delays: number[] = [];
  const endMs = spec.seconds * 1000;
  pair.run({
    until: endMs,
    stopWhen: () => {
      for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) if (ev.type === 'incoming' && !serverConn) serverConn = ev.connection;
      while (client.pollEvent()) { /* drain */ }
      for (;;) {
        const n = conn.write(chunk);
        if (n === 0) break;
        written += n;
        writes.push({ end: written, at: pair.now });
        if (n < CHUNK) break;
      }
      if (serverConn) {
        for (let d = serverConn.read(); d; d = serverConn.read()) {
          read += d.length;
          while (nextWrite < writes.length && writes[nextWrite]!.end <= read) delays.push(pair.now - writes[nextWrite++]!.at);
        }
      }
      return false;
    },
  });
  delays.sort((a, b) => a - b);
  return {
    goodputBps: (read * 8) / spec.seconds,
    bytesRead: read,
    bytesPerPath,
    peakReceiveBuffer: serverConn ? (serverConn as { peakReceiveBuffered: number }).peakReceiveBuffered : 0,
    delays,
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
