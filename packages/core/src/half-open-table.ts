/**
 * Half-open connections (SYN received, handshake not complete) counted per listener and per
 * source address within a listener, so a flood on one listener, or from one host, cannot
 * take the room every other listener and host needs (SYN flood bound, RFC 4987 §3.2).
 */
import type { ResolvedConfig } from './config.js';

export interface HalfOpenBudget {
  /** The listener the SYN came in on. */
  listener: string;
  /** The address it came from. */
  source: string;
}

export class HalfOpenTable<K = unknown> {
  private readonly entries = new Map<K, { listenerKey: string; sourceKey: string }>();
  private readonly counts = new Map<string, number>();

  get size(): number {
    return this.entries.size;
  }

  hasRoom(b: HalfOpenBudget, cfg: Pick<ResolvedConfig, 'maxHalfOpen' | 'maxHalfOpenPerSource'>): boolean {
    return (this.counts.get(listenerKey(b)) ?? 0) < cfg.maxHalfOpen && (this.counts.get(sourceKey(b)) ?? 0) < cfg.maxHalfOpenPerSource;
  }

  add(item: K, b: HalfOpenBudget): void {
    if (this.entries.has(item)) return;
    const e = { listenerKey: listenerKey(b), sourceKey: sourceKey(b) };
    this.entries.set(item, e);
    this.bump(e.listenerKey, 1);
    this.bump(e.sourceKey, 1);
  }

  delete(item: K): void {
    const e = this.entries.get(item);
    if (!e) return;
    this.entries.delete(item);
    this.bump(e.listenerKey, -1);
    this.bump(e.sourceKey, -1);
  }

  private bump(key: string, by: number): void {
    const n = (this.counts.get(key) ?? 0) + by;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }
}

function listenerKey(b: HalfOpenBudget): string {
  return `l ${b.listener}`;
}

function sourceKey(b: HalfOpenBudget): string {
  return `s ${b.listener} ${b.source}`;
}
