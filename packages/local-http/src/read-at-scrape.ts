/**
 * Metrics whose values the app already keeps: each is read when Prometheus scrapes, so the
 * app counts in plain numbers and nothing here runs between scrapes.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type Series = Array<[labels: Record<string, string>, value: number]>;

/** One series per key of `read()`, as `{label: key}`. */
export const byLabel = (label: string, counts: Record<string, number>): Series => Object.entries(counts).map(([k, n]) => [{ [label]: k }, n]);

type Read = () => number | Series;

function readAtScrape(kind: 'counter' | 'gauge', registry: Registry, name: string, help: string, read: Read, labelNames: string[]): void {
  const config = {
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Counter | Gauge): void {
      this.reset();
      const v = read();
      const series: Series = typeof v === 'number' ? [[{}, v]] : v;
      // A counter is rebuilt from the app's running total; inc from zero after reset sets it.
      for (const [labels, n] of series) {
        if (this instanceof Counter) this.inc(labels, n);
        else this.set(labels, n);
      }
    },
  };
  if (kind === 'counter') new Counter(config);
  else new Gauge(config);
}

/** A counter (name ends in _total) read from `read()`, which must never go down. */
export function counterOf(registry: Registry, name: string, help: string, read: Read, labelNames: string[] = []): void {
  readAtScrape('counter', registry, name, help, read, labelNames);
}

/** A gauge read from `read()`. */
export function gaugeOf(registry: Registry, name: string, help: string, read: Read, labelNames: string[] = []): void {
  readAtScrape('gauge', registry, name, help, read, labelNames);
}
