// app.js - the dashboard's entry: sign-in, polling the admin API, the operator's actions.
import { api, ApiError, AuthError, clearToken, enc, getToken, setToken } from './api.js';
import { loadHistory, renderChart, recordLag } from './chart.js';
import { el, fill, fmtDuration, fmtNumber } from './dom.js';
import { pollFeed, renderFeed } from './feed.js';
import { renderMappings, renderOrgs, renderTiles } from './health.js';
import { renderLineage, trace } from './lineage.js';
import { markResolving, renderConflicts, renderDlq, unmarkResolving } from './queues.js';

const POLL_MS = 1500;
const TOAST_MS = 6000;
const $ = (id) => document.getElementById(id);

let timer = null;
let inflight = false;
let again = false;            // an action asked for a refresh while a poll was running
let lastStatus = null;
let historyStale = true;      // the lag history is asked of the server with the next poll

// --- the live indicator, toasts ---------------------------------------------------------------

function setLive(state, text) {
  $('live').className = `live live-${state}`;
  $('live-text').textContent = text;
}

function toast(text, tone = 'ok') {
  const t = el('div', { class: `toast toast-${tone}`, role: tone === 'bad' ? 'alert' : 'status' }, text);
  $('toasts').appendChild(t);
  setTimeout(() => t.remove(), TOAST_MS);
}

function problem(e) {
  if (e instanceof ApiError && e.status === 0) return e.message;
  if (e instanceof ApiError) return `${e.message} (HTTP ${e.status})`;
  return String(e && e.message ? e.message : e);
}

// --- sign-in --------------------------------------------------------------------------------

function askToken(message) {
  stopPolling();
  $('main').hidden = lastStatus === null;
  $('signout').hidden = true;
  setLive('idle', 'Not signed in');
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('login-token').value = '';
  if (!$('login').open) $('login').showModal();
  $('login-token').focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  const token = $('login-token').value.trim();
  const err = $('login-error');
  if (!token) {
    err.hidden = false;
    err.textContent = 'Enter a token.';
    return;
  }
  const btn = ev.submitter || $('login-form').querySelector('button');
  btn.disabled = true;
  try {
    await api('GET', 'admin/v1/status', undefined, token);
    setToken(token);
    $('login').close();
    $('login-token').value = '';
    $('signout').hidden = false;
    $('main').hidden = false;
    pollNow();
  } catch (e) {
    err.hidden = false;
    err.textContent = e instanceof AuthError ? `Not accepted: ${e.message}.` : `Cannot check the token: ${problem(e)}.`;
  } finally {
    btn.disabled = false;
  }
}

// --- asking the operator (a reason, a confirmation) -----------------------------------------

// Resolves to the text entered ('' when the field is optional and left empty), or null when
// cancelled. opts: {title, text, label, required, ok, danger, input (false: a confirmation)}.
function ask(opts) {
  const d = $('ask');
  $('ask-title').textContent = opts.title;
  $('ask-text').textContent = opts.text || '';
  $('ask-field').hidden = opts.input === false;
  $('ask-label').textContent = opts.label || '';
  $('ask-input').value = '';
  $('ask-input').required = !!opts.required;
  $('ask-error').hidden = true;
  $('ask-ok').textContent = opts.ok || 'OK';
  $('ask-ok').className = `btn ${opts.danger ? 'btn-danger' : 'btn-primary'}`;
  return new Promise((resolve) => {
    const done = (v) => {
      $('ask-form').removeEventListener('submit', submit);
      $('ask-cancel').removeEventListener('click', cancel);
      d.removeEventListener('cancel', cancel);
      if (d.open) d.close();
      resolve(v);
    };
    const submit = (ev) => {
      ev.preventDefault();
      const v = $('ask-input').value.trim();
      if (opts.required && opts.input !== false && !v) {
        $('ask-error').hidden = false;
        $('ask-error').textContent = `${opts.label || 'A value'} is required.`;
        $('ask-input').focus();
        return;
      }
      done(opts.input === false ? '' : v);
    };
    const cancel = (ev) => {
      ev.preventDefault();
      done(null);
    };
    $('ask-form').addEventListener('submit', submit);
    $('ask-cancel').addEventListener('click', cancel);
    d.addEventListener('cancel', cancel);
    d.showModal();
    if (opts.input !== false) $('ask-input').focus();
    else $('ask-ok').focus();
  });
}

