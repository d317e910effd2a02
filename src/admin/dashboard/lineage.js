// lineage.js - where a record's values came from: its links in every mapping, then per field
// the value on each side and the audit row that last set it.
import { enc } from './api.js';
import { badge, el, emptyState, fill, fmtNumber, idEl, timeEl, valueEl } from './dom.js';

// Looks id up as a repository id, then as a Salesforce id. entityOf: mapping name -> entity.
// Returns {id, links, lineage} (lineage null when nothing links the id).
export async function trace(api, id, entityOf) {
  let links = (await api('GET', `admin/v1/links?clm=${enc(id)}`)).links || [];
  if (!links.length) links = (await api('GET', `admin/v1/links?sf=${enc(id)}`)).links || [];
  if (!links.length) return { id, links, lineage: null };
  const entity = entityOf(links[0].mapping);
  if (!entity) return { id, links, lineage: null };
  const lineage = await api('GET', `admin/v1/lineage/${enc(entity)}/${enc(links[0].clm)}`);
  return { id, links, lineage };
}

function lastChange(r) {
  if (!r) return el('span', { class: 'muted' }, 'no audit row');
  return el('div', { class: 'last-change' },
    badge(r.decision || '—', r.decision === 'dlq' ? 'bad' : r.decision === 'conflict' ? 'warn' : 'neutral'),
    ' ', timeEl(r.ts),
    el('div', { class: 'small muted' }, [r.side ? `from ${r.side === 'clm' ? 'Salesforce to the repository' : 'the repository to Salesforce'}` : null,
      `audit #${r.seq}`, r.field ? null : 'whole record'].filter(Boolean).join(' · ')),
    r.detail ? el('div', { class: 'small muted detail' }, r.detail) : null);
}

export function renderLineage(node, res) {
  if (res.lineage === null) {
    fill(node, emptyState(`No mapping links “${res.id}”: it is neither a synced repository id nor a synced Salesforce id.`));
    return;
  }
  const lg = res.lineage;
  fill(node,
    el('p', { class: 'lineage-summary' },
      el('span', { class: 'strong' }, lg.entity), ' ', idEl(lg.id), ' · ',
      lg.in_repository ? 'in the repository' : badge('not in the repository', 'warn'), ' · ',
      `${fmtNumber(lg.audit_rows)} audit row${lg.audit_rows === 1 ? '' : 's'}`),
    (lg.mappings || []).map((m) => el('article', { class: 'card lineage', dataset: { mapping: m.mapping } },
      el('header', { class: 'card-head' },
        el('h3', null, m.mapping),
        el('span', { class: 'muted small' }, `org ${m.org} · ${m.sobject}`),
        idEl(m.sf),
        Array.isArray(m.in_flight) && m.in_flight.length ? badge(`${m.in_flight.length} in flight`, 'info') : null),
      el('div', { class: 'table-wrap' }, el('table', { class: 'table lineage-table' },
        el('thead', null, el('tr', null, el('th', null, 'Field'), el('th', null, 'Owner'),
          el('th', null, 'Repository'), el('th', null, 'Salesforce (last synced)'), el('th', null, 'Last change'))),
        el('tbody', null, (m.fields || []).map((f) => el('tr', { dataset: { field: f.field, sfField: f.sf_field } },
          el('td', null, el('code', null, f.field), el('div', { class: 'small muted' }, f.sf_field)),
          el('td', null, f.owner === 'both' ? 'both' : f.owner === 'clm' ? 'repository' : 'Salesforce'),
          el('td', { class: 'lineage-clm' }, valueEl(f.clm_value)),
          el('td', { class: 'lineage-sf' }, valueEl(f.salesforce_value)),
          el('td', null, lastChange(f.last_change))))))))));
}
