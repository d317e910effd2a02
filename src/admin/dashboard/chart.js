// chart.js - sync lag over the last hour as an inline SVG line per org. The history comes from
// the server (GET /admin/v1/lag: a sample every 10 s, kept for an hour) when the page opens and
// each time it is shown again; the page's own polls add a point every 1.5 s in between.
import { el, fill, fmtDuration, svg } from './dom.js';

const WINDOW_MS = 3600 * 1000;
const GAP_MS = 15000;          // a longer silence (server or page down, tab hidden) breaks the line
const HEIGHT = 190;
const M = { top: 14, right: 14, bottom: 26, left: 64 };
const COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#db2777', '#0891b2'];

const series = new Map();      // org -> [{t, v, server}], oldest first

function seriesOf(org) {
  if (!series.has(org)) series.set(org, []);
  return series.get(org);
}

function trim(s, now) {
  while (s.length && s[0].t < now - WINDOW_MS) s.shift();
}

// Adds one sample per org from a status document (its now_ms is the time of all of them).
export function recordLag(st) {
  const t = st.now_ms || Date.now();
  for (const o of st.orgs || []) {
    const s = seriesOf(o.org);
    if (s.length && s[s.length - 1].t >= t) continue;
    s.push({ t, v: Math.max(0, o.lag_ms || 0), server: false });
    trim(s, t);
  }
}

// Merges the server's history (GET /admin/v1/lag) into the series: its samples fill what the
// page did not see (before it opened, while it was hidden), in time order.
export function loadHistory(doc) {
  const now = doc.now_ms || Date.now();
  for (const o of doc.orgs || []) {
    const s = seriesOf(o.org);
    const have = new Set(s.map((p) => p.t));
    for (const p of o.samples || []) {
      if (typeof p.t === 'number' && !have.has(p.t)) s.push({ t: p.t, v: Math.max(0, p.lag_ms || 0), server: true });
    }
    s.sort((a, b) => a.t - b.t);
    trim(s, now);
  }
}

function niceCeil(v) {
  const steps = [1, 2, 2.5, 5, 10];
  const p = 10 ** Math.floor(Math.log10(v));
  for (const s of steps) if (s * p >= v) return s * p;
  return 10 * p;
}

export function renderChart(node) {
  const width = Math.max(320, Math.floor(node.clientWidth || 640));
  const all = [...series.values()].flat();
  const now = all.reduce((m, p) => Math.max(m, p.t), 0) || Date.now();
  const peak = all.reduce((m, p) => Math.max(m, p.v), 0);
  const ymax = niceCeil(Math.max(peak, 1000));
  const w = width - M.left - M.right;
  const h = HEIGHT - M.top - M.bottom;
  const x = (t) => M.left + ((t - (now - WINDOW_MS)) / WINDOW_MS) * w;
  const y = (v) => M.top + h - (v / ymax) * h;

  const grid = [0, 0.5, 1].map((f) => svg('g', { class: 'grid' },
    svg('line', { x1: M.left, x2: M.left + w, y1: y(f * ymax), y2: y(f * ymax) }),
    svg('text', { x: M.left - 8, y: y(f * ymax) + 4, 'text-anchor': 'end' }, fmtDuration(f * ymax))));
  const xticks = (w < 420 ? [60, 30, 0] : [60, 45, 30, 15, 0]).map((min) => svg('text', { class: 'axis', x: x(now - min * 60000),
    y: HEIGHT - 6, 'text-anchor': min === 60 ? 'start' : min === 0 ? 'end' : 'middle' },
  min === 0 ? 'now' : `−${min} min`));

  const lines = [];
  const legend = [];
  let i = 0;
  for (const [org, pts] of series) {
    const color = COLORS[i++ % COLORS.length];
    let d = '';
    let prev = null;
    for (const p of pts) {
      d += `${prev === null || p.t - prev.t > GAP_MS ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
      prev = p;
    }
    if (d) lines.push(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round' }));
    const last = pts[pts.length - 1];
    if (last) lines.push(svg('circle', { cx: x(last.t), cy: y(last.v), r: 3.5, fill: color }));
    const top = pts.reduce((m, p) => Math.max(m, p.v), 0);
    const sw = el('span', { class: 'swatch' });
    sw.style.background = color;
    legend.push(el('li', null, sw, el('span', { class: 'strong' }, org),
      el('span', { class: 'muted' }, ` now ${fmtDuration(last ? last.v : 0)} · peak ${fmtDuration(top)}`)));
  }
  const since = all.length ? Math.min(...all.map((p) => p.t)) : now;
  const fromServer = all.filter((p) => p.server).length;
  const label = `Sync lag over the last hour; ${legend.length ? legend.map((li) => li.textContent).join('; ') : 'no samples yet'}`;
  fill(node,
    svg('svg', { class: 'chart', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': label,
      'data-server-points': fromServer, 'data-page-points': all.length - fromServer, 'data-since': since },
    grid, xticks,
    svg('rect', { class: 'nodata', x: M.left, y: M.top, width: Math.max(0, x(since) - M.left), height: h }),
    lines),
    el('ul', { class: 'legend' }, legend,
      el('li', { class: 'muted small' }, `history since ${new Date(since).toLocaleTimeString('en-GB', { hour12: false })}${
        fromServer ? ' (sampled by the server every 10 s)' : ' (when this page opened)'}`)));
}
