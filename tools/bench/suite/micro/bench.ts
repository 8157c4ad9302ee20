/** The micro-benchmarks' contract: one operation, timed in a loop by the micro section. */

/** One measured operation. */
export interface Bench {
  name: string;
  /**
   * Performs the operation `iterations` times and returns a number derived from the
   * results, so the optimizer cannot drop the work.
   */
  run(iterations: number): number;
  /** Operations per timed sample; the runner picks a default when omitted. */
  iterations?: number;
  /** What one operation is, for the table (e.g. "pair" for encode+decode). */
  unit?: string;
}

/** A module of benches. Loading it must be cheap; setup belongs in `benches()`. */
export interface BenchModule {
  benches(): Bench[];
}