// --- actions --------------------------------------------------------------------------------

// Runs call with button disabled; reports the outcome and refreshes the page's data.
async function act(button, call, ok) {
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  }
  try {
    const r = await call();
    if (ok) toast(typeof ok === 'function' ? ok(r) : ok, 'ok');
    return r;
  } catch (e) {
    if (e instanceof AuthError) askToken(`Signed out: ${e.message}.`);
    else toast(problem(e), 'bad');
    return undefined;
  } finally {
    if (button && button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
    pollNow();
  }
}

const conflictPath = (id) => `admin/v1/conflicts/${id.split('/').map(enc).join('/')}`;

const actions = {
  async pause(name, button) {
    const reason = await ask({ title: `Pause ${name}`, text: 'Changes on both sides are held, not synced, until the mapping is resumed.',
      label: 'Reason (optional, kept in the audit log)', ok: 'Pause mapping' });
    if (reason === null) return;
    await act(button, () => api('POST', `admin/v1/mappings/${enc(name)}/pause`, reason ? { reason } : {}),
      `${name} paused`);
  },
  async resume(name, button) {
    await act(button, () => api('POST', `admin/v1/mappings/${enc(name)}/resume`, {}),
      (r) => `${name} resumed: ${fmtNumber(r.queued || 0)} held record${r.queued === 1 ? '' : 's'} queued`);
  },
  async resolve(id, take, button) {
    const r = await act(button, () => api('POST', `${conflictPath(id)}/resolve`, { take }),
      `Taking ${take === 'clm' ? 'the repository' : 'Salesforce'}’s value`);
    if (r !== undefined) {
      markResolving(id, take);
      refreshConflicts();
    } else unmarkResolving(id);
  },
  async replay(id, button) {
    await act(button, () => api('POST', `admin/v1/dlq/${enc(id)}/replay`, {}), `Entry ${id.replace(/^0+/, '')} queued again`);
  },
  async discard(id, button) {
    const reason = await ask({ title: 'Discard this change?', text: 'The change is dropped for good; the reason goes to the audit log.',
      label: 'Reason', required: true, ok: 'Discard', danger: true });
    if (reason === null) return;
    await act(button, () => api('POST', `admin/v1/dlq/${enc(id)}/discard`, { reason }), `Entry ${id.replace(/^0+/, '')} discarded`);
  },
  async replayAll(button) {
    const yes = await ask({ title: 'Replay every entry?', text: 'Every dead letter is queued again; those whose cause is not fixed will fail again.',
      input: false, ok: 'Replay all' });
    if (yes === null) return;
    await act(button, () => api('POST', 'admin/v1/dlq/replay', { all: true }),
      (r) => `${fmtNumber(r.replayed)} replayed${r.failed ? `, ${fmtNumber(r.failed)} could not be` : ''}`);
  },
};

let conflictsCache = [];
function refreshConflicts() {
  renderConflicts($('conflicts'), conflictsCache, actions);
}

// --- polling --------------------------------------------------------------------------------

function render(st, conflicts, dlq) {
  lastStatus = st;
  recordLag(st);
  $('meta').textContent = `v${st.version} · up ${fmtDuration((st.uptime_s || 0) * 1000)}`;
  const banner = $('banner');
  banner.hidden = st.engine !== false;
  banner.textContent = st.engine === false ? 'The sync engine is not running (clmsync serve --no-sync): nothing is synced.' : '';
  renderTiles($('tiles'), st);
  renderOrgs($('orgs'), st);
  renderMappings($('mappings'), st, actions);
  renderChart($('lag-chart'));
  conflictsCache = conflicts;
  refreshConflicts();
  $('conflicts-count').textContent = fmtNumber(conflicts.length);
  $('conflicts-count').className = `count ${conflicts.length ? 'count-warn' : ''}`;
  renderDlq($('dlq'), dlq, st.dlq || 0, actions);
  $('dlq-count').textContent = fmtNumber(st.dlq || 0);
  $('dlq-count').className = `count ${st.dlq ? 'count-bad' : ''}`;
  renderFeed($('feed'));
  const waiting = (st.dlq || 0) + conflicts.length;
  document.title = `${waiting ? `(${waiting}) ` : ''}clmsync · Sync operations`;
}

