/**
 * The rig's app children log nothing by default (their output would drown the figures).
 * MPTUN_RIG_LOG_DIR=<dir> makes each one write a debug log to <dir>/<role>.log, to find out
 * why a benchmark or soak transfer failed.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createLogger, type Logger, type LogLevel } from '@mptun/tunnel-common';

export function childLogger(role: string): { level: LogLevel; logger: Logger } {
  const dir = process.env.MPTUN_RIG_LOG_DIR;
  if (!dir) return { level: 'silent', logger: createLogger({ level: 'silent' }) };
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${role}.log`);
  return { level: 'debug', logger: createLogger({ level: 'debug', write: (line) => appendFileSync(file, line) }) };
}

/** While logging, one debug line a second: how late the timer ran (event-loop lag) and `describe()`. */
export function heartbeat(logger: Logger, describe: () => Record<string, unknown>): void {
  if (logger.level !== 'debug') return;
  let due = performance.now() + 1000;
  setInterval(() => {
    const lagMs = Math.round(performance.now() - due);
    due = performance.now() + 1000;
    logger.debug('heartbeat', { lagMs, ...describe() });
  }, 1000).unref();
}
