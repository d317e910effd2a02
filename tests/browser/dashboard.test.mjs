// dashboard.test.mjs - the operator's dashboard in headless Chromium (run by run.sh, which
// starts sfemu and `clmsync serve` and passes their URLs). Every action clicked in the page is
// checked through the admin API or the two systems' own APIs, not only in the DOM.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const { SF_URL, CLM_URL, ADMIN_URL, CLM_ADMIN_TOKEN: TOKEN, CHROMIUM, OUT_DIR } = process.env;
const SF_API = '/services/data/v62.0';
const SYNC_WAIT_MS = 30000;    // a change crossing systems: seconds normally; the machine is shared
const UI_WAIT_MS = 15000;      // the page polls every 1.5 s
const HOSTILE_DESC = '<img src=x onerror=alert(1)>';
const HOSTILE_TITLE = '<script>window.__pwned = 1</script>';

// --- HTTP clients ------------------------------------------------------------------------------

async function http(method, url, body, headers = {}) {
  const h = { ...headers };
  let data;
  if (body !== undefined) {
    data = typeof body === 'string' ? body : JSON.stringify(body);
    h['Content-Type'] ??= 'application/json';
  }
  const r = await fetch(url, { method, headers: h, body: data, redirect: 'manual' });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: r.status, headers: r.headers, text, json };
}

const admin = (method, p, body) => http(method, ADMIN_URL + p, body, { Authorization: `Bearer ${TOKEN}` });
const clm = (method, p, body) => http(method, `${CLM_URL}/api/v1${p}`, body, { Authorization: `Bearer ${TOKEN}` });

let sfToken = null;
async function sf(method, p, body) {
  if (sfToken === null) {
    const r = await http('POST', `${SF_URL}/services/oauth2/token`,
      'grant_type=client_credentials&client_id=clmsync-test-client&client_secret=clmsync-test-secret',
      { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 200, `Salesforce token: ${r.text}`);
    sfToken = r.json.access_token;
  }
  return http(method, SF_URL + SF_API + p, body, { Authorization: `Bearer ${sfToken}` });
}

async function sfUpdate(id, fields) {
  const r = await sf('PATCH', `/sobjects/Contract/${id}`, fields);
  assert.equal(r.status, 204, `Salesforce update of ${id}: ${r.text}`);
}

async function sfContractOf(clmId) {
  const r = await sf('GET', `/query?q=${encodeURIComponent(`SELECT Id FROM Contract WHERE CLM_Id__c = '${clmId}'`)}`);
  return r.status === 200 && r.json.records.length ? r.json.records[0].Id : null;
}

async function create(plural, body) {
  const r = await clm('POST', `/${plural}`, body);
  assert.equal(r.status, 201, `create ${plural}: ${r.text}`);
  return r.json;
}

// Polls fn until it returns a truthy value; fails the test with what was awaited at the deadline.
async function waitFor(fn, what, ms = SYNC_WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const q = encodeURIComponent;
const conflictPath = (id) => `/admin/v1/conflicts/${id.split('/').map(q).join('/')}`;

// --- the browser -------------------------------------------------------------------------------

let browser;
let page;
const dialogs = [];            // alert/confirm/prompt: the page itself never opens one
const pageErrors = [];         // uncaught exceptions in the page
const statusCalls = [];        // times of the page's /admin/v1/status requests
let A, B, C;                   // the contracts: A meets a conflict, B carries hostile text, C a DLQ entry
let openedAt = 0;              // when the page was first opened

before(async () => {
  const launching = chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-proxy-server', '--disable-gpu', '--disable-dev-shm-usage'] });
  const cp = await create('counterparties', { legal_name: 'Dashboard Corp', custom: { industry: 'Software' } });
  const mk = (title, description) => create('contracts', { title, type: 'msa', counterparty_id: cp.id, description });
  const ca = await mk('Dashboard MSA', 'first');
  const cb = await mk(HOSTILE_TITLE, 'plain');
  const cc = await mk('Dashboard SOW', 'third');
  [A, B, C] = [{ clm: ca.id }, { clm: cb.id }, { clm: cc.id }];
  for (const x of [A, B, C]) x.sf = await waitFor(() => sfContractOf(x.clm), `${x.clm} in Salesforce`);
  browser = await launching;
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // CSP violations are recorded where the test can read them; an init script is not subject to
  // the page's policy
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
  });
  page = await ctx.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/admin/v1/status') statusCalls.push(Date.now());
  });
});

