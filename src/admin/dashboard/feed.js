// feed.js - recent syncs: follows the audit log (/admin/v1/audit?after=...) and shows the
// newest rows first.
import { enc } from './api.js';
import { badge, el, emptyState, fill, idEl, renderIfChanged, timeEl, valueEl } from './dom.js';

const KEEP = 100;             // rows shown
const PAGE = 500;             // rows one call asks for
const PAGES_PER_POLL = 4;     // a long backlog is caught up over a few polls, not in one
const START_BACK_MS = 3600 * 1000;

let cursor = 0;               // the last audit row read (scanned_to)
let started = false;
const since = new Date(Date.now() - START_BACK_MS).toISOString();
let rows = [];                // newest first
const fresh = new Set();      // seqs that arrived after the first load, highlighted once

// Reads what the log gained since the last call. The first call starts an hour back.
export async function pollFeed(api) {
  for (let i = 0; i < PAGES_PER_POLL; i++) {
    const q = cursor > 0 ? `after=${cursor}` : `since=${enc(since)}`;
    const r = await api('GET', `admin/v1/audit?${q}&limit=${PAGE}`);
    const got = Array.isArray(r.rows) ? r.rows : [];
    if (got.length) {
      if (started) for (const row of got) fresh.add(row.seq);
      rows = got.slice().reverse().concat(rows).slice(0, KEEP);
    }
    const last = got.length ? got[got.length - 1].seq : 0;
    cursor = Math.max(cursor, typeof r.scanned_to === 'number' ? r.scanned_to : 0, last || 0);
    if (r.next === null || r.next === undefined) break;
  }
  started = true;
}

const TONES = {
  applied: 'ok', created: 'ok', linked: 'ok', resolved: 'ok', replayed: 'info',
  conflict: 'warn', paused: 'warn', resumed: 'info', discarded: 'neutral',
  dlq: 'bad', reverted: 'warn', drift: 'warn', repaired: 'ok', deleted: 'neutral', terminated: 'neutral',
  ignored: 'neutral',
};

function sideLabel(s) {
  return s === 'clm' ? '→ repository' : s === 'salesforce' ? '→ Salesforce' : '';
}

export function renderFeed(node) {
  renderIfChanged(node, rows.map((r) => r.seq), () => {
    if (!rows.length) {
      fill(node, emptyState('Nothing synced in the last hour. New rows appear here as they are written.'));
      return;
    }
    fill(node, el('div', { class: 'table-wrap feed' }, el('table', { class: 'table', id: 'feed-table' },
      el('thead', null, el('tr', null, el('th', null, 'Time'), el('th', null, 'Mapping'), el('th', null, 'Record'),
        el('th', null, 'Field'), el('th', null, 'Decision'), el('th', null, 'Change'))),
      el('tbody', null, rows.map((r) => {
        const isFresh = fresh.delete(r.seq);
        const change = r.field !== null && r.field !== undefined
          ? el('span', { class: 'change' }, valueEl(r.old), el('span', { class: 'arrow', 'aria-label': 'becomes' }, ' → '), valueEl(r.new))
          : r.detail ? el('span', { class: 'muted' }, r.detail) : null;
        return el('tr', { class: isFresh ? 'fresh' : null, dataset: { seq: r.seq } },
          el('td', { class: 'nowrap' }, timeEl(r.ts)),
          el('td', null, r.mapping || '—', r.side ? el('div', { class: 'small muted' }, sideLabel(r.side)) : null),
          el('td', null, r.clm_id ? el('div', null, idEl(r.clm_id)) : null, r.sf_id ? el('div', null, idEl(r.sf_id)) : null),
          el('td', null, r.field ? el('code', null, r.field) : el('span', { class: 'muted' }, 'record')),
          el('td', null, badge(r.decision || '—', TONES[r.decision] || 'neutral', r.event ? `event ${r.event}` : undefined)),
          el('td', { class: 'change-cell' }, change,
            r.field !== null && r.field !== undefined && r.detail ? el('div', { class: 'small muted' }, r.detail) : null));
      })))));
  });
}
