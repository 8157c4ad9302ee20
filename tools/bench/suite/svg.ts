/**
 * Renders the suite's plots (line, grouped bar, empirical CDF) as standalone SVG files: title,
 * axes with 1/2/5 × 10^k ticks, axis labels, a legend on the right, dashed marker and
 * reference lines. No dependencies; the same plot always gives the same bytes.
 */
import type { BarPlot, CdfPlot, LinePlot, Plot } from './types.js';

/** Colours of series, in order (a colour-blind-friendly set); they repeat after the last. */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#d55e00', '#cc79a7', '#56b4e9', '#f0e442', '#000000'] as const;

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 72, right: 170, top: 44, bottom: 58 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** A CDF's x axis turns logarithmic when the largest sample exceeds the smallest this many times. */
export const LOG_AXIS_RATIO = 50;
/** Most steps drawn per CDF curve. */
const CDF_STEPS = 1000;

/** Text made safe for SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** An axis: its domain, where its ticks are, and how a value maps to [0, 1] along it. */
export interface Axis {
  min: number;
  max: number;
  ticks: number[];
  log: boolean;
  /** 0 at `min`, 1 at `max`. */
  fraction(value: number): number;
}

/** The 1, 2 or 5 × 10^k step nearest above `rough`. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const mantissa = rough / power;
  const nice = mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10;
  return nice * power;
}

/** Drops the float noise of `k * step` (0.30000000000000004 → 0.3). */
function clean(value: number): number {
  const rounded = Number(value.toPrecision(12));
  return rounded === 0 ? 0 : rounded; // no "-0"
}

/**
 * Linear ticks covering [lo, hi] at a 1/2/5 × 10^k step, about `target` of them; the first and
 * last tick enclose the range. An empty or single-value range is widened first.
 */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  const size = Math.max(Math.abs(lo), Math.abs(hi));
  if (size < 1e-100) {
    // Zero, or next to it: a unit axis on the side(s) the values are on.
    [lo, hi] = [lo < 0 ? -1 : 0, hi > 0 || lo >= 0 ? 1 : 0];
  } else if (hi - lo <= size * 1e-9) {
    // One value (or too close to tell apart): half of it either side.
    const v = (lo + hi) / 2;
    [lo, hi] = [v - Math.abs(v) / 2, v + Math.abs(v) / 2];
  }
  const step = niceStep((hi - lo) / Math.max(1, target - 1));
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last && ticks.length < 100; k++) ticks.push(clean(k * step));
  return ticks;
}

/** Whether samples spanning [min, max] read better on a log axis (all positive, wide spread). */
export function wantsLogAxis(min: number, max: number): boolean {
  return Number.isFinite(min) && Number.isFinite(max) && min > 0 && max / min > LOG_AXIS_RATIO;
}

/** Decade ticks enclosing [lo, hi] (both > 0), with 2 and 5 between them when there are few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const first = Math.floor(Math.log10(lo) + 1e-9);
  const last = Math.max(first + 1, Math.ceil(Math.log10(hi) - 1e-9));
  const withSubTicks = last - first <= 3;
  const ticks: number[] = [];
  for (let k = first; k <= last && ticks.length < 200; k++) {
    ticks.push(clean(10 ** k));
    if (withSubTicks && k < last) ticks.push(clean(2 * 10 ** k), clean(5 * 10 ** k));
  }
  return ticks;
}

export function linearAxis(lo: number, hi: number, target = 6): Axis {
  const ticks = niceTicks(lo, hi, target);
  const min = ticks[0]!;
  const max = ticks[ticks.length - 1]!;
  const span = max - min || 1;
  return { min, max, ticks, log: false, fraction: (v) => (v - min) / span };
}

export function logAxis(lo: number, hi: number): Axis {
  const ticks = logTicks(lo, hi);
  const min = ticks[0]!;
  const max = ticks[ticks.length - 1]!;
  const span = Math.log10(max) - Math.log10(min);
  return { min, max, ticks, log: true, fraction: (v) => (Math.log10(Math.max(v, min)) - Math.log10(min)) / span };
}

/** Tick label: SI suffix from 10,000 up, otherwise just enough decimals for the tick step. */
export function formatTick(value: number): string {
  const abs = Math.abs(value);
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e4, 'k']];
  for (const [size, suffix] of units) {
    if (abs >= size) {
      const scaled = size === 1e4 ? value / 1e3 : value / size;
      return `${clean(Number(scaled.toPrecision(6)))}${suffix}`;
    }
  }
  return String(clean(value));
}

