/** Small statistics helpers for simulator figures. */

/**
 * The p-th percentile (0..100) of samples by the nearest-rank method: the smallest value
 * with at least p% of the samples at or below it. NaN for no samples. Does not reorder
 * its input.
 */
export function percentileOf(samples: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** A stretch of time with nothing delivered to the application: [start, end) in ms. */
export interface Gap {
  start: number;
  end: number;
}

/**
 * Records when an application received data and keeps the silences between deliveries
 * that last at least `minGapMs`. Memory is bounded: only the longest `maxGaps` are kept.
 */
export class GapRecorder {
  private last = NaN;
  private readonly kept: Gap[] = [];

  constructor(
    readonly minGapMs: number,
    readonly maxGaps = 1000,
  ) {}

  /** Time of the latest delivery (NaN before the first). */
  get lastDelivery(): number {
    return this.last;
  }

  /** Data reached the application at `now`. */
  delivered(now: number): void {
    if (this.last === this.last && now - this.last >= this.minGapMs) this.keep({ start: this.last, end: now });
    this.last = now;
  }

  /** The gaps kept so far, in time order. */
  gaps(): Gap[] {
    return [...this.kept].sort((a, b) => a.start - b.start);
  }

  /**
   * The first silence of at least `minLength` ms that starts within [from, to], or null.
   * A silence still open at `now` counts up to `now`.
   */
  firstStartingIn(from: number, to: number, minLength: number, now: number): Gap | null {
    for (const g of this.withOpen(now)) if (g.start >= from && g.start <= to && g.end - g.start >= minLength) return g;
    return null;
  }

  /** The longest gap overlapping [from, to], or null. A silence still open at `now` counts up to `now`. */
  longestIn(from: number, to: number, now: number): Gap | null {
    let best: Gap | null = null;
    for (const g of this.withOpen(now)) {
      if (g.end < from || g.start > to) continue;
      if (best === null || g.end - g.start > best.end - best.start) best = g;
    }
    return best;
  }

  private withOpen(now: number): Gap[] {
    const all = this.gaps();
    if (this.last === this.last && now - this.last >= this.minGapMs) all.push({ start: this.last, end: now });
    return all;
  }

  private keep(g: Gap): void {
    this.kept.push(g);
    if (this.kept.length <= this.maxGaps) return;
    // Drop the shortest: those are the least interesting.
    let shortest = 0;
    for (let i = 1; i < this.kept.length; i++) {
      const k = this.kept[i]!;
      const s = this.kept[shortest]!;
      if (k.end - k.start < s.end - s.start) shortest = i;
    }
    this.kept.splice(shortest, 1);
  }
}
