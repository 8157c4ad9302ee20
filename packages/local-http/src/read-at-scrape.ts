/**
 * Metrics whose values the app already keeps: each is read when Prometheus scrapes, so the
 * app counts in plain numbers and nothing here runs between scrapes.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type Series = Array<[labels: Record<string, string>, value: number]>;

/** One series per key of `read()`, as `{label: key}`. */
export const byLabel = (label: string, counts: Record<string, number>): Series => Object.entries(counts).map(([k, n]) => [{ [label]: k }, n]);

/** A counter (name ends in _total) read from `read()`, which must never go down. */
export function counterOf(registry: Registry, name: string, help: string, read: () => number | Series, labelNames: string[] = []): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const v = read();
      if (typeof v === 'number') this.inc(v);
      else for (const [labels, n] of v) this.inc(labels, n);
    },
  });
}

/** A gauge read from `read()`. */
export function gaugeOf(registry: Registry, name: string, help: string, read: () => number | Series, labelNames: string[] = []): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const v = read();
      if (typeof v === 'number') this.set(v);
      else for (const [labels, n] of v) this.set(labels, n);
    },
  });
}
