/**
 * A timer table: one deadline per timer kind, Infinity when the kind is not armed.
 *
 * Connection and Subflow each keep their timers here instead of in loose fields, so the
 * earliest deadline and the list of expired kinds come from one loop over the table rather
 * than from a hand-kept list that a new timer could be left out of. Time is whatever the
 * driver passes in (ms); the table never reads a clock (the engine is sans-IO).
 *
 * A kind may be derived instead of stored: its deadline is computed from other state each
 * time it is read (a keepalive from the last activity, a child's earliest deadline), so
 * nothing has to re-arm it whenever that state moves.
 */
export class TimerTable<K extends number> {
  private readonly at: Float64Array;
  private readonly derived: Array<(() => number) | undefined>;

  /** `kinds` is the number of timer kinds; kinds are 0..kinds-1 and fire in that order. */
  constructor(readonly kinds: number) {
    this.at = new Float64Array(kinds).fill(Infinity);
    this.derived = new Array<(() => number) | undefined>(kinds).fill(undefined);
  }

  /** Make `kind` a derived timer whose deadline `read` computes on demand. */
  derive(kind: K, read: () => number): void {
    this.derived[kind] = read;
  }

  /** The deadline of `kind`, Infinity when it is not armed. */
  get(kind: K): number {
    const read = this.derived[kind];
    return read ? read() : this.at[kind]!;
  }

  /** Arm `kind` for time `t` (Infinity disarms it). Derived kinds cannot be set. */
  set(kind: K, t: number): void {
    if (this.derived[kind]) throw new Error(`timer ${kind} is derived and cannot be set`);
    this.at[kind] = t;
  }

  clear(kind: K): void {
    this.set(kind, Infinity);
  }

  isArmed(kind: K): boolean {
    return this.get(kind) !== Infinity;
  }

  /** Whether `kind` has expired at `now`. */
  isDue(kind: K, now: number): boolean {
    return now >= this.get(kind);
  }

  /** Disarm every stored kind (derived ones follow their own state). */
  clearAll(): void {
    this.at.fill(Infinity);
  }

  /** The earliest deadline of any kind, Infinity when none is armed. */
  next(): number {
    let t = Infinity;
    for (let k = 0; k < this.kinds; k++) {
      const read = this.derived[k];
      const d = read ? read() : this.at[k]!;
      if (d < t) t = d;
    }
    return t;
  }
}
