/**
 * Half-open connections (SYN received, handshake not complete) counted per listener and per
 * source address within a listener, so a flood on one listener, or from one host, cannot
 * take the room every other listener and host needs (SYN flood bound, RFC 4987 §3.2).
 */
import type { ResolvedConfig } from './config.js';
import { TallySet } from './tally-set.js';

export interface HalfOpenBudget {
  /** The listener the SYN came in on. */
  listener: string;
  /** The address it came from. */
  source: string;
}

export class HalfOpenTable<K> {
  private readonly set = new TallySet<K>();

  get size(): number {
    return this.set.size;
  }

  hasRoom(b: HalfOpenBudget, cfg: Pick<ResolvedConfig, 'maxHalfOpen' | 'maxHalfOpenPerSource'>): boolean {
    return this.set.count(listenerKey(b)) < cfg.maxHalfOpen && this.set.count(sourceKey(b)) < cfg.maxHalfOpenPerSource;
  }

  add(item: K, b: HalfOpenBudget): void {
    this.set.add(item, [listenerKey(b), sourceKey(b)]);
  }

  delete(item: K): void {
    this.set.delete(item);
  }
}

function listenerKey(b: HalfOpenBudget): string {
  return `l ${b.listener}`;
}

function sourceKey(b: HalfOpenBudget): string {
  return `s ${b.listener} ${b.source}`;
}