async function poll() {
  timer = null;
  if (inflight || !getToken() || document.hidden) return;
  inflight = true;
  again = false;
  const wantHistory = historyStale;
  historyStale = false;
  try {
    const [st, cf, dq, , hist] = await Promise.all([
      api('GET', 'admin/v1/status'),
      api('GET', 'admin/v1/conflicts'),
      api('GET', 'admin/v1/dlq?limit=100'),
      pollFeed(api),
      // the chart's last hour; without it (an older server) the page's own samples still draw
      wantHistory ? api('GET', 'admin/v1/lag?window=3600').catch((e) => {
        if (e instanceof AuthError) throw e;
        return null;
      }) : null,
    ]);
    if (hist) loadHistory(hist);
    render(st, cf.conflicts || [], dq.entries || []);
    setLive('ok', `Live · ${new Date().toLocaleTimeString('en-GB', { hour12: false })}`);
  } catch (e) {
    if (wantHistory) historyStale = true;
    if (e instanceof AuthError) {
      inflight = false;
      askToken(`Signed out: ${e.message}. Enter an admin token again.`);
      return;
    }
    setLive('error', `${problem(e)} · retrying`);
  } finally {
    inflight = false;
  }
  schedule(again ? 0 : POLL_MS);
}

function schedule(ms) {
  clearTimeout(timer);
  timer = null;
  if (getToken() && !document.hidden) timer = setTimeout(poll, ms);
}

function pollNow() {
  if (inflight) again = true;
  else schedule(0);
}

function stopPolling() {
  clearTimeout(timer);
  timer = null;
}

// A hidden tab asks nothing; shown again, it fills the chart's gap from the server's history.
function onVisibility() {
  if (!getToken()) return;
  if (document.hidden) {
    stopPolling();
    setLive('paused', 'Paused while the tab is hidden');
  } else {
    historyStale = true;     // the server kept sampling meanwhile: fill the gap
    pollNow();
  }
}

// --- lineage --------------------------------------------------------------------------------

async function onTrace(ev) {
  ev.preventDefault();
  const id = $('lineage-id').value.trim();
  const out = $('lineage');
  if (!id) return;
  const entityOf = (name) => {
    for (const o of (lastStatus && lastStatus.orgs) || []) {
      for (const m of o.mappings || []) if (m.name === name) return m.entity;
    }
    return null;
  };
  fill(out, el('p', { class: 'muted' }, 'Looking up…'));
  try {
    renderLineage(out, await trace(api, id, entityOf));
  } catch (e) {
    if (e instanceof AuthError) askToken(`Signed out: ${e.message}.`);
    else fill(out, el('p', { class: 'form-error' }, `Cannot trace ${id}: ${problem(e)}`));
  }
}

// --- start ----------------------------------------------------------------------------------

function start() {
  $('login-form').addEventListener('submit', onLogin);
  // the sign-in dialog stays until a token is accepted
  $('login').addEventListener('cancel', (ev) => ev.preventDefault());
  $('signout').addEventListener('click', () => {
    clearToken();
    lastStatus = null;   // nothing stays on screen behind the sign-in
    askToken('');
  });
  $('lineage-form').addEventListener('submit', onTrace);
  document.addEventListener('visibilitychange', onVisibility);
  new ResizeObserver(() => {
    if (lastStatus) renderChart($('lag-chart'));
  }).observe($('lag-chart'));
  if (getToken()) {
    $('main').hidden = false;
    $('signout').hidden = false;
    setLive('idle', 'Connecting…');
    pollNow();
  } else askToken('');
}

start();
