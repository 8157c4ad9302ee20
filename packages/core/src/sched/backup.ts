/**
 * Hot-standby (the "backup" use of MPTCP in RFC 6897 appendix A): all traffic goes on one
 * preferred subflow, the lowest-RTT usable regular one; the other subflows stay
 * established but idle, ready to take over. Another subflow carries data only when the
 * preferred one is potentially failed or gone: the next-best regular subflow then becomes
 * preferred, and the backups only when no regular subflow is usable.
 *
 * When the preferred subflow is merely full, this waits rather than spilling (overflow.ts
 * is the variant that spills).
 */
import type { SchedDecision, SchedInput, Scheduler } from './scheduler.js';
import { WAIT, fastest, hasRoom, usableTier } from './candidates.js';

export class BackupScheduler implements Scheduler {
  readonly name = 'backup';

  pick(input: SchedInput): SchedDecision {
    const preferred = fastest(usableTier(input.subflows));
    if (preferred === undefined || !hasRoom(preferred)) return WAIT;
    return [preferred.id];
  }
}

export function backupScheduler(): Scheduler {
  return new BackupScheduler();
}
