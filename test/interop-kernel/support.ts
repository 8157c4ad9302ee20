/**
 * What the interop cases share: whether this machine can run them, moving random bytes
 * through an mptun socket with their SHA-256, and judging a case by the kernel's MIB
 * counters and tshark's MPTCP analysis.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Duplex } from 'node:stream';
import { expect } from 'vitest';
import { succeeds } from '../../tools/bench/suite/kernel/exec.js';
import type { Lab, TimedExpertReport } from './lab.js';

export { until } from '../../packages/node/test/support.js';

export const TEN_MB = 10 * 1024 * 1024;

/** Why the suite cannot run here, or undefined when it can. */
export async function interopSkipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  const uid = process.geteuid?.();
  if (uid !== 0) return `not root (uid ${uid ?? 'unknown'}): network namespaces and TUN devices need it`;
  const enabled = await readFile('/proc/sys/net/mptcp/enabled', 'utf8').catch(() => undefined);
  if (enabled === undefined) return 'this kernel has no MPTCP (/proc/sys/net/mptcp/enabled is missing)';
  if (enabled.trim() !== '1') return `MPTCP is disabled (net.mptcp.enabled = ${enabled.trim()})`;
  const tun = await access('/dev/net/tun', constants.R_OK | constants.W_OK).then(() => true, () => false);
  if (!tun) return 'no /dev/net/tun';
  for (const [file, args] of [['ip', ['-V']], ['python3', ['-c', 'import socket, fcntl, ctypes']], ['nstat', ['-V']], ['tshark', ['-v']]] as const) {
    if (!(await succeeds({ file, args: [...args] }))) return `no working \`${file}\` on PATH`;
  }
  return undefined;
}

/** A port for a case's listener: each case has a namespace of its own, so only the host side can clash. */
export function casePort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

export interface Digest {
  bytes: number;
  sha256: string;
}

/** Writes `total` random bytes with backpressure, then ends the stream unless told not to. */
export async function sendRandom(sock: Duplex, total: number, end = true): Promise<Digest> {
  const hash = createHash('sha256');
  let sent = 0;
  while (sent < total) {
    const chunk = randomBytes(Math.min(64 * 1024, total - sent));
    hash.update(chunk);
    sent += chunk.length;
    if (!sock.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          sock.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          sock.off('drain', onDrain);
          reject(new Error(`the socket closed after ${sent} of ${total} bytes were written`));
        };
        sock.once('drain', onDrain);
        sock.once('close', onClose);
      });
    }
  }
  if (end) sock.end();
  return { bytes: sent, sha256: hash.digest('hex') };
}

/** Reads until the peer's end (DATA_FIN) and returns what came, or rejects on an error. */
export function receiveAll(sock: Duplex): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    sock.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    sock.once('error', (e) => reject(e));
  });
}

/** The non-zero MIB counters, short names, for printing. */
export function formatMib(mib: Record<string, number>): string {
  return Object.entries(mib).filter(([, v]) => v > 0).map(([k, v]) => `${k.replace('MPTcpExt', '')}=${v}`).join(' ') || '(all zero)';
}

/** Counters that mean something went wrong unless a case expects them (RFC 8684 §3.7, §3.3.1, §3.2, §3.3.2). */
export const TROUBLE_COUNTERS = [
  'MPTcpExtMPCapableFallbackACK',
  'MPTcpExtMPCapableFallbackSYNACK',
  'MPTcpExtMPFallbackTokenInit',
  'MPTcpExtMPCapableDataFallback',
  'MPTcpExtDssFallback',
  'MPTcpExtFallbackFailed',
  'MPTcpExtInfiniteMapTx',
  'MPTcpExtInfiniteMapRx',
  'MPTcpExtDSSNotMatching',
  'MPTcpExtDSSCorruptionFallback',
  'MPTcpExtDSSCorruptionReset',
  'MPTcpExtDSSNoMatchTCP',
  'MPTcpExtDataCsumErr',
  'MPTcpExtMPFailTx',
  'MPTcpExtMPFailRx',
  'MPTcpExtMPJoinSynAckHMacFailure',
  'MPTcpExtMPJoinAckHMacFailure',
  'MPTcpExtMPJoinNoTokenFound',
  'MPTcpExtMPJoinRejected',
  'MPTcpExtDuplicateData',
  'MPTcpExtAddAddrDrop',
  'MPTcpExtRmAddrDrop',
] as const;

export interface CounterExpectation {
  /** Counters that must have reached at least this value. */
  atLeast?: Record<string, number>;
  /** Counters that must have exactly this value (names without the MPTcpExt prefix). */
  exactly?: Record<string, number>;
  /** Trouble counters this case may raise, up to the value given. */
  allow?: Partial<Record<(typeof TROUBLE_COUNTERS)[number], number>>;
}

/** Reads the case's MIB counters and tshark's findings, prints them, and checks them. */
export async function judge(lab: Lab, name: string, want: CounterExpectation): Promise<{ mib: Record<string, number>; expert: TimedExpertReport }> {
  lab.judged = true;
  const mib = await lab.mib();
  const bridge = await lab.bridgeStats();
  const expert = await lab.expert();
  console.log(`[interop] ${name}\n  kernel MIB: ${formatMib(mib)}\n  bridge: ${JSON.stringify(bridge)}\n  tshark: ${expert.seconds.toFixed(1)} s`);
  const expertLines = expert.entries.filter((e) => /mptcp/i.test(e.protocol)).map((e) => `${e.severity} ${e.count}× ${e.summary}`);
  if (expertLines.length > 0) console.log(`  tshark MPTCP expert: ${expertLines.join('; ')}`);
  for (const c of TROUBLE_COUNTERS) {
    const allowed = want.allow?.[c] ?? 0;
    expect(mib[c] ?? 0, `${c} in ${name}`).toBeLessThanOrEqual(allowed);
  }
  for (const [c, min] of Object.entries(want.atLeast ?? {})) expect(mib[`MPTcpExt${c}`] ?? 0, `${c} in ${name}`).toBeGreaterThanOrEqual(min);
  for (const [c, v] of Object.entries(want.exactly ?? {})) expect(mib[`MPTcpExt${c}`] ?? 0, `${c} in ${name}`).toBe(v);
  expect(bridge.bad_checksum, 'TCP checksum errors on packets the kernel sent').toBe(0);
  expect(expert.mptcpErrors, 'tshark MPTCP expert errors').toEqual([]);
  return { mib, expert };
}

/** Resolves when `sock` has closed, or rejects after timeoutMs. */
export function closed(sock: Duplex, timeoutMs = 15_000): Promise<void> {
  if (sock.destroyed && (sock as Duplex & { closed?: boolean }).closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket did not close within ${timeoutMs} ms`)), timeoutMs);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
