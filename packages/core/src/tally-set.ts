/**
 * A set whose members are each filed under a few keys (a listener, a source address), with a
 * count per key: what per-source and per-listener budgets need to ask "how many from here?".
 */
export class TallySet<T> {
  private readonly members = new Map<T, readonly string[]>();
  private readonly counts = new Map<string, number>();

  get size(): number {
    return this.members.size;
  }

  /** Members filed under `key`. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  has(item: T): boolean {
    return this.members.has(item);
  }

  add(item: T, keys: readonly string[]): void {
    if (this.members.has(item)) return;
    this.members.set(item, keys);
    for (const k of keys) this.counts.set(k, this.count(k) + 1);
  }

  delete(item: T): boolean {
    const keys = this.members.get(item);
    if (!keys) return false;
    this.members.delete(item);
    for (const k of keys) {
      const n = this.count(k) - 1;
      if (n > 0) this.counts.set(k, n);
      else this.counts.delete(k);
    }
    return true;
  }

  values(): IterableIterator<T> {
    return this.members.keys();
  }

  clear(): void {
    this.members.clear();
    this.counts.clear();
  }
}
