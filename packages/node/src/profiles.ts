import { ccFactory, schedulerFactory, type CcFactory, type SchedulerFactory } from '@mptun/core';
import { MptunError } from './errors.js';

/**
 * Connection profiles, the "high-level intents" of RFC 6897 appendix A: each names a
 * scheduler and a congestion controller. Explicit scheduler/congestionControl options win.
 */
export const profiles = {
  /**
   * Throughput first: lowest-RTT path with room, uncoupled per subflow. cubic-ld is CUBIC that
   * does not slow down for random loss and keeps its queue short (docs/benchmarks.md).
   */
  bulk: { scheduler: 'minrtt', congestionControl: 'cubic-ld' },
  /** Latency first: wait for the fast path rather than strand data on a slow one. */
  interactive: { scheduler: 'blest', congestionControl: 'cubic-ld' },
  /** Every byte on every path: the first copy to arrive wins. */
  reliable: { scheduler: 'redundant', congestionControl: 'cubic-ld' },
  /** Yield to everything else (LEDBAT), for background transfers. */
  background: { scheduler: 'minrtt', congestionControl: 'ledbat' },
} as const;

export type ProfileName = keyof typeof profiles;

export interface StrategyChoice {
  profile?: ProfileName;
  scheduler?: string;
  congestionControl?: string;
}

export interface ResolvedStrategy {
  scheduler: string;
  congestionControl: string;
  schedulerFactory: SchedulerFactory;
  ccFactory: CcFactory;
}

export function resolveStrategy(c: StrategyChoice): ResolvedStrategy {
  if (c.profile !== undefined && !(c.profile in profiles)) {
    throw new MptunError('ERR_MPTUN_BAD_OPTION', `unknown profile "${c.profile}"; valid profiles: ${Object.keys(profiles).join(', ')}`);
  }
  const p = profiles[c.profile ?? 'bulk'];
  const scheduler = c.scheduler ?? p.scheduler;
  const congestionControl = c.congestionControl ?? p.congestionControl;
  try {
    return { scheduler, congestionControl, schedulerFactory: schedulerFactory(scheduler), ccFactory: ccFactory(congestionControl) };
  } catch (e) {
    throw new MptunError('ERR_MPTUN_BAD_OPTION', (e as Error).message);
  }
}
