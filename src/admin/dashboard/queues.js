// queues.js - what waits for an operator: conflicts (take one side) and the dead-letter queue
// (replay or discard).
import { badge, details, el, emptyState, fill, fmtNumber, idEl, renderIfChanged, timeEl, valueEl } from './dom.js';

// Conflicts whose resolution was asked for; the engine settles them within a round, after
// which they leave the list.
const pending = new Map();   // id -> 'clm' | 'salesforce'

export function markResolving(id, take) {
  pending.set(id, take);
}

export function unmarkResolving(id) {
  pending.delete(id);
}

function side(label, v, cls) {
  return el('div', { class: `side ${cls}` }, el('div', { class: 'side-label' }, label), valueEl(v, 'value block'));
}

// actions: {resolve(id, take, button)}
export function renderConflicts(node, list, actions) {
  const ids = new Set(list.map((c) => c.id));
  for (const id of pending.keys()) if (!ids.has(id)) pending.delete(id);
  renderIfChanged(node, { list, pending: [...pending] }, () => {
    if (!list.length) {
      fill(node, emptyState('No conflicts. Fields set to conflict: manual wait here when both sides change them.'));
      return;
    }
    fill(node, list.map((c) => {
      const asked = pending.get(c.id);
      return el('article', { class: 'card conflict', 'aria-label': `conflict ${c.id}`, dataset: { conflictId: c.id } },
        el('header', { class: 'card-head' },
          el('h3', null, `${c.mapping} · ${c.field}`),
          el('span', { class: 'muted small' }, `Salesforce field ${c.sf_field}`),
          el('span', { class: 'spacer' }),
          timeEl(c.ts)),
        el('div', { class: 'ids small' },
          el('span', null, 'Repository ', idEl(c.clm)), el('span', null, 'Salesforce ', idEl(c.sf))),
        el('div', { class: 'sides' },
          side('Base (last agreed)', c.base, 'base'),
          side('Repository', c.clm_value, 'clm'),
          side('Salesforce', c.sf_value, 'sf')),
        el('footer', { class: 'card-actions' },
          asked ? el('span', { class: 'muted small', role: 'status' },
            `Taking ${asked === 'clm' ? 'the repository' : 'Salesforce'}’s value…`) : null,
          el('button', { type: 'button', class: 'btn', disabled: !!asked, 'aria-label': `Take repository value for ${c.id}`,
            onclick: (ev) => actions.resolve(c.id, 'clm', ev.currentTarget) }, 'Take repository'),
          el('button', { type: 'button', class: 'btn', disabled: !!asked, 'aria-label': `Take Salesforce value for ${c.id}`,
            onclick: (ev) => actions.resolve(c.id, 'salesforce', ev.currentTarget) }, 'Take Salesforce')));
    }));
  });
}

function direction(d) {
  return d === 'clm' ? 'to repository' : d === 'salesforce' ? 'to Salesforce' : String(d ?? '—');
}

// The fields the failed change carried, "Name: value" per line, as text.
function changeSummary(item) {
  const vals = item && typeof item.values === 'object' && item.values !== null ? item.values
    : item && typeof item.fields === 'object' && item.fields !== null ? item.fields : null;
  if (!vals) return null;
  const keys = Object.keys(vals).filter((k) => k !== 'LastModifiedDate' && k !== 'updated_at');
  return el('ul', { class: 'changes' }, keys.slice(0, 6).map((k) => el('li', null,
    el('span', { class: 'muted' }, `${k}: `), valueEl(vals[k]))),
  keys.length > 6 ? el('li', { class: 'muted' }, `and ${keys.length - 6} more`) : null);
}

// actions: {replay(id, button), discard(id, button), replayAll(button)}
export function renderDlq(node, entries, total, actions) {
  renderIfChanged(node, { entries, total }, () => {
    if (!entries.length) {
      fill(node, emptyState('The dead-letter queue is empty.'));
      return;
    }
    fill(node,
      el('div', { class: 'toolbar' },
        el('span', { class: 'muted small' }, total > entries.length
          ? `showing the first ${fmtNumber(entries.length)} of ${fmtNumber(total)}` : `${fmtNumber(entries.length)} waiting`),
        el('span', { class: 'spacer' }),
        el('button', { type: 'button', class: 'btn btn-sm', onclick: (ev) => actions.replayAll(ev.currentTarget) },
          'Replay all')),
      el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: 'dlq-table' },
        el('thead', null, el('tr', null, el('th', null, 'Failed'), el('th', null, 'Record'),
          el('th', null, 'Error'), el('th', null, 'Change'),
          el('th', { class: 'actions' }, el('span', { class: 'sr-only' }, 'Actions')))),
        el('tbody', null, entries.map((d) => {
          const err = d.error || {};
          return el('tr', { dataset: { dlqId: d.id } },
            el('td', null, timeEl(d.ts), el('div', { class: 'small muted' }, `#${d.id.replace(/^0+/, '') || '0'}`)),
            el('td', null, el('div', { class: 'strong' }, d.mapping, ' ', badge(direction(d.direction), 'neutral')),
              el('div', { class: 'small' }, idEl(d.clm)), el('div', { class: 'small' }, idEl(d.sf))),
            el('td', { class: 'error-cell' }, err.code ? el('code', { class: 'err-code' }, err.code) : null,
              el('div', null, err.message || '—')),
            el('td', null, changeSummary(d.item),
              el('div', { class: 'payload' }, details(`payload:${d.id}`, 'Payload',
                el('pre', null, JSON.stringify(d.item, null, 2))))),
            el('td', { class: 'actions' },
              el('button', { type: 'button', class: 'btn btn-sm btn-primary', 'aria-label': `Replay ${d.id}`,
                onclick: (ev) => actions.replay(d.id, ev.currentTarget) }, 'Replay'),
              el('button', { type: 'button', class: 'btn btn-sm btn-danger', 'aria-label': `Discard ${d.id}`,
                onclick: (ev) => actions.discard(d.id, ev.currentTarget) }, 'Discard')));
        })))));
  });
}
