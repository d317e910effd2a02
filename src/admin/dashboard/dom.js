// dom.js - building the page from data: elements and text only, and the formatters they use.
//
// Nothing here (or anywhere in the dashboard) turns a string into HTML: values from the API,
// which come from Salesforce and from the repository's users, are only ever set as text. The
// page's Content-Security-Policy enforces it too (Trusted Types with no policy).

const SVG_NS = 'http://www.w3.org/2000/svg';

// el('div', {class: 'x', title: 't', onclick: fn, dataset: {k: 'v'}}, child, 'text', [more], null)
// Children are nodes or strings (as text); arrays are flattened; null and false are skipped.
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = String(v);
    else node.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces what node holds; the arguments are as el()'s children.
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

const num = new Intl.NumberFormat('en-US');

export function fmtNumber(n) {
  return typeof n === 'number' && Number.isFinite(n) ? num.format(n) : '—';
}

// 850 ms, 4.2 s, 3 min 20 s, 2 h 5 min, 3 d 4 h
export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function fmtAge(ms) {
  if (typeof ms !== 'number' || ms < 0) return 'never';
  if (ms < 1500) return 'just now';
  return `${fmtDuration(ms)} ago`;
}

function asDate(t) {
  if (typeof t === 'number') return new Date(t);
  if (typeof t === 'string') {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

// A time of day (today) or a date and time, in the browser's zone; the full ISO form is the
// element's tooltip.
export function timeEl(t) {
  const d = asDate(t);
  if (d === null) return el('span', { class: 'muted' }, '—');
  const today = new Date().toDateString() === d.toDateString();
  const text = today
    ? d.toLocaleTimeString('en-GB', { hour12: false })
    : d.toLocaleString('en-GB', { hour12: false, year: 'numeric', month: 'short', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return el('time', { datetime: d.toISOString(), title: d.toISOString() }, text);
}

// A field value as it is, shown as text: strings verbatim, null as an em dash, the rest as JSON.
export function valueEl(v, cls = 'value') {
  if (v === null || v === undefined) return el('span', { class: `${cls} empty`, title: 'no value' }, '—');
  if (typeof v === 'string') {
    if (v === '') return el('span', { class: `${cls} empty`, title: 'empty string' }, '""');
    return el('span', { class: cls }, v);
  }
  return el('span', { class: `${cls} json` }, JSON.stringify(v));
}

export function badge(text, tone = 'neutral', title) {
  return el('span', { class: `badge badge-${tone}`, title }, text);
}

// A record id in monospace; the whole id is selectable and shown in full on hover.
export function idEl(id) {
  if (!id) return el('span', { class: 'muted' }, '—');
  return el('code', { class: 'id', title: id }, id);
}

export function emptyState(text) {
  return el('p', { class: 'empty-state' }, text);
}

// Runs fn only when key differs from the last one given for node: a section whose data did
// not change keeps its DOM (and the focus, selection and hover state in it).
const lastKeys = new WeakMap();
export function renderIfChanged(node, data, fn) {
  const key = JSON.stringify(data);
  if (lastKeys.get(node) === key) return;
  lastKeys.set(node, key);
  fn(node, data);
}

export function forgetRender(node) {
  lastKeys.delete(node);
}

// A <details> that stays open (or closed) across re-renders of its section: key names it.
const openDetails = new Set();
export function details(key, summary, ...children) {
  const d = el('details', { open: openDetails.has(key) }, el('summary', null, summary), ...children);
  d.addEventListener('toggle', () => {
    if (d.open) openDetails.add(key);
    else openDetails.delete(key);
  });
  return d;
}
