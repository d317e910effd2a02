// health.js - the state of orgs and mappings at a glance: summary tiles, one card per org, the
// mappings with their pause switch.
import { badge, details, el, emptyState, fill, fmtAge, fmtDuration, fmtNumber, renderIfChanged, timeEl } from './dom.js';

const LAG_WARN_MS = 5000;
const LAG_BAD_MS = 60000;
const API_WARN = 0.8;
const API_BAD = 0.95;

function lagTone(ms) {
  return ms >= LAG_BAD_MS ? 'bad' : ms >= LAG_WARN_MS ? 'warn' : 'ok';
}

function apiShare(api) {
  return api && api.max > 0 ? api.used / api.max : null;
}

function tile(label, value, tone, sub) {
  return el('div', { class: `tile tile-${tone}`, role: 'group', 'aria-label': label },
    el('div', { class: 'tile-label' }, label),
    el('div', { class: 'tile-value' }, value),
    el('div', { class: 'tile-sub' }, sub || '\u00a0'));
}

export function renderTiles(node, st) {
  const orgs = st.orgs || [];
  const live = orgs.filter((o) => o.engine !== false);
  const up = live.filter((o) => o.stream && o.stream.connected).length;
  const maxLag = orgs.reduce((m, o) => Math.max(m, o.lag_ms || 0), 0);
  const queued = orgs.reduce((n, o) => n + (o.inbox || 0) + (o.outbox || 0) + (o.feed_backlog || 0), 0);
  const maps = orgs.flatMap((o) => o.mappings || []);
  const paused = maps.filter((m) => m.paused).length;
  const shares = orgs.map((o) => apiShare(o.api)).filter((x) => x !== null);
  const worst = shares.length ? Math.max(...shares) : null;
  fill(node,
    tile('Change streams', live.length ? `${up} / ${live.length}` : 'off',
      !live.length ? 'neutral' : up === live.length ? 'ok' : 'bad',
      !live.length ? 'sync engine not running' : up === live.length ? 'all connected' : `${live.length - up} down`),
    tile('Sync lag', fmtDuration(maxLag), lagTone(maxLag), 'oldest pending change'),
    tile('Queued', fmtNumber(queued), queued > 0 ? 'info' : 'ok', 'inbox · outbox · feed'),
    tile('Dead letters', fmtNumber(st.dlq), st.dlq > 0 ? 'bad' : 'ok', st.dlq > 0 ? 'need replay or discard' : 'none'),
    tile('Conflicts', fmtNumber(st.conflicts), st.conflicts > 0 ? 'warn' : 'ok',
      st.conflicts > 0 ? 'waiting for a decision' : 'none'),
    tile('API budget', worst === null ? '—' : `${(worst * 100).toFixed(worst < 0.1 ? 2 : 1)} %`,
      worst === null ? 'neutral' : worst >= API_BAD ? 'bad' : worst >= API_WARN ? 'warn' : 'ok', 'used of the daily limit'),
    tile('Mappings', `${maps.length - paused} / ${maps.length}`, paused ? 'warn' : 'ok',
      paused ? `${paused} paused` : 'all syncing'));
}

function kv(label, ...value) {
  return [el('dt', null, label), el('dd', null, ...value)];
}

function meter(share) {
  if (share === null) return null;
  const pct = Math.min(100, Math.max(0, share * 100));
  const m = el('div', { class: `meter meter-${share >= API_BAD ? 'bad' : share >= API_WARN ? 'warn' : 'ok'}`,
    role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct.toFixed(1) });
  const bar = el('span');
  bar.style.width = `${pct}%`;   // CSSOM, not a style attribute: allowed by the page's policy
  m.appendChild(bar);
  return m;
}

