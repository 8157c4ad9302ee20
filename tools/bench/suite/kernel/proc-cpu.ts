/**
 * CPU time of another process from /proc/PID/stat (Linux): user + system, in seconds. Used
 * where the measured processes are the real apps in a namespace, not children that report
 * their own process.cpuUsage().
 */
import { readFileSync } from 'node:fs';

/**
 * utime + stime in clock ticks from the text of /proc/PID/stat. The command name (field 2)
 * is in parentheses and may hold spaces or ')', so fields are counted after the last ')'.
 */
export function parseStatTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('/proc stat: no command name');
  // After ")": field 3 (state) is index 0, so field n is index n - 3; utime 14, stime 15.
  const fields = stat.slice(close + 1).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (fields.length < 13 || !Number.isSafeInteger(utime) || !Number.isSafeInteger(stime) || utime < 0 || stime < 0) throw new Error('/proc stat: no utime/stime');
  return utime + stime;
}

/** USER_HZ: 100 on every Linux architecture Node supports (the kernel's ABI, sysconf(_SC_CLK_TCK)). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds used so far by `pid` (all its threads). */
export function cpuSecondsOf(pid: number): number {
  return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / CLOCK_TICKS_PER_SECOND;
}

/** Reads the CPU of each process now; stop() gives what each used since, and the wall time. */
export function cpuMeter(pids: Record<string, number>): { stop(): { seconds: number; cpuSeconds: Record<string, number> } } {
  const t0 = performance.now();
  const first = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSecondsOf(pid)]));
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const cpuSeconds = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSecondsOf(pid) - first[k]!]));
      return { seconds, cpuSeconds };
    },
  };
}
