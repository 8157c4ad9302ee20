/**
 * The dashboard: one self-contained page (inline CSS and JS, nothing fetched from elsewhere)
 * that polls /api/status and /api/history every second and draws per-path throughput and
 * RTT charts on <canvas>, with tables of paths and connections. Text from the API is set
 * with textContent only (targets come from SOCKS clients).
 */

const style = `
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7280; --card: #fff; --line: #d9dde3; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151b; --fg: #e6e8ec; --muted: #9aa3af; --card: #1b2029; --line: #2c333f; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
#state { color: var(--muted); }
#state.error { color: #d9473c; }
main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: 1fr 1fr; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 14px; margin: 0 0 8px; }
canvas { width: 100%; height: 220px; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.swatch { display: inline-block; width: 12px; height: 3px; margin-right: 4px; vertical-align: middle; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { color: var(--muted); font-weight: 600; }
.up { color: #2f9e44; } .down { color: #d9473c; } .connecting { color: #c77c02; } .idle { color: var(--muted); }
.empty { color: var(--muted); text-align: left; }
dl { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; font-variant-numeric: tabular-nums; }
#down-reasons { color: #d9473c; margin: 6px 0 0; padding-left: 18px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

const script = `
'use strict';
const COLORS = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#14b8a6', '#ec4899', '#84cc16'];
const colorOf = new Map();
function color(addr) {
  if (!colorOf.has(addr)) colorOf.set(addr, COLORS[colorOf.size % COLORS.length]);
  return colorOf.get(addr);
}
function bits(bytesPerSecond) {
  const b = bytesPerSecond * 8;
  if (b >= 1e9) return (b / 1e9).toFixed(2) + ' Gbit/s';
  if (b >= 1e6) return (b / 1e6).toFixed(2) + ' Mbit/s';
  if (b >= 1e3) return (b / 1e3).toFixed(1) + ' kbit/s';
  return b.toFixed(0) + ' bit/s';
}
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}
function ms(v) { return v === null || v === undefined ? '–' : v.toFixed(v < 10 ? 1 : 0) + ' ms'; }
function pct(v) { return (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + ' %'; }
function age(msv) {
  const s = Math.floor(msv / 1000);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}
function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function fillTable(tbody, rows, columns, emptyText) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(tr, emptyText, 'empty');
    td.colSpan = columns;
    tbody.appendChild(tr);
  }
  for (const r of rows) tbody.appendChild(r);
}
function renderStatus(s) {
  const pathRows = s.paths.map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.path = p.localAddress;
    const name = cell(tr, '');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = color(p.localAddress);
    name.appendChild(sw);
    name.appendChild(document.createTextNode(p.name === p.localAddress ? p.name : p.name + ' (' + p.localAddress + ')'));
    cell(tr, p.transport);
    const state = cell(tr, p.state, p.state);
    state.dataset.field = 'state';
    if (p.downReason) state.title = p.downReason;
    cell(tr, p.backup ? 'backup' : 'active');
    cell(tr, ms(p.rttMs)).dataset.field = 'rtt';
    cell(tr, p.mssBytes === null || p.mssBytes === undefined ? '-' : String(p.mssBytes)).dataset.field = 'mss';
    cell(tr, bits(p.upBps)).dataset.field = 'upRate';
    cell(tr, bits(p.downBps)).dataset.field = 'downRate';
    cell(tr, pct(p.lossRate));
    const up = cell(tr, bytes(p.bytesUp));
    up.dataset.field = 'bytesUp';
    up.dataset.value = String(p.bytesUp);
    const down = cell(tr, bytes(p.bytesDown));
    down.dataset.field = 'bytesDown';
    down.dataset.value = String(p.bytesDown);
    cell(tr, String(p.retransmissions));
    return tr;
  });
  fillTable(document.getElementById('paths'), pathRows, 11, 'no paths');
  const why = document.getElementById('down-reasons');
  why.replaceChildren();
  for (const p of s.paths) {
    if (p.up || !p.downReason) continue;
    const li = document.createElement('li');
    li.textContent = p.name + ' is down: ' + p.downReason;
    why.appendChild(li);
  }
  if (s.client) renderSummary(s.client);
  const connRows = s.connections.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.connection = c.id === null ? '' : String(c.id);
    cell(tr, c.target);
    cell(tr, c.id === null ? '–' : String(c.id));
    cell(tr, bytes(c.bytesUp));
    cell(tr, bytes(c.bytesDown));
    cell(tr, String(c.subflows));
    cell(tr, age(c.ageMs));
    return tr;
  });
  fillTable(document.getElementById('connections'), connRows, 6, 'no connections');
}

