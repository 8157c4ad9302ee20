/**
 * The soak's chaos: a seeded loop that takes paths down and up, and changes their rate,
 * delay, jitter and loss, while transfers run. At least one path is up except for short
 * stretches: when the last path goes down, it comes back within MAX_ALL_DOWN_MS.
 * stop() restores every path to its base settings, up.
 */
import type { SeededRandom } from '@mptun/core';
import type { PathPatch } from '@mptun/linkem';

export interface ChaosTarget {
  setOptions(name: string, patch: PathPatch): Promise<void>;
  down(name: string): Promise<void>;
  up(name: string): Promise<void>;
}

export interface ChaosPath {
  name: string;
  /** What stop() puts back. */
  base: PathPatch;
}

export interface ChaosCounts {
  downs: number;
  ups: number;
  allDown: number;
  rateChanges: number;
  lossChanges: number;
  delayChanges: number;
  /** Longest time with every path down, ms. */
  longestAllDownMs: number;
}

/** Longest time every path may be down at once. */
const MAX_ALL_DOWN_MS = 2_000;
const MIN_STEP_MS = 300;
const MAX_STEP_MS = 1_200;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Chaos {
  readonly counts: ChaosCounts = { downs: 0, ups: 0, allDown: 0, rateChanges: 0, lossChanges: 0, delayChanges: 0, longestAllDownMs: 0 };
  /** One line per action, for a failure report (the last ones matter). */
  readonly journal: string[] = [];
  private readonly downUntil = new Map<string, number>();
  private allDownSince = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly t0 = performance.now();

  constructor(
    private readonly target: ChaosTarget,
    private readonly paths: readonly ChaosPath[],
    private readonly rng: SeededRandom,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Ends the loop, then brings every path back up with its base settings. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const p of this.paths) {
      await this.target.setOptions(p.name, p.base);
      if (this.downUntil.has(p.name)) await this.bringUp(p.name);
    }
  }

  private note(line: string): void {
    this.journal.push(`${((performance.now() - this.t0) / 1000).toFixed(1)}s ${line}`);
    if (this.journal.length > 200) this.journal.shift();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await sleep(MIN_STEP_MS + this.rng.int(MAX_STEP_MS - MIN_STEP_MS));
      if (!this.running) break;
      await this.restoreDue();
      await this.act();
    }
  }

  /** Brings up paths whose outage is over. */
  private async restoreDue(): Promise<void> {
    const now = performance.now();
    for (const [name, until] of [...this.downUntil]) if (until <= now) await this.bringUp(name);
  }

  private async bringUp(name: string): Promise<void> {
    if (this.downUntil.size === this.paths.length) {
      const ms = performance.now() - this.allDownSince;
      this.counts.longestAllDownMs = Math.max(this.counts.longestAllDownMs, ms);
    }
    this.downUntil.delete(name);
    await this.target.up(name);
    this.counts.ups++;
    this.note(`up ${name}`);
  }

  private async act(): Promise<void> {
    const p = this.paths[this.rng.int(this.paths.length)]!;
    const roll = this.rng.next();
    if (roll < 0.3) {
      if (this.downUntil.has(p.name)) return;
      const last = this.downUntil.size === this.paths.length - 1;
      // Everything down happens, but only briefly: the step loop restores it in time.
      const ms = last ? 300 + this.rng.int(MAX_ALL_DOWN_MS - MAX_STEP_MS - 300) : 500 + this.rng.int(3_000);
      this.downUntil.set(p.name, performance.now() + ms);
      if (last) {
        this.allDownSince = performance.now();
        this.counts.allDown++;
        // The loop may sleep longer than the outage: restore it on its own timer too.
        setTimeout(() => void (this.downUntil.has(p.name) && this.running ? this.bringUp(p.name) : undefined), ms).unref();
      }
      this.counts.downs++;
      this.note(`down ${p.name} for ${ms} ms${last ? ' (all paths down)' : ''}`);
      await this.target.down(p.name);
    } else if (roll < 0.6) {
      const rate = `${5 + this.rng.int(96)}mbit`;
      this.counts.rateChanges++;
      this.note(`rate ${p.name} ${rate}`);
      await this.target.setOptions(p.name, { rate });
    } else if (roll < 0.85) {
      // 0–5 % loss, sometimes one direction only.
      const loss = `${(this.rng.next() * 5).toFixed(2)}%`;
      const dir = this.rng.int(3);
      const patch: PathPatch = dir === 0 ? { loss } : dir === 1 ? { up: { loss } } : { down: { loss } };
      this.counts.lossChanges++;
      this.note(`loss ${p.name} ${dir === 0 ? 'both' : dir === 1 ? 'up' : 'down'} ${loss}`);
      await this.target.setOptions(p.name, patch);
    } else {
      const delay = `${2 + this.rng.int(80)}ms`;
      const jitter = `${this.rng.int(10)}ms`;
      this.counts.delayChanges++;
      this.note(`delay ${p.name} ${delay} ±${jitter}`);
      await this.target.setOptions(p.name, { delay, jitter });
    }
  }
}
