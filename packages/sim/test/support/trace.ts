/** Records what a standalone Network does, for link tests. */
import type { DropCause, Link } from '../../src/index.js';
import { Network } from '../../src/network.js';

export interface Arrival {
  time: number;
  tag: number;
  bytes: Uint8Array;
}

export interface Drop {
  time: number;
  tag: number;
  cause: DropCause;
  link: string;
}

export class Recorder {
  readonly net: Network<number>;
  readonly arrivals: Arrival[] = [];
  readonly drops: Drop[] = [];

  constructor(seed = 1) {
    this.net = new Network<number>({ seed });
    this.net.onExit = (p, now) => this.arrivals.push({ time: now, tag: p.tag, bytes: p.bytes });
    this.net.onDrop = (p, link, cause, now) => this.drops.push({ time: now, tag: p.tag, cause, link: link.name });
  }

  /** Send packets of `size` bytes, tagged 0..count-1, one every `gapMs` from now. */
  sendSeries(route: readonly Link[], count: number, size: number, gapMs: number): void {
    for (let i = 0; i < count; i++) {
      if (gapMs > 0 && i > 0) this.net.runUntil(this.net.now + gapMs);
      this.net.send(route, new Uint8Array(size), i);
    }
  }

  /** Tags in order of arrival. */
  get order(): number[] {
    return this.arrivals.map((a) => a.tag);
  }

  dropsBy(cause: DropCause): Drop[] {
    return this.drops.filter((d) => d.cause === cause);
  }
}

/** Lengths of runs of consecutive `true` in a sequence. */
export function runLengths(flags: readonly boolean[]): number[] {
  const runs: number[] = [];
  let run = 0;
  for (const f of flags) {
    if (f) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  if (run > 0) runs.push(run);
  return runs;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