function renderSummary(c) {
  const put = (field, text, value) => {
    const el = document.querySelector('#summary [data-field=' + field + ']');
    el.textContent = text;
    if (value !== undefined) el.dataset.value = String(value);
  };
  put('server', c.server + ' (' + c.transport + ')');
  put('version', c.version);
  put('uptime', age(c.uptimeMs), c.uptimeMs);
  put('connectionsTotal', String(c.connectionsTotal), c.connectionsTotal);
  put('bytesUp', bytes(c.bytesUp), c.bytesUp);
  put('bytesDown', bytes(c.bytesDown), c.bytesDown);
  put('listeners', c.listeners.join(', '));
}
/** Draw series on a canvas: [{color, dash, values}], x = time, y from 0 to the max. */
function drawChart(canvas, times, series, format) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.body);
  const muted = css.getPropertyValue('--muted').trim() || '#888';
  const line = css.getPropertyValue('--line').trim() || '#ccc';
  const left = 78, right = 10, top = 10, bottom = 22;
  const pw = w - left - right, ph = h - top - bottom;
  let max = 0, points = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  const ymax = niceCeil(max);
  const t1 = times.length ? times[times.length - 1] : 0;
  const t0 = times.length ? Math.min(times[0], t1 - 60000) : t1 - 60000;
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * pw;
  const y = (v) => top + ph - (v / ymax) * ph;
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  ctx.strokeStyle = line;
  ctx.fillStyle = muted;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    ctx.beginPath();
    ctx.moveTo(left, y(v) + 0.5);
    ctx.lineTo(left + pw, y(v) + 0.5);
    ctx.stroke();
    ctx.fillText(format(v), left - 6, y(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const ago = Math.round((t1 - t) / 1000);
    ctx.fillText(ago === 0 ? 'now' : '-' + ago + ' s', x(t), top + ph + 6);
  }
  ctx.lineWidth = 2;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.setLineDash(s.dash ? [5, 4] : []);
    ctx.beginPath();
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      const px = x(s.times[i]), py = y(v);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
      points++;
    });
    ctx.stroke();
  }
  ctx.setLineDash([]);
  canvas.dataset.points = String(points);
  canvas.dataset.max = String(max);
}
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function legend(el, items) {
  el.replaceChildren();
  for (const it of items) {
    const span = document.createElement('span');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = it.dash ? 'repeating-linear-gradient(90deg,' + it.color + ' 0 5px,transparent 5px 8px)' : it.color;
    span.appendChild(sw);
    span.appendChild(document.createTextNode(it.label));
    el.appendChild(span);
  }
}
function renderHistory(hist) {
  let tmax = 0;
  for (const p of hist.paths) if (p.t.length) tmax = Math.max(tmax, p.t[p.t.length - 1]);
  const times = tmax ? [tmax - 60000, tmax] : [];
  // The last 60 s; older samples stay on the server for whoever wants them.
  const recent = hist.paths.map((p) => {
    let i = 0;
    while (i < p.t.length && p.t[i] < tmax - 60000) i++;
    return { p, t: p.t.slice(i), up: p.upBps.slice(i), down: p.downBps.slice(i), rtt: p.rttMs.slice(i) };
  });
  const tput = [], rtt = [], tputLegend = [], rttLegend = [];
  for (const r of recent) {
    const c = color(r.p.localAddress);
    tput.push({ color: c, dash: false, times: r.t, values: r.up });
    tput.push({ color: c, dash: true, times: r.t, values: r.down });
    rtt.push({ color: c, dash: false, times: r.t, values: r.rtt });
    tputLegend.push({ color: c, label: r.p.name + ' up' }, { color: c, dash: true, label: r.p.name + ' down' });
    rttLegend.push({ color: c, label: r.p.name });
  }
  drawChart(document.getElementById('throughput'), times, tput, bits);
  drawChart(document.getElementById('rtt'), times, rtt, (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)) + ' ms');
  legend(document.getElementById('throughput-legend'), tputLegend);
  legend(document.getElementById('rtt-legend'), rttLegend);
}
async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}
let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  const state = document.getElementById('state');
  try {
    const [status, hist] = await Promise.all([getJson('/api/status'), getJson('/api/history')]);
    renderStatus(status);
    renderHistory(hist);
    state.className = '';
    state.textContent = 'updated ' + new Date(status.time).toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (err) {
    state.className = 'error';
    state.textContent = 'cannot reach the client: ' + (err && err.message ? err.message : err);
  } finally {
    busy = false;
  }
}
refresh();
setInterval(refresh, 1000);
`;

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mptun-client status</title>
<style>${style}</style>
</head>
<body>
<header><h1>mptun-client</h1><span id="state">connecting…</span></header>
<main>
<section class="wide" id="summary"><h2>Client</h2><dl>
<dt>Server</dt><dd data-field="server">–</dd><dt>Version</dt><dd data-field="version">–</dd>
<dt>Uptime</dt><dd data-field="uptime">–</dd><dt>Connections since start</dt><dd data-field="connectionsTotal">–</dd>
<dt>Sent</dt><dd data-field="bytesUp">–</dd><dt>Received</dt><dd data-field="bytesDown">–</dd>
<dt>Listening</dt><dd data-field="listeners">–</dd></dl></section>
<section><h2>Throughput per path (last 60 s)</h2><canvas id="throughput"></canvas><div class="legend" id="throughput-legend"></div></section>
<section><h2>RTT per path (last 60 s)</h2><canvas id="rtt"></canvas><div class="legend" id="rtt-legend"></div></section>
<section class="wide"><h2>Paths</h2>
<table><thead><tr><th>Path</th><th>Transport</th><th>State</th><th>Role</th><th>RTT</th><th title="largest segment payload sent now; path MTU discovery raises it on sealed UDP">MSS</th><th>Up</th><th>Down</th><th>Loss</th><th>Sent</th><th>Received</th><th>Retrans.</th></tr></thead>
<tbody id="paths"></tbody></table><ul id="down-reasons"></ul></section>
<section class="wide"><h2>Connections</h2>
<table><thead><tr><th>Target</th><th>Id</th><th>Sent</th><th>Received</th><th>Subflows</th><th>Age</th></tr></thead>
<tbody id="connections"></tbody></table></section>
</main>
<script>${script}</script>
</body>
</html>
`;
