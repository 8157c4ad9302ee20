/**
 * The delay line (delayline.py) in the router namespace: it holds each path's packets for
 * the path's one-way delay (plus jitter, minus random loss) and can cut a path, dropping
 * everything on it in both directions, the way the link emulator's `down` does for mptun.
 */
import { PythonChild } from './exec.js';
import { ifaceNames, type KernelPath } from './paths.js';

const READY_TIMEOUT_MS = 10_000;
const EVENT_TIMEOUT_MS = 5_000;

export interface DelayLineEvent {
  event: string;
  path?: string;
  /** CLOCK_MONOTONIC seconds, comparable with the flow receiver's `start`. */
  mono?: number;
  paths?: Record<string, Record<string, number>>;
}

/** The --path argument of one path: NAME:DEVICE:DELAY_MS:JITTER_MS:LOSS. */
export function delayLinePathArg(p: KernelPath, withJitterAndLoss: boolean): string {
  const j = withJitterAndLoss ? p.jitterMs : 0;
  const l = withJitterAndLoss ? p.loss : 0;
  return `${p.name}:${ifaceNames(p).tun}:${p.delayMs}:${j}:${l}`;
}

export class DelayLine {
  private waiters: Array<{ match: (e: DelayLineEvent) => boolean; resolve(e: DelayLineEvent): void }> = [];
  readonly events: DelayLineEvent[] = [];
  private readonly proc: PythonChild;

  private constructor(netns: string, paths: readonly KernelPath[], seed: number, withJitterAndLoss: boolean) {
    const args = ['--seed', String(seed), ...paths.flatMap((p) => ['--path', delayLinePathArg(p, withJitterAndLoss)])];
    this.proc = new PythonChild('delay line', netns, 'delayline.py', args, (obj) => this.onEvent(obj as unknown as DelayLineEvent));
  }

  static async start(netns: string, paths: readonly KernelPath[], seed: number, withJitterAndLoss = true): Promise<DelayLine> {
    const d = new DelayLine(netns, paths, seed, withJitterAndLoss);
    try {
      await d.next((e) => e.event === 'ready', READY_TIMEOUT_MS);
      return d;
    } catch (e) {
      await d.close();
      throw e;
    }
  }

  private onEvent(e: DelayLineEvent): void {
    if (this.events.length < 1000) this.events.push(e);
    const w = this.waiters.find((x) => x.match(e));
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(e);
    }
  }

  private next(match: (e: DelayLineEvent) => boolean, timeoutMs = EVENT_TIMEOUT_MS): Promise<DelayLineEvent> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: DelayLineEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        reject(new Error(`delay line: no answer within ${timeoutMs} ms ${this.proc.stderr}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Cuts (`down`) or restores (`up`) a path; resolves the monotonic time it took effect. */
  async set(path: string, state: 'down' | 'up'): Promise<number> {
    const ack = this.next((e) => e.event === state && e.path === path);
    this.proc.send(`${state} ${path}`);
    const e = await ack;
    return e.mono ?? Number.NaN;
  }

  /** Packet counters per path: read, written, lost, cut, overflow, write_errors. */
  async stats(): Promise<Record<string, Record<string, number>>> {
    const ack = this.next((e) => e.event === 'stats');
    this.proc.send('stats');
    return (await ack).paths ?? {};
  }

  close(): Promise<void> {
    return this.proc.stop();
  }
}
