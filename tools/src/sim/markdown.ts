/** Markdown tables and number formats for benchmark output. */

/** A GitHub-flavoured markdown table; cells are text, pipes in them are escaped. */
export function markdownTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
  for (const r of rows) {
    if (r.length !== headers.length) throw new RangeError(`row has ${r.length} cells, the table ${headers.length}`);
  }
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Fixed decimals, or "–" for a value that is not a finite number. */
export function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** A share as a percentage: 0.953 → "95.3%". */
export function percent(v: number, digits = 1): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : '–';
}

export function mbit(bps: number, digits = 1): string {
  return fixed(bps / 1e6, digits);
}