function orgCard(o, now) {
  const s = o.stream || {};
  const engine = o.engine !== false;
  const conn = !engine ? badge('engine off', 'neutral', 'clmsync serve --no-sync: nothing is synced')
    : s.connected ? badge('connected', 'ok') : badge('disconnected', 'bad');
  const since = s.since_ms > 0 ? fmtDuration(now - s.since_ms) : null;
  const au = o.auth || null;
  const rc = o.reconcile || {};
  const positions = Object.entries(s.positions || {});
  return el('article', { class: 'card org', 'aria-label': `org ${o.org}`, dataset: { org: o.org } },
    el('header', { class: 'card-head' },
      el('h3', null, o.org),
      conn,
      au && !au.authenticated ? badge('not logged in', 'bad', au.error || 'not logged in yet') : null,
      since && engine ? el('span', { class: 'muted small' }, `${s.connected ? 'for' : 'down for'} ${since}`) : null),
    el('dl', { class: 'kv' },
      kv('Last event', engine ? fmtAge(o.last_event_age_ms) : '—'),
      kv('Login', !au ? '—' : au.authenticated
        ? el('span', null, 'ok', au.login_ms > 0 ? el('span', { class: 'muted' }, ' · ', timeEl(au.login_ms)) : null)
        : el('span', { class: 'tone-bad' }, au.error || 'not logged in yet')),
      kv('Lag', el('span', { class: `tone-${lagTone(o.lag_ms || 0)}` }, fmtDuration(o.lag_ms || 0)),
        typeof o.lag_to_salesforce_ms === 'number' ? el('span', { class: 'muted small' },
          ` · to Salesforce ${fmtDuration(o.lag_to_salesforce_ms)}, to the repository ${fmtDuration(o.lag_to_clm_ms || 0)}`) : null),
      kv('Inbox', fmtNumber(o.inbox)),
      kv('Outbox', fmtNumber(o.outbox)),
      kv('Feed backlog', fmtNumber(o.feed_backlog)),
      kv('API calls', o.api ? `${fmtNumber(o.api.used)} of ${fmtNumber(o.api.max)}` : '—', o.api ? meter(apiShare(o.api)) : null),
      kv('Reconnects', fmtNumber(s.reconnects ?? 0)),
      kv('Reconcile', rc.running_since_ms > 0
        ? `running, ${fmtNumber(rc.progress)} checked`
        : rc.last_ms > 0 ? el('span', null, timeEl(rc.last_ms), ` · ${fmtNumber(rc.last_checked)} checked, ${fmtNumber(rc.last_drift)} drifted`)
          : 'not yet')),
    positions.length ? el('div', { class: 'positions' }, details(`positions:${o.org}`, `Replay positions (${positions.length})`,
      el('div', { class: 'table-wrap' }, el('table', { class: 'table compact' },
        el('thead', null, el('tr', null, el('th', null, 'Channel'), el('th', { class: 'num' }, 'Replay id'),
          el('th', { class: 'num' }, 'Retention left'))),
        el('tbody', null, positions.map(([ch, p]) => el('tr', null,
          el('td', null, el('code', null, ch)),
          el('td', { class: 'num' }, fmtNumber(p.replay_id)),
          el('td', { class: 'num' }, p.retention_left_s >= 0 ? fmtDuration(p.retention_left_s * 1000) : '—')))))))) : null);
}

export function renderOrgs(node, st) {
  const orgs = st.orgs || [];
  if (!orgs.length) {
    fill(node, emptyState('No org has a mapping in this configuration.'));
    return;
  }
  fill(node, orgs.map((o) => orgCard(o, st.now_ms)));
}

function stateCell(m, engine) {
  if (m.paused) {
    const p = m.pause || {};
    const held = (p.held_clm || 0) + (p.held_salesforce || 0);
    return el('td', null, badge('paused', 'warn'),
      el('div', { class: 'small muted' },
        [p.by ? `by ${p.by}` : null, p.reason ? `“${p.reason}”` : null,
          `${fmtNumber(held)} record${held === 1 ? '' : 's'} held`].filter(Boolean).join(' · ')));
  }
  return el('td', null, engine ? badge('syncing', 'ok') : badge('engine off', 'neutral'));
}

// actions: {pause(name), resume(name)}
export function renderMappings(node, st, actions) {
  const rows = (st.orgs || []).flatMap((o) => (o.mappings || []).map((m) => ({ org: o.org, engine: o.engine !== false,
    name: m.name, entity: m.entity, sobject: m.sobject, paused: !!m.paused, pause: m.pause || null,
    counters: m.counters || {}, dlq: m.dlq || 0, conflicts: m.conflicts || 0 })));
  renderIfChanged(node, rows, () => {
    if (!rows.length) {
      fill(node, emptyState('No mappings are configured.'));
      return;
    }
    fill(node, el('table', { class: 'table', id: 'mappings-table' },
      el('thead', null, el('tr', null,
        el('th', null, 'Mapping'), el('th', null, 'Org'), el('th', null, 'State'),
        el('th', { class: 'num' }, 'To Salesforce'), el('th', { class: 'num' }, 'To repository'),
        el('th', { class: 'num' }, 'Dead letters'), el('th', { class: 'num' }, 'Conflicts'),
        el('th', { class: 'actions' }, el('span', { class: 'sr-only' }, 'Actions')))),
      el('tbody', null, rows.map((m) => el('tr', { dataset: { mapping: m.name } },
        el('td', null, el('div', { class: 'strong' }, m.name),
          el('div', { class: 'small muted' }, `${m.entity} ↔ ${m.sobject}`)),
        el('td', null, m.org),
        stateCell(m, m.engine),
        el('td', { class: 'num' }, fmtNumber(m.counters.to_salesforce ?? 0)),
        el('td', { class: 'num' }, fmtNumber(m.counters.to_clm ?? 0)),
        el('td', { class: `num ${m.dlq ? 'tone-bad strong' : ''}` }, fmtNumber(m.dlq)),
        el('td', { class: `num ${m.conflicts ? 'tone-warn strong' : ''}` }, fmtNumber(m.conflicts)),
        el('td', { class: 'actions' }, m.paused
          ? el('button', { type: 'button', class: 'btn btn-primary btn-sm', 'aria-label': `Resume ${m.name}`,
            onclick: (ev) => actions.resume(m.name, ev.currentTarget) }, 'Resume')
          : el('button', { type: 'button', class: 'btn btn-sm', 'aria-label': `Pause ${m.name}`,
            onclick: (ev) => actions.pause(m.name, ev.currentTarget) }, 'Pause')))))));
  });
}