after(async () => {
  if (browser) await browser.close();
});

async function screenshot(name) {
  const file = path.join(OUT_DIR, name);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
}

async function text(selector) {
  const l = page.locator(selector);
  return (await l.count()) ? (await l.first().textContent()) : null;
}

async function signIn(token) {
  await page.locator('#login').waitFor({ state: 'visible', timeout: UI_WAIT_MS });
  await page.fill('#login-token', token);
  await page.click('#login-form button[type=submit]');
}

// --- the tests, in order: each builds on the one before -------------------------------------

test('the page is static, served with a strict policy, and opens no door to the API', async () => {
  const root = await http('GET', `${ADMIN_URL}/`);
  assert.equal(root.status, 200);
  assert.match(root.headers.get('content-type'), /^text\/html; charset=utf-8$/);
  const csp = root.headers.get('content-security-policy') || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /require-trusted-types-for 'script'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(root.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(root.headers.get('cache-control'), 'no-cache');
  const etag = root.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  // no inline script, handler or style in the markup
  assert.doesNotMatch(root.text, /<script(?![^>]*\ssrc=)[^>]*>/i);
  assert.doesNotMatch(root.text, /\son[a-z]+\s*=|\sstyle\s*=/i);

  const again = await http('GET', `${ADMIN_URL}/`, undefined, { 'If-None-Match': etag });
  assert.equal(again.status, 304, 'a matching ETag: 304');
  assert.equal(again.text, '');
  const js = await http('GET', `${ADMIN_URL}/ui/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
  assert.doesNotMatch(js.text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  const css = await http('GET', `${ADMIN_URL}/ui/style.css`);
  assert.match(css.headers.get('content-type'), /^text\/css/);
  assert.equal((await http('GET', `${ADMIN_URL}/ui/nothing.js`)).status, 404);
  assert.equal((await http('POST', `${ADMIN_URL}/`, '{}')).status, 405);
  // the dashboard's paths are public; the data still needs the token
  assert.equal((await http('GET', `${ADMIN_URL}/admin/v1/status`)).status, 401);
  assert.equal((await http('GET', `${ADMIN_URL}/ui/../admin/v1/status`)).status, 401);
});

test('sign-in asks for the token once and keeps it for the tab only', { timeout: 60000 }, async () => {
  openedAt = Date.now();
  await page.goto(`${ADMIN_URL}/`);
  await signIn('not-the-token-at-all-0000000');
  await waitFor(async () => (await text('#login-error'))?.includes('Not accepted'), 'the refusal', UI_WAIT_MS);
  assert.ok(await page.locator('#login').isVisible(), 'a wrong token keeps the sign-in open');
  await page.fill('#login-token', TOKEN);
  await page.click('#login-form button[type=submit]');
  await page.locator('#login').waitFor({ state: 'hidden', timeout: UI_WAIT_MS });
  const stored = await page.evaluate(() => ({ s: sessionStorage.getItem('clmsync.admin-token'), l: localStorage.length }));
  assert.equal(stored.s, TOKEN, 'the token is in sessionStorage');
  assert.equal(stored.l, 0, 'nothing in localStorage');
  assert.ok(!page.url().includes(TOKEN), 'the token is not in the URL');
});

test('org and mapping health renders from /admin/v1/status', { timeout: 60000 }, async () => {
  const st = (await admin('GET', '/admin/v1/status')).json;
  assert.equal(st.orgs[0].stream.connected, true);
  await waitFor(async () => (await text('.org[data-org="sf"] .badge')) === 'connected', 'org sf shown connected', UI_WAIT_MS);
  const card = await text('.org[data-org="sf"]');
  for (const k of ['Last event', 'Lag', 'Inbox', 'Outbox', 'API calls']) assert.ok(card.includes(k), `org card shows ${k}`);
  assert.match(card, new RegExp(`of ${st.orgs[0].api.max.toLocaleString('en-US')}`), 'the API budget');
  for (const m of ['counterparties', 'contracts']) {
    const row = await text(`#mappings-table tr[data-mapping="${m}"]`);
    assert.ok(row && row.includes('syncing'), `mapping ${m} shown syncing: ${row}`);
  }
  assert.equal(await text('.tile[aria-label="Change streams"] .tile-value'), '1 / 1');
  await waitFor(async () => (await page.locator('#lag-chart svg path').count()) >= 1, 'a lag line', UI_WAIT_MS);
  // the feed shows the contracts created before the page opened
  await waitFor(async () => (await text('#feed-table'))?.includes(A.clm), 'A in recent syncs', UI_WAIT_MS);
});

test('the lag chart opens with the server\'s history and goes on with the page\'s own samples', { timeout: 60000 }, async () => {
  const hist = (await admin('GET', '/admin/v1/lag?window=3600')).json;
  assert.equal(hist.interval_s, 10);
  const samples = hist.orgs.find((o) => o.org === 'sf').samples;
  assert.ok(samples.length >= 1, 'the server has samples');
  const first = samples[0];
  for (const k of ['lag_ms', 'lag_to_salesforce_ms', 'lag_to_clm_ms', 'inbox', 'outbox', 'feed_backlog']) {
    assert.equal(typeof first[k], 'number', `a sample has ${k}`);
  }
  assert.ok(first.t < openedAt, `the server sampled before the page opened (${first.t} < ${openedAt})`);
  const chart = page.locator('#lag-chart svg');
  await waitFor(async () => Number(await chart.getAttribute('data-server-points')) >= 1, 'server points in the chart', UI_WAIT_MS);
  const since = Number(await chart.getAttribute('data-since'));
  assert.ok(since <= first.t, `the chart starts at the server's first sample (${since} <= ${first.t})`);
  assert.match(await text('#lag-chart .legend'), /sampled by the server every 10 s/);
  // live polls append to it
  const before = Number(await chart.getAttribute('data-page-points'));
  await waitFor(async () => Number(await page.locator('#lag-chart svg').getAttribute('data-page-points')) > before,
    'a live point after the history', UI_WAIT_MS);
  assert.equal(Number(await page.locator('#lag-chart svg').getAttribute('data-since')), since, 'the history stays');
});

test('pause and resume by clicking; a manual conflict appears live with base and both values', { timeout: 90000 }, async () => {
  await page.getByRole('button', { name: 'Pause contracts' }).click();
  await page.locator('#ask').waitFor({ state: 'visible' });
  await page.fill('#ask-input', 'dashboard rehearsal');
  await page.click('#ask-ok');
  const paused = await waitFor(async () => {
    const r = await admin('GET', '/admin/v1/mappings');
    return r.json.mappings.find((m) => m.name === 'contracts' && m.pause.paused === true);
  }, 'contracts paused (API)', UI_WAIT_MS);
  assert.equal(paused.pause.reason, 'dashboard rehearsal');
  await waitFor(async () => (await text('#mappings-table tr[data-mapping="contracts"]'))?.includes('paused'), 'paused in the page', UI_WAIT_MS);
  // the audit row of the pause streams into recent syncs
  await waitFor(async () => (await text('#feed-table'))?.includes('paused by admin-api: dashboard rehearsal'),
    'the pause in recent syncs', UI_WAIT_MS);

  assert.equal((await clm('PATCH', `/contracts/${A.clm}`, { description: 'repository while paused' })).status, 200);
  await sfUpdate(A.sf, { Description: 'salesforce while paused' });
  await waitFor(async () => {
    const r = await admin('GET', '/admin/v1/mappings');
    const p = r.json.mappings.find((m) => m.name === 'contracts').pause;
    return p.held_clm >= 1 && p.held_salesforce >= 1;
  }, 'both edits held');

  await page.getByRole('button', { name: 'Resume contracts' }).click();
  await waitFor(async () => {
    const r = await admin('GET', '/admin/v1/mappings');
    return r.json.mappings.find((m) => m.name === 'contracts').pause.paused === false;
  }, 'contracts resumed (API)', UI_WAIT_MS);

  A.conflict = `contracts/${A.clm}/Description`;
  const card = page.locator(`article.conflict[data-conflict-id="${A.conflict}"]`);
  await card.waitFor({ state: 'visible', timeout: SYNC_WAIT_MS });
  assert.equal(await card.locator('.side.base .value').textContent(), 'first');
  assert.equal(await card.locator('.side.clm .value').textContent(), 'repository while paused');
  assert.equal(await card.locator('.side.sf .value').textContent(), 'salesforce while paused');
  assert.equal((await admin('GET', conflictPath(A.conflict))).status, 200, 'the API has the same conflict');
});

test('a change the repository refuses shows in the dead-letter queue', { timeout: 60000 }, async () => {
  await sfUpdate(C.sf, { CLM_Lifecycle_Status__c: 'Expired' });   // draft -> expired is no transition
  const d = await waitFor(async () => (await admin('GET', '/admin/v1/dlq')).json.entries.find((e) => e.clm === C.clm),
    'the DLQ entry (API)');
  C.dlq = d.id;
  const row = page.locator(`#dlq-table tr[data-dlq-id="${d.id}"]`);
  await row.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
  assert.match(await row.textContent(), /cannot move to expired/);
});

test('hostile values from Salesforce and the repository are shown as text and run nothing', { timeout: 60000 }, async () => {
  await sfUpdate(B.sf, { Description: HOSTILE_DESC });
  await waitFor(async () => (await clm('GET', `/contracts/${B.clm}`)).json?.description === HOSTILE_DESC,
    'the hostile description synced into the repository');
  await page.fill('#lineage-id', B.sf);
  await page.click('#lineage-form button[type=submit]');
  const desc = page.locator('#lineage tr[data-field="description"]');
  await desc.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
  assert.equal(await desc.locator('td.lineage-clm .value').textContent(), HOSTILE_DESC);
  assert.equal(await desc.locator('td.lineage-sf .value').textContent(), HOSTILE_DESC);
  assert.equal(await page.locator('#lineage tr[data-field="title"] td.lineage-clm .value').textContent(), HOSTILE_TITLE);
  // the same values in recent syncs, also as text
  await waitFor(async () => (await text('#feed-table'))?.includes(HOSTILE_DESC), 'the hostile value in recent syncs', UI_WAIT_MS);
  const found = await page.evaluate(() => ({
    imgs: [...document.querySelectorAll('img')].map((i) => i.getAttribute('src')),
    scripts: [...document.querySelectorAll('body script')].length,
    pwned: window.__pwned,
    csp: window.__csp,
  }));
  assert.deepEqual(found.imgs, ['ui/favicon.svg'], 'no element was made from the data');
  assert.equal(found.scripts, 0);
  assert.equal(found.pwned, undefined);
  assert.deepEqual(found.csp, [], 'nothing even tried to break the policy');
  assert.deepEqual(dialogs, [], 'no alert ran');
  await screenshot('dashboard.png');
});

test('"Take Salesforce" resolves the conflict: both systems hold Salesforce\'s value', { timeout: 60000 }, async () => {
  const card = page.locator(`article.conflict[data-conflict-id="${A.conflict}"]`);
  await card.getByRole('button', { name: /^Take Salesforce/ }).click();
  await waitFor(async () => (await admin('GET', conflictPath(A.conflict))).status === 404, 'the conflict settled (API)');
  await waitFor(async () => (await clm('GET', `/contracts/${A.clm}`)).json.description === 'salesforce while paused',
    'the repository holds the Salesforce value');
  const s = await sf('GET', `/sobjects/Contract/${A.sf}`);
  assert.equal(s.json.Description, 'salesforce while paused');
  await card.waitFor({ state: 'detached', timeout: UI_WAIT_MS });
  const rows = (await admin('GET', `/admin/v1/audit?record=${q(A.clm)}&field=description`)).json.rows;
  assert.ok(rows.some((r) => r.decision === 'resolved'), `the resolution is audited: ${JSON.stringify(rows.map((r) => r.decision))}`);
});

test('Replay and Discard by clicking act on the dead-letter queue', { timeout: 60000 }, async () => {
  await page.getByRole('button', { name: `Replay ${C.dlq}` }).click();
  await waitFor(async () => (await admin('GET', `/admin/v1/dlq/${C.dlq}`)).status === 404, 'the replayed entry left the DLQ (API)');
  // the cause is not fixed: the move is refused again, as a new entry
  const d2 = await waitFor(async () => (await admin('GET', '/admin/v1/dlq')).json.entries.find((e) => e.clm === C.clm && e.id !== C.dlq),
    'the replayed change refused again');
  await page.locator(`#dlq-table tr[data-dlq-id="${C.dlq}"]`).waitFor({ state: 'detached', timeout: UI_WAIT_MS });
  await page.getByRole('button', { name: `Discard ${d2.id}` }).click();
  await page.locator('#ask').waitFor({ state: 'visible' });
  await page.click('#ask-ok');   // no reason: refused in the page
  assert.ok(await page.locator('#ask-error').isVisible(), 'a discard needs a reason');
  await page.fill('#ask-input', 'expired by mistake in Salesforce');
  await page.click('#ask-ok');
  await waitFor(async () => (await admin('GET', `/admin/v1/dlq/${d2.id}`)).status === 404, 'the entry discarded (API)', UI_WAIT_MS);
  const audit = (await admin('GET', `/admin/v1/audit?decision=discarded&record=${q(C.clm)}`)).json.rows;
  assert.ok(audit.some((r) => r.detail === 'expired by mistake in Salesforce'), 'the discard and its reason are audited');
  await waitFor(async () => (await text('#dlq')).includes('empty'), 'the DLQ shown empty', UI_WAIT_MS);
});

test('a refused token asks for it again', { timeout: 60000 }, async () => {
  await page.evaluate(() => sessionStorage.setItem('clmsync.admin-token', 'revoked-token-000000000000000'));
  await waitFor(async () => page.locator('#login').isVisible(), 'the sign-in again', UI_WAIT_MS);
  assert.match(await text('#login-error'), /Signed out/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('clmsync.admin-token')), null, 'the bad token is dropped');
  await page.fill('#login-token', TOKEN);
  await page.click('#login-form button[type=submit]');
  await page.locator('#login').waitFor({ state: 'hidden', timeout: UI_WAIT_MS });
  await waitFor(async () => (await text('#live-text'))?.startsWith('Live'), 'live again', UI_WAIT_MS);
});

test('polling stops while the tab is hidden and starts again when it is shown', { timeout: 60000 }, async () => {
  const setHidden = (hidden) => page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  await setHidden(true);
  await waitFor(async () => (await text('#live-text'))?.startsWith('Paused'), 'the paused indicator', UI_WAIT_MS);
  // a poll already under way may finish; none may start after it. What is tested is that
  // nothing happens during an interval, so this one wait is for time itself: three poll periods.
  const mark = Date.now() + 500;
  await new Promise((r) => setTimeout(r, 4500));
  assert.deepEqual(statusCalls.filter((t) => t > mark), [], 'no status call while hidden');
  const before = statusCalls.length;
  await setHidden(false);
  await waitFor(() => statusCalls.length > before, 'a status call once shown', UI_WAIT_MS);
});

test('the page raised no error and the screenshot of the settled state is written', { timeout: 30000 }, async () => {
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no policy violation');
  assert.deepEqual(dialogs, []);
  await screenshot('dashboard-settled.png');
});
