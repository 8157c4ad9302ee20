/**
 * A binary min-heap of timed events, ordered by time and then by insertion sequence so
 * that events at the same instant fire in the order they were scheduled (FIFO ties keep
 * the simulation deterministic).
 */
export interface TimedEvent {
  /** Virtual time (ms) the event fires at. */
  time: number;
  /** Tie-breaker: assigned by the scheduler, strictly increasing. */
  seq: number;
}

export class EventHeap<E extends TimedEvent> {
  private readonly items: E[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest event, without removing it. */
  peek(): E | undefined {
    return this.items[0];
  }

  push(event: E): void {
    const items = this.items;
    let i = items.length;
    items.push(event);
    // Sift up: move the hole towards the root while the parent fires later.
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!firesBefore(event, parent)) break;
      items[i] = parent;
      i = parentIndex;
    }
    items[i] = event;
  }

  /** Remove and return the earliest event. */
  pop(): E | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    // Sift down: place `last` at the root and move the hole down to where it fits.
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let childItem = items[left]!;
      if (right < n) {
        const rightItem = items[right]!;
        if (firesBefore(rightItem, childItem)) {
          child = right;
          childItem = rightItem;
        }
      }
      if (!firesBefore(childItem, last)) break;
      items[i] = childItem;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

function firesBefore(a: TimedEvent, b: TimedEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