/** Coordinates rounded to 0.1 px keep the files small and stable. */
function px(value: number): string {
  return String(clean(Math.round(value * 10) / 10));
}

const xPx = (axis: Axis, v: number): number => MARGIN.left + axis.fraction(v) * PLOT_W;
const yPx = (axis: Axis, v: number): number => MARGIN.top + (1 - axis.fraction(v)) * PLOT_H;

const colour = (i: number): string => PALETTE[i % PALETTE.length]!;

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(content)}</text>`;
}

/** Frame, grid, ticks, axis labels and title; `xAxis` is null for a categorical x axis. */
function frame(plot: Plot, xAxis: Axis | null, yAxis: Axis): string[] {
  const out: string[] = [];
  const bottom = MARGIN.top + PLOT_H;
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#444"/>`);
  for (const t of yAxis.ticks) {
    const y = yPx(yAxis, t);
    out.push(`<line x1="${MARGIN.left}" y1="${px(y)}" x2="${MARGIN.left + PLOT_W}" y2="${px(y)}" stroke="#e4e4e4"/>`);
    out.push(text(MARGIN.left - 6, y + 4, formatTick(t), 'text-anchor="end"'));
  }
  if (xAxis) {
    for (const t of xAxis.ticks) {
      const x = xPx(xAxis, t);
      out.push(`<line x1="${px(x)}" y1="${MARGIN.top}" x2="${px(x)}" y2="${bottom}" stroke="#e4e4e4"/>`);
      out.push(text(x, bottom + 16, formatTick(t), 'text-anchor="middle"'));
    }
  }
  out.push(text(MARGIN.left + PLOT_W / 2, 26, plot.title, 'text-anchor="middle" font-size="15" font-weight="bold"'));
  out.push(text(MARGIN.left + PLOT_W / 2, HEIGHT - 14, plot.xLabel + (xAxis?.log ? ' (log scale)' : ''), 'text-anchor="middle"'));
  const yMid = MARGIN.top + PLOT_H / 2;
  out.push(text(18, yMid, plot.yLabel, `text-anchor="middle" transform="rotate(-90 18 ${px(yMid)})"`));
  return out;
}

function legend(names: string[]): string[] {
  const out: string[] = [];
  const x = MARGIN.left + PLOT_W + 14;
  names.forEach((name, i) => {
    const y = MARGIN.top + 8 + i * 20;
    out.push(`<rect x="${x}" y="${y}" width="14" height="10" fill="${colour(i)}"/>`);
    out.push(text(x + 20, y + 9, name));
  });
  return out;
}

const finite = (v: number): boolean => Number.isFinite(v);

function extent(values: number[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!finite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

function renderLine(plot: LinePlot & Plot): string[] {
  const points = plot.series.flatMap((s) => s.points.filter(([x, y]) => finite(x) && finite(y)));
  const markers = (plot.markers ?? []).filter((m) => finite(m.x));
  const xs = extent([...points.map((p) => p[0]), ...markers.map((m) => m.x)]) ?? [0, 1];
  const ys = extent([0, ...points.map((p) => p[1])])!; // throughput and the like start from 0
  const xAxis = linearAxis(xs[0], xs[1]);
  const yAxis = linearAxis(ys[0], ys[1]);
  const out = frame(plot, xAxis, yAxis);
  plot.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => finite(x) && finite(y)).map(([x, y]) => `${px(xPx(xAxis, x))},${px(yPx(yAxis, y))}`);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${colour(i)}" stroke-width="2" points="${pts.join(' ')}"/>`);
    // Dots where a line alone would hide the data: a lone point, or a sparse series.
    if (pts.length > 0 && pts.length <= 40) {
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${colour(i)}"/>`);
      }
    }
  });
  for (const m of markers) {
    const x = xPx(xAxis, m.x);
    out.push(`<line x1="${px(x)}" y1="${MARGIN.top}" x2="${px(x)}" y2="${MARGIN.top + PLOT_H}" stroke="#555" stroke-dasharray="5,4"/>`);
    out.push(text(x + 4, MARGIN.top + 14, m.label, 'font-size="11" fill="#333"'));
  }
  out.push(...legend(plot.series.map((s) => s.name)));
  return out;
}

