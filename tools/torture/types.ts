/**
 * The torture suite's contract (`pnpm torture`, `pnpm torture --long`): each check hammers
 * one thing and either returns its counts or throws with what broke (and the seed).
 */

export interface TortureOptions {
  /** `--long`: the long mode (a million inputs per fuzz target, minutes of soak). */
  long: boolean;
  /** Seed of every random choice in this run (printed by the runner; MPTUN_SEED sets it). */
  seed: number;
  log(line: string): void;
}

export interface TortureResult {
  /** One line each, printed and written to the report, e.g. "wire decoders: 1,000,000 inputs, 0 crashes". */
  lines: string[];
  /** Everything counted, for the JSON report. */
  data: unknown;
}

export interface TortureCheck {
  /** Short id used by `--only`, e.g. "fuzz-wire". */
  id: string;
  title: string;
  /** Throws an Error naming the seed when something broke. */
  run(opts: TortureOptions): Promise<TortureResult>;
}
