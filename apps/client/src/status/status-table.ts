/**
 * The terminal view of a status snapshot: two aligned tables (paths, connections) as plain
 * text, with ANSI colour for the state column when asked. Pure: the snapshot in, lines out.
 */
import type { PathStatus, StatusSnapshot } from './types.js';

export interface TableOptions {
  color?: boolean;
  /** Where the data came from, for the title line. */
  source?: string;
}

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

const STATE_STYLE: Record<PathStatus['state'], string> = { up: GREEN, connecting: YELLOW, down: RED, idle: DIM };

export function formatBitRate(bytesPerSecond: number): string {
  const b = bytesPerSecond * 8;
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} Gbit/s`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} Mbit/s`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kbit/s`;
  return `${b.toFixed(0)} bit/s`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function formatRtt(ms: number | null): string {
  return ms === null ? '-' : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

export function formatLoss(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)} %`;
}

export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Strip control characters so a hostile target name cannot move the cursor. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

interface Cell {
  text: string;
  /** ANSI prefix applied around the padded text. */
  style?: string;
}

function table(header: string[], rows: Cell[][], rightFrom: number, color: boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const pad = (text: string, i: number): string => (i >= rightFrom ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const head = header.map(pad).join('  ');
  const out = [color ? `${BOLD}${head}${RESET}` : head];
  for (const r of rows) {
    out.push(
      r
        .map((c, i) => {
          const text = pad(c.text, i);
          return color && c.style ? `${c.style}${text}${RESET}` : text;
        })
        .join('  ')
        .trimEnd(),
    );
  }
  return out;
}

export function renderStatusTable(s: StatusSnapshot, opts: TableOptions = {}): string {
  const color = opts.color ?? false;
  const title = `mptun-client status${opts.source ? ` (${printable(opts.source)})` : ''} at ${new Date(s.time).toISOString()}`;
  const lines = [color ? `${BOLD}${title}${RESET}` : title, ''];
  if (s.client) {
    const c = s.client;
    lines.push(
      `  server ${printable(c.server)} over ${printable(c.transport)}, mptun-client ${printable(c.version)}, up ${formatAge(c.uptimeMs)}`,
      `  ${c.connectionsTotal} connection(s) since start, ${formatBytes(c.bytesUp)} sent, ${formatBytes(c.bytesDown)} received`,
      ...c.listeners.map((l) => `  listening: ${printable(l)}`),
      '',
    );
  }
  lines.push(`Paths (${s.paths.length})`);
  if (s.paths.length === 0) lines.push(color ? `${DIM}  none${RESET}` : '  none');
  else {
    const rows = s.paths.map((p): Cell[] => [
      { text: printable(p.name === p.localAddress ? p.name : `${p.name} (${p.localAddress})`) },
      { text: printable(p.transport) },
      { text: p.state, style: STATE_STYLE[p.state] },
      { text: p.backup ? 'backup' : 'active' },
      { text: formatRtt(p.rttMs) },
      { text: p.mssBytes === null ? '-' : String(p.mssBytes) },
      { text: formatBitRate(p.upBps) },
      { text: formatBitRate(p.downBps) },
      { text: formatLoss(p.lossRate) },
      { text: formatBytes(p.bytesUp) },
      { text: formatBytes(p.bytesDown) },
      { text: String(p.retransmissions) },
    ]);
    const header = ['PATH', 'TRANSPORT', 'STATE', 'ROLE', 'RTT', 'MSS', 'UP', 'DOWN', 'LOSS', 'SENT', 'RECEIVED', 'RETRANS'];
    lines.push(...table(header, rows, 4, color).map((l) => `  ${l}`));
    for (const p of s.paths) if (!p.up && p.downReason) lines.push(`  ${printable(p.name)} is down: ${printable(p.downReason)}`);
  }
  lines.push('', `Connections (${s.connections.length})`);
  if (s.connections.length === 0) lines.push(color ? `${DIM}  none${RESET}` : '  none');
  else {
    const rows = s.connections.map((c): Cell[] => [
      { text: printable(c.target) },
      { text: c.id === null ? '-' : String(c.id) },
      { text: formatBytes(c.bytesUp) },
      { text: formatBytes(c.bytesDown) },
      { text: String(c.subflows) },
      { text: formatAge(c.ageMs) },
    ]);
    lines.push(...table(['TARGET', 'ID', 'SENT', 'RECEIVED', 'SUBFLOWS', 'AGE'], rows, 1, color).map((l) => `  ${l}`));
  }
  return `${lines.join('\n')}\n`;
}