function renderBar(plot: BarPlot & Plot): string[] {
  const refs = (plot.references ?? []).filter((r) => finite(r.y));
  const ys = extent([0, ...plot.series.flatMap((s) => s.values), ...refs.map((r) => r.y)])!;
  const yAxis = linearAxis(ys[0], ys[1]);
  const out = frame(plot, null, yAxis);
  const groups = Math.max(1, plot.categories.length);
  const groupW = PLOT_W / groups;
  const barW = (groupW * 0.8) / Math.max(1, plot.series.length);
  const baseline = yPx(yAxis, Math.min(Math.max(0, yAxis.min), yAxis.max));
  plot.categories.forEach((category, g) => {
    const groupX = MARGIN.left + g * groupW;
    out.push(text(groupX + groupW / 2, MARGIN.top + PLOT_H + 16, category, 'text-anchor="middle"'));
    plot.series.forEach((s, i) => {
      const v = s.values[g];
      if (v === undefined || !finite(v)) return;
      const top = yPx(yAxis, v);
      const x = groupX + groupW * 0.1 + i * barW;
      out.push(`<rect x="${px(x)}" y="${px(Math.min(top, baseline))}" width="${px(barW * 0.92)}" height="${px(Math.abs(baseline - top))}" fill="${colour(i)}"><title>${escapeXml(`${s.name}, ${category}: ${v}`)}</title></rect>`);
    });
  });
  for (const r of refs) {
    const y = yPx(yAxis, r.y);
    out.push(`<line x1="${MARGIN.left}" y1="${px(y)}" x2="${MARGIN.left + PLOT_W}" y2="${px(y)}" stroke="#555" stroke-dasharray="5,4"/>`);
    out.push(text(MARGIN.left + PLOT_W - 4, y - 4, r.label, 'text-anchor="end" font-size="11" fill="#333"'));
  }
  out.push(...legend(plot.series.map((s) => s.name)));
  return out;
}

function renderCdf(plot: CdfPlot & Plot): string[] {
  const sorted = plot.series.map((s) => s.samples.filter(finite).sort((a, b) => a - b));
  const xs = extent(sorted.flat()) ?? [0, 1];
  const xAxis = wantsLogAxis(xs[0], xs[1]) ? logAxis(xs[0], xs[1]) : linearAxis(xs[0], xs[1]);
  const yAxis = linearAxis(0, 1);
  const out = frame(plot, xAxis, yAxis);
  sorted.forEach((samples, i) => {
    if (samples.length === 0) return;
    // Empirical CDF as a step curve: up by 1/n at every sample, flat in between.
    // Beyond CDF_STEPS samples, every step covers n / CDF_STEPS of them (the file stays small).
    const n = samples.length;
    const steps = Math.min(n, CDF_STEPS);
    const parts = [`M${px(xPx(xAxis, samples[0]!))},${px(yPx(yAxis, 0))}`];
    for (let j = 1; j <= steps; j++) {
      const k = Math.ceil((j * n) / steps) - 1;
      parts.push(`H${px(xPx(xAxis, samples[k]!))}`, `V${px(yPx(yAxis, (k + 1) / n))}`);
    }
    parts.push(`H${px(xPx(xAxis, xAxis.max))}`);
    out.push(`<path fill="none" stroke="${colour(i)}" stroke-width="2" d="${parts.join(' ')}"/>`);
  });
  out.push(...legend(plot.series.map((s) => s.name)));
  return out;
}

/** The plot as a complete SVG document. */
export function renderSvg(plot: Plot): string {
  const body = plot.kind === 'line' ? renderLine(plot) : plot.kind === 'bar' ? renderBar(plot) : renderCdf(plot);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
