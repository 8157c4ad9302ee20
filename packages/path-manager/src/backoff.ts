/**
 * Retry schedule for a subflow that failed: exponential backoff with jitter drawn from an
 * injected RandomSource (so a seed reproduces it), a cap, and a bound on attempts.
 */
import { randomU32, type RandomSource } from '@mptun/core';
import { PathManagerError } from './errors.js';

export interface RetryPolicy {
  /** Delay after the first failure, ms. */
  baseMs: number;
  /** Growth per further failure. */
  factor: number;
  /** Largest delay, ms (before jitter, which only shortens it). */
  maxMs: number;
  /** Share of the delay that is random, 0..1: the delay is drawn from (d·(1−jitter), d]. */
  jitter: number;
  /** Consecutive failed attempts after which the slot is left alone (until its addresses change). */
  maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  baseMs: 500,
  factor: 2,
  maxMs: 30_000,
  jitter: 0.5,
  maxAttempts: 6,
});

export function resolveRetryPolicy(patch: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...patch };
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new PathManagerError('ERR_PM_BAD_OPTION', `retry policy: ${what}`);
  };
  check(Number.isFinite(p.baseMs) && p.baseMs >= 0, `baseMs must be a finite number >= 0, got ${p.baseMs}`);
  check(Number.isFinite(p.factor) && p.factor >= 1, `factor must be a finite number >= 1, got ${p.factor}`);
  check(Number.isFinite(p.maxMs) && p.maxMs >= p.baseMs, `maxMs must be finite and >= baseMs, got ${p.maxMs}`);
  check(Number.isFinite(p.jitter) && p.jitter >= 0 && p.jitter <= 1, `jitter must be within [0, 1], got ${p.jitter}`);
  check(Number.isInteger(p.maxAttempts) && p.maxAttempts >= 1, `maxAttempts must be an integer >= 1, got ${p.maxAttempts}`);
  return p;
}

/** The un-jittered delay after the n-th consecutive failure (n >= 1). */
export function backoffCeiling(failures: number, policy: RetryPolicy): number {
  return Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, failures - 1));
}

/**
 * The delay after the n-th consecutive failure: the ceiling minus a random share of up to
 * `jitter` of it, so retries of many subflows that failed together spread out.
 */
export function backoffDelay(failures: number, policy: RetryPolicy, random: RandomSource): number {
  const ceiling = backoffCeiling(failures, policy);
  const u = randomU32(random) / 4294967296;
  return ceiling * (1 - policy.jitter * u);
}
