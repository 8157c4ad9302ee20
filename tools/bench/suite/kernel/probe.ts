/**
 * Whether this machine can run the kernel-MPTCP section: Linux, root, `ip`, `tc` and
 * python3 on PATH, MPTCP enabled, a TUN device for the delay line. Probing does I/O;
 * deciding (skipReason) is pure so it can be tested.
 */
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { succeeds } from './exec.js';

export interface KernelEnvironment {
  platform: string;
  /** Effective uid, or undefined where there is none (Windows). */
  uid: number | undefined;
  hasIp: boolean;
  hasTc: boolean;
  hasPython: boolean;
  /** Contents of /proc/sys/net/mptcp/enabled, or undefined if it cannot be read (no MPTCP). */
  mptcpEnabled: string | undefined;
  hasTun: boolean;
}

/** Why the section cannot run here, or undefined if it can. */
export function skipReason(env: KernelEnvironment): string | undefined {
  if (env.platform !== 'linux') return `not Linux (${env.platform})`;
  if (env.uid !== 0) return `not root (uid ${env.uid ?? 'unknown'}): network namespaces need it`;
  if (!env.hasIp) return 'no `ip` (iproute2) on PATH';
  if (!env.hasTc) return 'no `tc` (iproute2) on PATH';
  if (!env.hasPython) return 'no python3 on PATH (the MPTCP sender/receiver is a Python script)';
  if (env.mptcpEnabled === undefined) return 'this kernel has no MPTCP (/proc/sys/net/mptcp/enabled is missing)';
  if (env.mptcpEnabled.trim() !== '1') return `MPTCP is disabled (net.mptcp.enabled = ${env.mptcpEnabled.trim()})`;
  if (!env.hasTun) return 'no /dev/net/tun (the delay line needs a TUN device)';
  return undefined;
}

export async function probeEnvironment(): Promise<KernelEnvironment> {
  const platform = process.platform;
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  if (platform !== 'linux') return { platform, uid, hasIp: false, hasTc: false, hasPython: false, mptcpEnabled: undefined, hasTun: false };
  const [hasIp, hasTc, hasPython, mptcpEnabled, hasTun] = await Promise.all([
    succeeds({ file: 'ip', args: ['-V'] }),
    succeeds({ file: 'tc', args: ['-V'] }),
    succeeds({ file: 'python3', args: ['-c', 'import socket, select, fcntl'] }),
    readFile('/proc/sys/net/mptcp/enabled', 'utf8').catch(() => undefined),
    access('/dev/net/tun', constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    ),
  ]);
  return { platform, uid, hasIp, hasTc, hasPython, mptcpEnabled, hasTun };
}
