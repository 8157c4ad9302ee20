/**
 * An endpoint-wide budget of bytes held in connection buffers: data written and not yet
 * acknowledged, data received and not yet read. Each connection reports what it holds, and
 * what the receive windows it already offered still let its peer send (a sender never takes
 * back a right edge it was given, RFC 9293 §3.8.6). As the budget fills:
 * - write() takes no more than the bytes not held (`room`);
 * - each connection's new receive window is an equal share of what is neither held nor
 *   offered (`share`), so windows offered together stay within the budget.
 * Offered windows do not count against write(): idle connections with open windows would
 * otherwise stop every download.
 */
export class BufferBudget {
  private used = 0;
  private offered = 0;
  private members = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly limit: number) {}

  /** Bytes the connections hold now. */
  get held(): number {
    return this.used;
  }

  /** Bytes write() may still take in. */
  get room(): number {
    return Math.max(0, this.limit - this.used);
  }

  /** One connection's share of what is neither held nor offered, for its receive window (RFC 8684 §3.3.4). */
  get share(): number {
    return Math.floor(Math.max(0, this.limit - this.used - this.offered) / Math.max(1, this.members));
  }

  join(): void {
    this.members++;
  }

  /** A connection leaves, giving back what it held and offered. */
  leave(held: number, offered: number, wake: () => void): void {
    this.members = Math.max(0, this.members - 1);
    this.waiting.delete(wake);
    this.change(-held, -offered);
  }

  /** What a connection holds and offers changed; room that opens wakes the waiting writers. */
  change(heldDelta: number, offeredDelta: number): void {
    this.used += heldDelta;
    this.offered += offeredDelta;
    if (heldDelta >= 0 || this.waiting.size === 0 || this.room === 0) return;
    const woken = [...this.waiting];
    this.waiting.clear();
    for (const wake of woken) wake();
  }

  /** Call `wake` once, the next time held bytes are given back while there is room. */
  waitForRoom(wake: () => void): void {
    this.waiting.add(wake);
  }
}
