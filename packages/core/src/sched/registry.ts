/**
 * The schedulers by name, for configuration files, the CLI and the RFC 6897 advanced API
 * ("set the scheduler"). Each call of a factory returns a fresh scheduler, so stateful
 * ones (round-robin's cursor, ECF's hysteresis) are never shared between connections.
 */
import type { Scheduler, SchedulerFactory } from './scheduler.js';
import { BackupScheduler } from './backup.js';
import { BlestScheduler } from './blest.js';
import { EcfScheduler } from './ecf.js';
import { MinRttScheduler } from './minrtt.js';
import { OverflowScheduler } from './overflow.js';
import { RedundantScheduler } from './redundant.js';
import { RoundRobinScheduler } from './round-robin.js';

export type SchedulerName = 'minrtt' | 'roundrobin' | 'redundant' | 'backup' | 'overflow' | 'blest' | 'ecf';

export const DEFAULT_SCHEDULER: SchedulerName = 'minrtt';

export const schedulers: Readonly<Record<SchedulerName, SchedulerFactory>> = Object.freeze({
  minrtt: (): Scheduler => new MinRttScheduler(),
  roundrobin: (): Scheduler => new RoundRobinScheduler(),
  redundant: (): Scheduler => new RedundantScheduler(),
  backup: (): Scheduler => new BackupScheduler(),
  overflow: (): Scheduler => new OverflowScheduler(),
  blest: (): Scheduler => new BlestScheduler(),
  ecf: (): Scheduler => new EcfScheduler(),
});

export const schedulerNames: readonly SchedulerName[] = Object.freeze(Object.keys(schedulers) as SchedulerName[]);

/** True for a registered name; inherited keys such as "toString" do not count. */
export function isSchedulerName(name: string): name is SchedulerName {
  return Object.hasOwn(schedulers, name);
}

/** The factory registered under `name`; throws an Error naming the valid choices. */
export function schedulerFactory(name: string): SchedulerFactory {
  if (!isSchedulerName(name)) {
    throw new Error(`unknown scheduler ${JSON.stringify(name)}; valid names: ${schedulerNames.join(', ')}`);
  }
  return schedulers[name];
}
