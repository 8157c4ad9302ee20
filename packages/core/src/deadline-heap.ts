/**
 * The earliest deadline among many keys (an endpoint's connections), without visiting every
 * key on each step: a binary min-heap with lazy deletion. Each key has one current deadline;
 * an entry whose deadline is no longer its key's current one is stale and skipped when it
 * surfaces. The heap is rebuilt when stale entries pile up.
 */
interface Entry<K> {
  at: number;
  key: K;
}

export class DeadlineHeap<K> {
  private heap: Entry<K>[] = [];
  private readonly current = new Map<K, number>();

  get size(): number {
    return this.current.size;
  }

  /** Set `key`'s deadline (Infinity: none). */
  set(key: K, at: number): void {
    if (at === Infinity) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === at) return;
    this.current.set(key, at);
    this.push({ at, key });
    if (this.heap.length > 2 * this.current.size + 1024) this.rebuild();
  }

  delete(key: K): void {
    this.current.delete(key);
  }

  /** `key`'s current deadline, or undefined when it has none. */
  get(key: K): number | undefined {
    return this.current.get(key);
  }

  /** The earliest current deadline, or Infinity. */
  peek(): number {
    this.dropStale();
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity;
  }

  /** Removes and returns every key whose deadline is at or before `now`, earliest first. */
  takeDue(now: number): K[] {
    const due: K[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return due;
      this.pop();
      this.current.delete(top.key);
      due.push(top.key);
    }
  }

  private dropStale(): void {
    while (this.heap.length > 0 && this.current.get(this.heap[0]!.key) !== this.heap[0]!.at) this.pop();
  }

  private rebuild(): void {
    this.heap = [];
    for (const [key, at] of this.current) this.push({ at, key });
  }

  private push(e: Entry<K>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= e.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const child = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[child]!.at >= last.at) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
  }
}
