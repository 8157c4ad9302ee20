/**
 * The live view: one bar per path and one for the total. On a terminal the block is redrawn
 * in place (ANSI cursor up); elsewhere (CI, a pipe) a plain line is printed every second.
 */
import { bar, formatMbit, formatMiB } from './format.js';
import type { PathSample } from './path-meter.js';

export interface ProgressFrame {
  elapsedMs: number;
  paths: PathSample[];
  /** Whether each path's link is up in the emulator. */
  linkUp: Record<string, boolean>;
  bytes: number;
  total: number;
  totalBps: number;
}

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
}

const PLAIN_EVERY_MS = 1000;
const BAR_WIDTH = 30;

export class ProgressView {
  private drawnLines = 0;
  private lastPlainAt = -Infinity;

  constructor(private readonly out: Output) {}

  /** A line that stays (events, messages): printed above the live block. */
  log(line: string): void {
    this.clearBlock();
    this.out.write(`${line}\n`);
  }

  update(frame: ProgressFrame): void {
    if (this.out.isTTY) {
      this.clearBlock();
      const lines = this.render(frame);
      this.out.write(`${lines.join('\n')}\n`);
      this.drawnLines = lines.length;
    } else if (frame.elapsedMs - this.lastPlainAt >= PLAIN_EVERY_MS) {
      this.lastPlainAt = frame.elapsedMs;
      const parts = frame.paths.map((p) => `${p.name} ${formatMiB(p.bytesDown)} ${formatMbit(p.downBps)}${frame.linkUp[p.name] === false ? ' (down)' : ''}`);
      const pct = frame.total > 0 ? ((100 * frame.bytes) / frame.total).toFixed(0) : '0';
      this.out.write(`t=${(frame.elapsedMs / 1000).toFixed(1).padStart(5)}s  ${parts.join(' | ')} | total ${formatMiB(frame.bytes)}/${formatMiB(frame.total)} ${pct}% ${formatMbit(frame.totalBps)}\n`);
    }
  }

  /** Leave the last frame on screen. */
  finish(frame: ProgressFrame): void {
    this.lastPlainAt = -Infinity;
    this.update(frame);
    this.drawnLines = 0;
  }

  private render(frame: ProgressFrame): string[] {
    const lines = frame.paths.map((p) => {
      const state = frame.linkUp[p.name] === false ? 'DOWN' : p.active ? 'up  ' : '... ';
      const share = frame.total > 0 ? p.bytesDown / frame.total : 0;
      return `  ${p.name.padEnd(6)} ${state} ${bar(share, BAR_WIDTH)} ${formatMiB(p.bytesDown).padStart(10)} ${formatMbit(p.downBps).padStart(13)}  rtt ${p.srttMs.toFixed(0).padStart(4)} ms`;
    });
    const frac = frame.total > 0 ? frame.bytes / frame.total : 0;
    lines.push(`  ${'total'.padEnd(6)}      ${bar(frac, BAR_WIDTH)} ${formatMiB(frame.bytes).padStart(10)} ${formatMbit(frame.totalBps).padStart(13)}  ${(100 * frac).toFixed(0)}% at ${(frame.elapsedMs / 1000).toFixed(1)} s`);
    return lines;
  }

  private clearBlock(): void {
    if (!this.out.isTTY || this.drawnLines === 0) return;
    // Up to the block's first line, then erase to the end of the screen.
    this.out.write(`\x1b[${this.drawnLines}A\r\x1b[J`);
    this.drawnLines = 0;
  }
}
