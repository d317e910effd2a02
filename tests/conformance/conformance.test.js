'use strict';
// Conformance: the unmodified jsforce client (version pinned in package.json) against sfemu.
// Run through run.sh, which starts sfemu and sets SFEMU_URL, SFEMU_JWT_KEY and SFEMU_JWT_PUB.
// One test per capability; every test makes its own records with names unique to this run.
// A few tests use sfemu's /__emu/ control paths (not Salesforce) to make a session, a CometD
// client or the event store expire; each says so, and the event-store one runs last.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const jsforce = require('jsforce');
const { StreamingExtension } = require('jsforce/api/streaming');

const BASE = (process.env.SFEMU_URL || '').replace(/\/$/, '');
const USERNAME = process.env.SFEMU_USERNAME || 'integration@clmsync.test';
const PASSWORD = process.env.SFEMU_PASSWORD || 'clmsync-test-password';
const CLIENT_ID = process.env.SFEMU_CLIENT_ID || 'clmsync-test-client';
const CLIENT_SECRET = process.env.SFEMU_CLIENT_SECRET || 'clmsync-test-secret';
const JWT_KEY = process.env.SFEMU_JWT_KEY;
const VERSION = '62.0';
const DATA = `/services/data/v${VERSION}`;
const CDC_CHANNEL = '/data/ContractChangeEvent';
const CALL_CLIENT = 'clmsync-test';
const EVENT_WAIT_MS = 10000;
const RUN = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;

if (!BASE) throw new Error('SFEMU_URL is not set (run tests/conformance/run.sh)');

/* ---------- helpers ---------- */

let seq = 0;
/** A name unique to this run and call. */
function uniq(tag) {
	seq += 1;
	return `${tag}-${RUN}-${seq}`;
}

function newConn(extra = {}) {
	return new jsforce.Connection({
		oauth2: { loginUrl: BASE, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
		version: VERSION,
		...extra,
	});
}

async function passwordLogin(extra = {}) {
	const conn = newConn(extra);
	await conn.login(USERNAME, PASSWORD);
	return conn;
}

function b64url(buf) {
	return Buffer.from(buf).toString('base64url');
}

/** An RS256-signed JWT bearer assertion. */
function jwtAssertion({ key = fs.readFileSync(JWT_KEY), iss = CLIENT_ID, sub = USERNAME, aud = BASE,
	exp = Math.floor(Date.now() / 1000) + 180 } = {}) {
	const header = b64url(JSON.stringify({ alg: 'RS256' }));
	const claims = b64url(JSON.stringify({ iss, sub, aud, exp }));
	const sig = crypto.sign('RSA-SHA256', Buffer.from(`${header}.${claims}`), key);
	return `${header}.${claims}.${b64url(sig)}`;
}

async function jwtLogin(claims = {}) {
	const conn = new jsforce.Connection({ oauth2: { loginUrl: BASE, clientId: CLIENT_ID }, version: VERSION });
	const userInfo = await conn.authorize({
		grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
		assertion: jwtAssertion(claims),
	});
	return { conn, userInfo };
}

/** Awaits promise and asserts it fails with errorCode (jsforce sets err.errorCode and err.name). */
async function rejectsWith(promise, errorCode, what) {
	let err = null;
	try {
		await promise;
	} catch (e) {
		err = e;
	}
	assert.ok(err, `${what}: expected error ${errorCode}, but the call succeeded`);
	const got = err.errorCode ?? err.name;
	assert.equal(got, errorCode, `${what}: expected ${errorCode}, got ${got}: ${err.message}`);
	return err;
}

function withDeadline(promise, ms, what) {
	let timer;
	return Promise.race([
		Promise.resolve(promise).finally(() => clearTimeout(timer)),
		new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
		}),
	]);
}

/** Raw HTTP against sfemu (for status codes and headers jsforce hides). */
async function raw(method, path, { token, body, headers = {} } = {}) {
	const h = { ...headers };
	if (token) h.Authorization = `Bearer ${token}`;
	if (body !== undefined) h['Content-Type'] = 'application/json';
	const res = await fetch(BASE + path, {
		method,
		headers: h,
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	let json;
	try {
		json = text ? JSON.parse(text) : undefined;
	} catch (e) {
		json = undefined;
	}
	return { status: res.status, headers: res.headers, text, json };
}

/** Collects streaming messages; until() waits for a condition with a deadline. */
function collector(name) {
	const events = [];
	const waiters = new Set();
	const summary = () => JSON.stringify(events.map((e) => ({
		replayId: e?.event?.replayId,
		changeType: e?.payload?.ChangeEventHeader?.changeType,
		recordIds: e?.payload?.ChangeEventHeader?.recordIds,
	})));
	return {
		events,
		push(msg) {
			events.push(msg);
			for (const w of [...waiters]) w();
		},
		until(pred, what, ms = EVENT_WAIT_MS) {
			return new Promise((resolve, reject) => {
				let timer = null;
				const done = () => {
					clearTimeout(timer);
					waiters.delete(check);
				};
				function check() {
					let r;
					try {
						r = pred(events);
					} catch (e) {
						done();
						reject(e);
						return;
					}
					if (r) {
						done();
						resolve(r);
					}
				}
				timer = setTimeout(() => {
					done();
					reject(new Error(`${name}: no ${what} within ${ms} ms; received ${events.length}: ${summary()}`));
				}, ms);
				waiters.add(check);
				check();
			});
		},
	};
}

const header = (ev) => ev?.payload?.ChangeEventHeader || {};
const eventFor = (id, changeType) => (evs) =>
	evs.find((e) => header(e)?.changeType === changeType && (header(e)?.recordIds || []).includes(id));

async function subscribe(client, channel, sink) {
	const sub = client.subscribe(channel, (data) => sink.push(data));
	await withDeadline(sub, EVENT_WAIT_MS, `subscribe to ${channel}`);
	return sub;
}

async function disconnect(client) {
	if (!client) return;
	const p = client.disconnect();
	if (p) await withDeadline(p, 5000, 'streaming disconnect').catch(() => {});
}

function csvRows(stream) {
	return new Promise((resolve, reject) => {
		const rows = [];
		stream.on('record', (r) => rows.push(r));
		stream.on('error', reject);
		stream.on('end', () => resolve(rows));
	});
}

let conn; // password-flow connection shared by the data tests
let accountForContracts;
const openClients = [];

let setupDone = null;
/** Logs the shared connection in and makes the parent Account for Contracts, once. */
function setup() {
	setupDone ??= (async () => {
		conn = await passwordLogin();
		conn.bulk2.pollInterval = 200;
		conn.bulk2.pollTimeout = 20000;
		const r = await conn.sobject('Account').create({ Name: uniq('ContractParent') });
		accountForContracts = r.id;
	})();
	return setupDone;
}

after(async () => {
	for (const c of openClients) await disconnect(c);
});

async function newContract(c = conn, extra = {}) {
	const r = await c.sobject('Contract').create({
		AccountId: accountForContracts,
		Status: 'Draft',
		StartDate: '2025-01-01',
		ContractTerm: 12,
		...extra,
	});
	assert.equal(r.success, true, JSON.stringify(r));
	return r.id;
}

/* ---------- versions and authentication ---------- */

test('GET /services/data/ lists API versions without authentication', async () => {
	const r = await raw('GET', '/services/data/');
	assert.equal(r.status, 200);
	assert.match(r.headers.get('content-type') || '', /^application\/json(;|$)/);
	assert.ok(Array.isArray(r.json), `body is not an array: ${r.text.slice(0, 200)}`);
	const v = r.json.find((x) => x.version === VERSION);
	assert.ok(v, `version ${VERSION} not listed`);
	assert.equal(v.url, DATA);
	assert.equal(typeof v.label, 'string');
	assert.equal(r.headers.get('sforce-limit-info'), null, 'the versions resource is not counted');
});

test('OAuth username-password flow: login and identity', async () => {
	const c = newConn();
	const userInfo = await c.login(USERNAME, PASSWORD);
	assert.match(userInfo.id, /^005[0-9A-Za-z]{15}$/);
	assert.match(userInfo.organizationId, /^00D[0-9A-Za-z]{15}$/);
	assert.ok(userInfo.url.endsWith(`/${userInfo.organizationId}/${userInfo.id}`), userInfo.url);
	assert.deepEqual(c.userInfo, userInfo);
	assert.equal(c.instanceUrl.replace(/\/$/, ''), BASE);
	assert.ok(c.accessToken && c.accessToken.length >= 16, 'access token');
	const res = await c.query('SELECT Id FROM Account LIMIT 1');
	assert.equal(typeof res.totalSize, 'number');
});

test('OAuth username-password flow: wrong password is invalid_grant', async () => {
	const c = newConn();
	const err = await rejectsWith(c.login(USERNAME, 'not-the-password'), 'invalid_grant', 'bad password');
	assert.match(err.message, /authentication failure/);
	// Salesforce answers invalid_client ("invalid client credentials") for a bad secret
	const bad = newConn({ oauth2: { loginUrl: BASE, clientId: CLIENT_ID, clientSecret: 'wrong' } });
	const e2 = await bad.login(USERNAME, PASSWORD).then(() => null, (e) => e);
	assert.ok(e2, 'a wrong client secret must fail');
	assert.ok(['invalid_client', 'invalid_grant'].includes(e2.name), `${e2.name}: ${e2.message}`);
});

test('JWT bearer flow with RS256 assertion', async () => {
	const pw = await passwordLogin();
	const { conn: c, userInfo } = await jwtLogin();
	assert.equal(userInfo.id, pw.userInfo.id, 'JWT sub maps to the same user');
	assert.equal(userInfo.organizationId, pw.userInfo.organizationId);
	assert.equal(c.instanceUrl.replace(/\/$/, ''), BASE);
	assert.equal(c.refreshToken, undefined, 'JWT bearer returns no refresh token');
	const res = await c.query('SELECT Id FROM Account LIMIT 1');
	assert.equal(typeof res.totalSize, 'number');
	// audience login.salesforce.com is also accepted
	const alt = await jwtLogin({ aud: 'https://login.salesforce.com' });
	assert.equal(alt.userInfo.id, pw.userInfo.id);
});

test('JWT bearer flow rejects bad assertions', async () => {
	const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
	const cases = [
		['signed with another key', { key: privateKey }],
		['expired', { exp: Math.floor(Date.now() / 1000) - 3600 }],
		['wrong audience', { aud: 'https://example.com' }],
		['unknown subject', { sub: 'nobody@clmsync.test' }],
	];
	for (const [what, claims] of cases) {
		await rejectsWith(jwtLogin(claims), 'invalid_grant', `JWT ${what}`);
	}
});

test('access token works directly; a bogus token is 401 INVALID_SESSION_ID', async () => {
	await setup();
	const direct = new jsforce.Connection({ instanceUrl: BASE, accessToken: conn.accessToken, version: VERSION });
	const res = await direct.query('SELECT Id FROM Account LIMIT 1');
	assert.equal(typeof res.totalSize, 'number');
	const bogus = new jsforce.Connection({ instanceUrl: BASE, accessToken: 'bogus-token', version: VERSION });
	await rejectsWith(bogus.query('SELECT Id FROM Account LIMIT 1'), 'INVALID_SESSION_ID', 'bogus token');
	const r = await raw('GET', `${DATA}/limits`, { token: 'bogus-token' });
	assert.equal(r.status, 401);
	assert.ok(Array.isArray(r.json), `401 body must be a JSON array: ${r.text}`);
	assert.equal(r.json[0].errorCode, 'INVALID_SESSION_ID');
	assert.equal(r.json[0].message, 'Session expired or invalid');
});

test('OAuth revoke invalidates the access token', async () => {
	const c = await passwordLogin();
	const old = c.accessToken;
	await c.oauth2.revokeToken(old);
	const r = await raw('GET', `${DATA}/limits`, { token: old });
	assert.equal(r.status, 401, 'a revoked token must be refused');
	assert.equal(r.json?.[0]?.errorCode, 'INVALID_SESSION_ID');
});

test('expired session: 401 INVALID_SESSION_ID makes jsforce log in again and retry', async () => {
	// /__emu/expire-sessions ends every session; connections that logged in with a password
	// (the shared one included) log in again on their next call.
	const c = await passwordLogin();
	const old = c.accessToken;
	const x = await raw('POST', '/__emu/expire-sessions');
	assert.equal(x.status, 200);
	const r = await raw('GET', `${DATA}/limits`, { token: old });
	assert.equal(r.status, 401, 'an expired token must be refused');
	assert.equal(r.json?.[0]?.errorCode, 'INVALID_SESSION_ID');
	const res = await c.query('SELECT Id FROM Account LIMIT 1');
	assert.equal(typeof res.totalSize, 'number');
	assert.notEqual(c.accessToken, old, 'jsforce refreshed the session');
});

/* ---------- sObject rows ---------- */

test('Account CRUD: create, retrieve with fields, update, delete, NOT_FOUND', async () => {
	await setup();
	const name = uniq('Acct');
	const created = await conn.sobject('Account').create({ Name: name });
	assert.equal(created.success, true);
	assert.deepEqual(created.errors, []);
	assert.match(created.id, /^001[0-9A-Za-z]{15}$/);
	const id = created.id;

	const full = await conn.sobject('Account').retrieve(id);
	assert.equal(full.Id, id);
	assert.equal(full.Name, name);
	assert.equal(full.attributes.type, 'Account');
	assert.equal(full.attributes.url, `${DATA}/sobjects/Account/${id}`);
	assert.match(full.CreatedDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);

	const some = await conn.sobject('Account').retrieve(id, { fields: ['Name'] });
	assert.equal(some.Name, name);
	assert.ok(!('CreatedDate' in some), `fields=Name returned extra fields: ${Object.keys(some)}`);

	const upd = await conn.sobject('Account').update({ Id: id, Name: `${name}-renamed` });
	assert.equal(upd.success, true);
	assert.equal((await conn.sobject('Account').retrieve(id)).Name, `${name}-renamed`);

	const del = await conn.sobject('Account').destroy(id);
	assert.equal(del.success, true);
	await rejectsWith(conn.sobject('Account').retrieve(id), 'NOT_FOUND', 'retrieve deleted Account');
	const again = await conn.sobject('Account').destroy(id).then(() => null, (e) => e);
	assert.ok(again, 'deleting a deleted record must fail');
	assert.ok(['ENTITY_IS_DELETED', 'NOT_FOUND'].includes(again.errorCode), again.errorCode);
});

test('REST status codes and bodies on the wire', async () => {
	await setup();
	const t = conn.accessToken;
	const name = uniq('Wire');
	const c = await raw('POST', `${DATA}/sobjects/Account/`, { token: t, body: { Name: name } });
	assert.equal(c.status, 201, c.text);
	assert.match(c.headers.get('content-type') || '', /^application\/json(;|$)/);
	assert.match(c.headers.get('sforce-limit-info') || '', /api-usage=\d+\/\d+/);
	assert.deepEqual(Object.keys(c.json).sort(), ['errors', 'id', 'success']);
	const p = await raw('PATCH', `${DATA}/sobjects/Account/${c.json.id}`, { token: t, body: { Name: `${name}x` } });
	assert.equal(p.status, 204, p.text);
	assert.equal(p.text, '');
	const g = await raw('GET', `${DATA}/sobjects/Account/${c.json.id}?fields=Name`, { token: t });
	assert.equal(g.status, 200);
	assert.equal(g.json.Name, `${name}x`);
	// 15-character id in the URL
	const g15 = await raw('GET', `${DATA}/sobjects/Account/${c.json.id.slice(0, 15)}?fields=Id,Name`, { token: t });
	assert.equal(g15.status, 200, g15.text);
	assert.equal(g15.json.Id, c.json.id, '18-character id in responses');
	assert.equal(g15.json.attributes.url, `${DATA}/sobjects/Account/${c.json.id}`);
	const d = await raw('DELETE', `${DATA}/sobjects/Account/${c.json.id}`, { token: t });
	assert.equal(d.status, 204, d.text);
	const nf = await raw('GET', `${DATA}/sobjects/Account/${c.json.id}`, { token: t });
	assert.equal(nf.status, 404);
	assert.ok(Array.isArray(nf.json), `error body must be an array: ${nf.text}`);
	assert.equal(nf.json[0].errorCode, 'NOT_FOUND');
	const bad = await raw('POST', `${DATA}/sobjects/Account/`, { token: t, body: { Name: name, NoSuchField__c: 1 } });
	assert.equal(bad.status, 400, bad.text);
	assert.equal(bad.json?.[0]?.errorCode, 'INVALID_FIELD');
});

test('Contract CRUD with required AccountId and restricted Status picklist', async () => {
	await setup();
	const id = await newContract();
	assert.match(id, /^800[0-9A-Za-z]{15}$/);
	let rec = await conn.sobject('Contract').retrieve(id, { fields: ['AccountId', 'Status', 'StartDate', 'ContractTerm'] });
	assert.equal(rec.AccountId, accountForContracts);
	assert.equal(rec.Status, 'Draft');
	assert.equal(rec.StartDate, '2025-01-01');
	assert.equal(rec.ContractTerm, 12);

	await conn.sobject('Contract').update({ Id: id, Status: 'In Approval Process', ContractTerm: 24 });
	rec = await conn.sobject('Contract').retrieve(id);
	assert.equal(rec.Status, 'In Approval Process');
	assert.equal(rec.ContractTerm, 24);

	const bad = await rejectsWith(conn.sobject('Contract').update({ Id: id, Status: 'Signed Somewhere' }),
		'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', 'bad Status value');
	assert.deepEqual(bad.data.fields, ['Status']);
	assert.equal((await conn.sobject('Contract').retrieve(id)).Status, 'In Approval Process', 'failed update changed nothing');

	const missing = await rejectsWith(conn.sobject('Contract').create({ Status: 'Draft', StartDate: '2025-01-01', ContractTerm: 1 }),
		'REQUIRED_FIELD_MISSING', 'Contract without AccountId');
	assert.ok(missing.data.fields.includes('AccountId'), JSON.stringify(missing.data));

	await conn.sobject('Contract').destroy(id);
	await rejectsWith(conn.sobject('Contract').retrieve(id), 'NOT_FOUND', 'retrieve deleted Contract');
});

test('upsert by external id CLM_Id__c (Account and Contract)', async () => {
	await setup();
	const ext = uniq('clm-acct');
	const first = await conn.sobject('Account').upsert({ CLM_Id__c: ext, Name: `${ext}-a` }, 'CLM_Id__c');
	assert.equal(first.success, true);
	assert.equal(first.created, true);
	assert.match(first.id, /^001/);
	const second = await conn.sobject('Account').upsert({ CLM_Id__c: ext, Name: `${ext}-b` }, 'CLM_Id__c');
	assert.equal(second.success, true);
	assert.equal(second.created, false);
	assert.equal(second.id, first.id);
	const rec = await conn.sobject('Account').retrieve(first.id);
	assert.equal(rec.Name, `${ext}-b`);
	assert.equal(rec.CLM_Id__c, ext);

	const cext = uniq('clm-ctr');
	const body = { CLM_Id__c: cext, AccountId: accountForContracts, Status: 'Draft', StartDate: '2025-02-01', ContractTerm: 6 };
	const c1 = await conn.sobject('Contract').upsert(body, 'CLM_Id__c');
	assert.equal(c1.created, true);
	assert.match(c1.id, /^800/);
	const c2 = await conn.sobject('Contract').upsert({ ...body, ContractTerm: 9 }, 'CLM_Id__c');
	assert.equal(c2.created, false);
	assert.equal(c2.id, c1.id);
	assert.equal((await conn.sobject('Contract').retrieve(c1.id)).ContractTerm, 9);

	// the external id is unique
	await rejectsWith(conn.sobject('Account').create({ Name: `${ext}-dup`, CLM_Id__c: ext }), 'DUPLICATE_VALUE',
		'second Account with the same CLM_Id__c');
	// an unknown external-id field
	await rejectsWith(conn.sobject('Account').upsert({ NoSuchExt__c: 'x', Name: 'x' }, 'NoSuchExt__c'), 'NOT_FOUND',
		'upsert on unknown external id field');
});

/* ---------- SOQL ---------- */

test('query and queryMore over 450 Accounts with batchSize=200', async () => {
	await setup();
	const tag = uniq('QM');
	const records = Array.from({ length: 450 }, (_, i) => ({ Name: `${tag}-${String(i).padStart(3, '0')}` }));
	const created = await conn.sobject('Account').create(records, { allowRecursive: true });
	assert.equal(created.length, 450);
	assert.ok(created.every((r) => r.success), 'all created');
	const ids = new Set(created.map((r) => r.id));
	const soql = `SELECT Id, Name FROM Account WHERE Name LIKE '${tag}-%' ORDER BY Name`;
	const headers = { 'Sforce-Query-Options': 'batchSize=200' };

	// by hand: query, then queryMore twice
	const p1 = await conn.query(soql, { headers });
	assert.equal(p1.totalSize, 450);
	assert.equal(p1.done, false);
	assert.equal(p1.records.length, 200);
	// jsforce keeps only the locator (last path segment) and rebuilds <baseUrl>/query/<locator>
	assert.equal(p1.nextRecordsUrl, `${BASE}${DATA}/query/${p1.nextRecordsUrl.split('/').pop()}`);
	const wire = await raw('GET', `${DATA}/query?q=${encodeURIComponent(soql)}`, { token: conn.accessToken, headers });
	assert.match(wire.json.nextRecordsUrl, new RegExp(`^${DATA.replace(/\./g, '\\.')}/query/[^/?]+$`));
	assert.equal(wire.json.records.length, 200);
	assert.equal(p1.records[0].attributes.type, 'Account');
	const p2 = await conn.queryMore(p1.nextRecordsUrl, { headers });
	assert.equal(p2.records.length, 200);
	assert.equal(p2.done, false);
	assert.equal(p2.totalSize, 450, 'totalSize is the whole query on every page');
	const p3 = await conn.queryMore(p2.nextRecordsUrl, { headers });
	assert.equal(p3.records.length, 50);
	assert.equal(p3.done, true);
	assert.equal(p3.nextRecordsUrl, undefined);
	const all = [...p1.records, ...p2.records, ...p3.records];
	assert.deepEqual(all.map((r) => r.Name), records.map((r) => r.Name), 'ORDER BY Name across pages');
	assert.deepEqual(new Set(all.map((r) => r.Id)), ids);

	// autoFetch follows nextRecordsUrl itself
	let fetches = 0;
	const q = conn.query(soql, { headers, autoFetch: true, maxFetch: 1000 });
	q.on('fetch', () => { fetches += 1; });
	const res = await q;
	assert.equal(res.records.length, 450);
	assert.equal(res.totalSize, 450);
	assert.equal(fetches, 3, 'three pages of at most 200');
	assert.deepEqual(new Set(res.records.map((r) => r.Id)), ids);
});

test('SOQL COUNT()', async () => {
	await setup();
	const tag = uniq('Cnt');
	await conn.sobject('Account').create([1, 2, 3].map((i) => ({ Name: `${tag}-${i}` })));
	const count = await conn.query(`SELECT COUNT() FROM Account WHERE Name LIKE '${tag}-%'`);
	assert.equal(count.totalSize, 3);
	assert.deepEqual(count.records, []);
});

test('SOQL parent relationship field', async () => {
	await setup();
	const acctName = uniq('RelParent');
	const acct = await conn.sobject('Account').create({ Name: acctName });
	const ctr = await conn.sobject('Contract').create({ AccountId: acct.id, Status: 'Draft', StartDate: '2025-03-01', ContractTerm: 3 });
	const res = await conn.query(`SELECT Id, Status, Account.Name FROM Contract WHERE Id = '${ctr.id}'`);
	assert.equal(res.totalSize, 1);
	assert.equal(res.records[0].Account.Name, acctName);
	assert.equal(res.records[0].Account.attributes.type, 'Account');
});

test('queryAll returns deleted rows with IsDeleted', async () => {
	await setup();
	const tag = uniq('QA');
	const two = await conn.sobject('Account').create([{ Name: `${tag}-keep` }, { Name: `${tag}-gone` }]);
	await conn.sobject('Account').destroy(two[1].id);
	const live = await conn.query(`SELECT Id FROM Account WHERE Name LIKE '${tag}-%'`);
	assert.equal(live.totalSize, 1);
	const withDeleted = await conn.query(`SELECT Id, IsDeleted FROM Account WHERE Name LIKE '${tag}-%' ORDER BY Name`, { scanAll: true });
	assert.equal(withDeleted.totalSize, 2);
	const gone = withDeleted.records.find((r) => r.Id === two[1].id);
	assert.ok(gone, 'queryAll returns the deleted row');
	assert.equal(gone.IsDeleted, true);
});

test('SOQL errors: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE', async () => {
	await setup();
	await rejectsWith(conn.query('SELECT Id FROM Account WHERE'), 'MALFORMED_QUERY', 'incomplete WHERE');
	const f = await rejectsWith(conn.query('SELECT Id, NoSuchField__c FROM Account'), 'INVALID_FIELD', 'unknown field');
	assert.match(f.message, /No such column 'NoSuchField__c' on entity 'Account'/);
	const t = await rejectsWith(conn.query('SELECT Id FROM NoSuchObject__c'), 'INVALID_TYPE', 'unknown object');
	assert.match(t.message, /sObject type 'NoSuchObject__c' is not supported/);
	const r = await raw('GET', `${DATA}/query?q=${encodeURIComponent('SELECT Id FROM Account WHERE')}`, { token: conn.accessToken });
	assert.equal(r.status, 400);
	assert.ok(Array.isArray(r.json), r.text);
});

/* ---------- composite resources ---------- */

test('sObject Collections: create, retrieve, update, delete 200 records', async () => {
	await setup();
	const tag = uniq('Coll');
	const recs = Array.from({ length: 200 }, (_, i) => ({ Name: `${tag}-${i}` }));
	const created = await conn.sobject('Account').create(recs);
	assert.equal(created.length, 200);
	assert.ok(created.every((r) => r.success && /^001/.test(r.id)), 'all created');
	const ids = created.map((r) => r.id);

	const got = await conn.sobject('Account').retrieve(ids, { fields: ['Id', 'Name'] });
	assert.equal(got.length, 200);
	assert.deepEqual(got.map((r) => r.Name), recs.map((r) => r.Name), 'retrieve keeps request order');
	assert.deepEqual(got.map((r) => r.Id), ids);

	const upd = await conn.sobject('Account').update(ids.map((Id, i) => ({ Id, Name: `${tag}-u${i}` })));
	assert.equal(upd.length, 200);
	assert.ok(upd.every((r, i) => r.success && r.id === ids[i]), JSON.stringify(upd.find((r) => !r.success)));
	const again = await conn.sobject('Account').retrieve(ids.slice(0, 3), { fields: ['Name'] });
	assert.deepEqual(again.map((r) => r.Name), [`${tag}-u0`, `${tag}-u1`, `${tag}-u2`]);

	const del = await conn.sobject('Account').destroy(ids);
	assert.equal(del.length, 200);
	assert.ok(del.every((r, i) => r.success && r.id === ids[i]));
	const gone = await conn.sobject('Account').retrieve(ids.slice(0, 2), { fields: ['Name'] });
	assert.deepEqual(gone, [null, null], 'deleted ids retrieve as null');
});

test('sObject Collections: upsert by external id reports created', async () => {
	await setup();
	const ext1 = uniq('coll-ext');
	const ext2 = uniq('coll-ext');
	const up1 = await conn.sobject('Account').upsert([{ CLM_Id__c: ext1, Name: ext1 }], 'CLM_Id__c');
	assert.equal(up1[0].created, true);
	const up2 = await conn.sobject('Account').upsert([{ CLM_Id__c: ext1, Name: `${ext1}b` }, { CLM_Id__c: ext2, Name: ext2 }], 'CLM_Id__c');
	assert.deepEqual(up2.map((r) => [r.success, r.created]), [[true, false], [true, true]]);
	assert.equal(up2[0].id, up1[0].id);
	assert.equal((await conn.sobject('Account').retrieve(up1[0].id)).Name, `${ext1}b`);
});

test('sObject Collections: allOrNone true rolls back, false keeps the good rows', async () => {
	await setup();
	const good = uniq('AON');
	const res = await conn.sobject('Account').create([{ Name: good }, { CLM_Id__c: uniq('noname') }], { allOrNone: true });
	assert.equal(res.length, 2);
	assert.equal(res[0].success, false);
	assert.equal(res[0].errors[0].statusCode, 'ALL_OR_NONE_OPERATION_ROLLED_BACK');
	assert.equal(res[1].success, false);
	assert.equal(res[1].errors[0].statusCode, 'REQUIRED_FIELD_MISSING');
	assert.deepEqual(res[1].errors[0].fields, ['Name']);
	assert.equal((await conn.query(`SELECT Id FROM Account WHERE Name = '${good}'`)).totalSize, 0, 'rolled back');

	const good2 = uniq('AON');
	const res2 = await conn.sobject('Account').create([{ Name: good2 }, { CLM_Id__c: uniq('noname') }], { allOrNone: false });
	assert.equal(res2[0].success, true);
	assert.match(res2[0].id, /^001/);
	assert.equal(res2[1].success, false);
	assert.equal(res2[1].errors[0].statusCode, 'REQUIRED_FIELD_MISSING');
	assert.equal((await conn.query(`SELECT Id FROM Account WHERE Name = '${good2}'`)).totalSize, 1);

	const bad = await conn.sobject('Account').destroy(['001000000000000AAA', res2[0].id], { allOrNone: true });
	assert.equal(bad[1].success, false);
	assert.equal(bad[1].errors[0].statusCode, 'ALL_OR_NONE_OPERATION_ROLLED_BACK');
	assert.ok((await conn.sobject('Account').retrieve(res2[0].id)).Id, 'not deleted');
});

test('composite: references between subrequests, allOrNone rollback', async () => {
	await setup();
	const name = uniq('Comp');
	const out = await conn.requestPost(`${DATA}/composite`, {
		allOrNone: true,
		compositeRequest: [
			{ method: 'POST', url: `${DATA}/sobjects/Account`, referenceId: 'acct', body: { Name: name } },
			{ method: 'POST', url: `${DATA}/sobjects/Contract`, referenceId: 'ctr',
				body: { AccountId: '@{acct.id}', Status: 'Draft', StartDate: '2025-04-01', ContractTerm: 12 } },
			{ method: 'GET', url: `${DATA}/sobjects/Contract/@{ctr.id}?fields=AccountId,Status`, referenceId: 'read' },
			{ method: 'GET', url: `${DATA}/query?q=${encodeURIComponent(`SELECT Id FROM Account WHERE Name = '${name}'`)}`, referenceId: 'q' },
		],
	});
	const r = out.compositeResponse;
	assert.equal(r.length, 4);
	assert.deepEqual(r.map((x) => x.referenceId), ['acct', 'ctr', 'read', 'q']);
	assert.deepEqual(r.map((x) => x.httpStatusCode), [201, 201, 200, 200]);
	const acctId = r[0].body.id;
	assert.match(acctId, /^001/);
	assert.equal(r[0].httpHeaders.Location, `${DATA}/sobjects/Account/${acctId}`);
	assert.match(r[1].body.id, /^800/);
	assert.equal(r[2].body.AccountId, acctId);
	assert.equal(r[2].body.Status, 'Draft');
	assert.equal(r[3].body.records[0].Id, acctId);

	const name2 = uniq('CompFail');
	const fail = await conn.requestPost(`${DATA}/composite`, {
		allOrNone: true,
		compositeRequest: [
			{ method: 'POST', url: `${DATA}/sobjects/Account`, referenceId: 'acct', body: { Name: name2 } },
			{ method: 'POST', url: `${DATA}/sobjects/Contract`, referenceId: 'ctr',
				body: { AccountId: '@{acct.id}', Status: 'Not A Status', StartDate: '2025-04-01', ContractTerm: 12 } },
		],
	});
	const f = fail.compositeResponse;
	assert.equal(f.length, 2);
	assert.equal(f[1].httpStatusCode, 400);
	assert.equal(f[1].body[0].errorCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
	assert.equal(f[0].httpStatusCode, 400, 'the successful subrequest is rolled back');
	assert.equal(f[0].body[0].errorCode, 'PROCESSING_HALTED');
	assert.equal((await conn.query(`SELECT Id FROM Account WHERE Name = '${name2}'`)).totalSize, 0, 'rolled back');
});

/* ---------- Bulk API 2.0 ---------- */

test('Bulk 2.0 ingest insert with a failing row, then bulk query', async () => {
	await setup();
	const tag = uniq('Bulk');
	const rows = [1, 2, 3, 4, 5].map((i) => ({ Name: `${tag}-${i}`, CLM_Id__c: `${tag}-ext-${i}` }));
	const csv = ['Name,CLM_Id__c', ...rows.map((r) => `${r.Name},${r.CLM_Id__c}`), `,${tag}-ext-noname`].join('\n') + '\n';
	const res = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: csv });
	assert.equal(res.successfulResults.length, 5, JSON.stringify(res));
	for (const r of res.successfulResults) {
		assert.match(r.sf__Id, /^001[0-9A-Za-z]{15}$/);
		assert.equal(String(r.sf__Created), 'true');
	}
	assert.deepEqual(res.successfulResults.map((r) => r.Name).sort(), rows.map((r) => r.Name).sort());
	assert.equal(res.failedResults.length, 1, JSON.stringify(res.failedResults));
	assert.match(res.failedResults[0].sf__Error, /REQUIRED_FIELD_MISSING/);
	assert.equal(res.failedResults[0].CLM_Id__c, `${tag}-ext-noname`);
	assert.deepEqual(res.unprocessedRecords, []);

	const stream = await conn.bulk2.query(`SELECT Id, Name FROM Account WHERE Name LIKE '${tag}-%'`);
	const got = await withDeadline(csvRows(stream), 20000, 'bulk query results');
	assert.equal(got.length, 5);
	assert.deepEqual(got.map((r) => r.Name).sort(), rows.map((r) => r.Name).sort());
	assert.deepEqual(new Set(got.map((r) => r.Id)), new Set(res.successfulResults.map((r) => r.sf__Id)));
});

test('Bulk 2.0 ingest upsert by external id', async () => {
	await setup();
	const tag = uniq('BulkUp');
	const existing = await conn.sobject('Account').create({ Name: `${tag}-old`, CLM_Id__c: `${tag}-1` });
	const csv = `CLM_Id__c,Name\n${tag}-1,${tag}-new\n${tag}-2,${tag}-two\n`;
	const res = await conn.bulk2.loadAndWaitForResults({
		object: 'Account', operation: 'upsert', externalIdFieldName: 'CLM_Id__c', input: csv,
	});
	assert.equal(res.failedResults.length, 0, JSON.stringify(res.failedResults));
	const byExt = Object.fromEntries(res.successfulResults.map((r) => [r.CLM_Id__c, r]));
	assert.equal(byExt[`${tag}-1`].sf__Id, existing.id);
	assert.equal(String(byExt[`${tag}-1`].sf__Created), 'false');
	assert.equal(String(byExt[`${tag}-2`].sf__Created), 'true');
	assert.equal((await conn.sobject('Account').retrieve(existing.id)).Name, `${tag}-new`);
});

/* ---------- metadata and limits ---------- */

test('describeGlobal lists Account and Contract', async () => {
	await setup();
	const g = await conn.describeGlobal();
	assert.equal(g.encoding, 'UTF-8');
	assert.equal(g.maxBatchSize, 200);
	const byName = Object.fromEntries(g.sobjects.map((s) => [s.name, s]));
	assert.equal(byName.Account?.keyPrefix, '001');
	assert.equal(byName.Contract?.keyPrefix, '800');
	assert.equal(byName.Contract.urls.sobject, `${DATA}/sobjects/Contract`);
	assert.equal(byName.Contract.urls.describe, `${DATA}/sobjects/Contract/describe`);
	assert.equal(byName.Contract.queryable, true);
	assert.equal(byName.Contract.custom, false);
});

test('describe Contract: Status picklist, AccountId reference, CLM_Id__c external id', async () => {
	await setup();
	const d = await conn.sobject('Contract').describe();
	assert.equal(d.name, 'Contract');
	assert.equal(d.keyPrefix, '800');
	const f = Object.fromEntries(d.fields.map((x) => [x.name, x]));

	assert.equal(f.Id.type, 'id');
	assert.equal(f.Id.length, 18);
	assert.equal(f.Id.createable, false);

	assert.equal(f.Status.type, 'picklist');
	assert.equal(f.Status.restrictedPicklist, true);
	const values = f.Status.picklistValues.map((p) => p.value);
	for (const v of ['Draft', 'In Approval Process', 'Activated']) assert.ok(values.includes(v), `Status value ${v}: ${values}`);
	for (const p of f.Status.picklistValues) {
		assert.equal(typeof p.label, 'string');
		assert.equal(p.active, true);
	}

	assert.equal(f.AccountId.type, 'reference');
	assert.deepEqual(f.AccountId.referenceTo, ['Account']);
	assert.equal(f.AccountId.relationshipName, 'Account');

	assert.equal(f.StartDate.type, 'date');
	assert.equal(f.ContractTerm.type, 'int');

	assert.equal(f.CLM_Id__c.type, 'string');
	assert.equal(f.CLM_Id__c.length, 64);
	assert.equal(f.CLM_Id__c.externalId, true);
	assert.equal(f.CLM_Id__c.unique, true);
	assert.equal(f.CLM_Id__c.custom, true);

	const a = await conn.sobject('Account').describe();
	const af = Object.fromEntries(a.fields.map((x) => [x.name, x]));
	assert.equal(af.Name.type, 'string');
	assert.equal(af.Name.nillable, false);
	assert.equal(af.CLM_Id__c.externalId, true);
});

test('limits: DailyApiRequests and Sforce-Limit-Info agree', async () => {
	await setup();
	const lim = await conn.limits();
	const d = lim.DailyApiRequests;
	assert.ok(d, `no DailyApiRequests in ${Object.keys(lim)}`);
	assert.ok(Number.isInteger(d.Max) && d.Max > 0, `Max ${d.Max}`);
	assert.ok(Number.isInteger(d.Remaining) && d.Remaining >= 0 && d.Remaining < d.Max, `Remaining ${d.Remaining}`);
	assert.ok(conn.limitInfo?.apiUsage, 'Sforce-Limit-Info header parsed by jsforce');
	assert.equal(conn.limitInfo.apiUsage.limit, d.Max);
	assert.ok(Math.abs(d.Max - d.Remaining - conn.limitInfo.apiUsage.used) <= 1,
		`used ${conn.limitInfo.apiUsage.used} vs Max-Remaining ${d.Max - d.Remaining}`);
});

/* ---------- Change Data Capture over CometD ---------- */

test('streaming: topic subscription receives a Contract CREATE event', async () => {
	await setup();
	const sc = new jsforce.Connection({ instanceUrl: BASE, accessToken: conn.accessToken, version: VERSION });
	const sink = collector('topic');
	const sub = sc.streaming.topic(CDC_CHANNEL).subscribe((m) => sink.push(m));
	openClients.push(sc.streaming._fayeClients.pushTopic);
	await withDeadline(sub, EVENT_WAIT_MS, 'topic subscribe');
	const id = await newContract();
	const ev = await sink.until(eventFor(id, 'CREATE'), `CREATE for ${id}`);
	assert.equal(header(ev).entityName, 'Contract');
	assert.equal(typeof ev.event.replayId, 'number');
});

test('streaming: CDC events carry ChangeEventHeader and changeOrigin; replay resumes exactly', async () => {
	await setup();
	const clientConn = await passwordLogin({ callOptions: { client: CALL_CLIENT } });

	const sink1 = collector('client1');
	const replay1 = new StreamingExtension.Replay(CDC_CHANNEL, -1);
	const client1 = conn.streaming.createClient([replay1]);
	openClients.push(client1);
	await subscribe(client1, CDC_CHANNEL, sink1);

	// (a) written without a client name
	const t0 = Date.now();
	const id = await newContract(conn);
	const create = await sink1.until(eventFor(id, 'CREATE'), `CREATE for ${id}`);
	const h1 = header(create);
	assert.equal(h1.entityName, 'Contract');
	assert.deepEqual(h1.recordIds, [id]);
	assert.equal(h1.changeOrigin, `com/salesforce/api/rest/${VERSION}`);
	assert.ok(!h1.changeOrigin.includes('client='), h1.changeOrigin);
	assert.equal(h1.commitUser, conn.userInfo.id);
	assert.equal(typeof h1.commitTimestamp, 'number');
	assert.ok(h1.commitTimestamp >= t0 - 5000 && h1.commitTimestamp <= Date.now() + 5000, `commitTimestamp ${h1.commitTimestamp}`);
	assert.equal(typeof h1.transactionKey, 'string');
	assert.ok(h1.transactionKey.length > 0);
	assert.ok(Number.isInteger(h1.sequenceNumber) && h1.sequenceNumber >= 1, `sequenceNumber ${h1.sequenceNumber}`);
	assert.equal(typeof h1.commitNumber, 'number');
	assert.deepEqual(h1.changedFields, []);
	assert.equal(create.payload.Status, 'Draft');
	assert.equal(create.payload.AccountId, accountForContracts);
	assert.equal(create.payload.ContractTerm, 12);
	assert.equal(typeof create.schema, 'string');
	assert.equal(typeof create.event.replayId, 'number');

	// (b) written with Sforce-Call-Options: client=clmsync-test
	await clientConn.sobject('Contract').update({ Id: id, ContractTerm: 24 });
	const update = await sink1.until(eventFor(id, 'UPDATE'), `UPDATE for ${id}`);
	const h2 = header(update);
	assert.equal(h2.changeOrigin, `com/salesforce/api/rest/${VERSION};client=${CALL_CLIENT}`);
	assert.deepEqual(h2.recordIds, [id]);
	assert.ok(h2.changedFields.includes('ContractTerm'), `changedFields ${h2.changedFields}`);
	assert.ok(h2.changedFields.includes('LastModifiedDate'), `changedFields ${h2.changedFields}`);
	assert.ok(!h2.changedFields.includes('Status'), `changedFields ${h2.changedFields}`);
	assert.equal(update.payload.ContractTerm, 24);
	assert.ok(!('Status' in update.payload), 'unchanged fields are omitted from UPDATE events');
	assert.notEqual(h2.transactionKey, h1.transactionKey);
	assert.ok(update.event.replayId > create.event.replayId, 'replay ids increase');

	const seen = sink1.events.map((e) => e.event.replayId);
	const last = seen[seen.length - 1];
	assert.equal(replay1._replay, last, 'jsforce Replay extension tracked data.event.replayId');

	// disconnect, write while away, resume from the last replay id seen
	await disconnect(client1);
	await conn.sobject('Contract').update({ Id: id, ContractTerm: 36 });
	const id2 = await newContract(conn);
	await conn.sobject('Contract').destroy(id2);

	const sink2 = collector('client2');
	const client2 = conn.streaming.createClient([new StreamingExtension.Replay(CDC_CHANNEL, last)]);
	openClients.push(client2);
	await subscribe(client2, CDC_CHANNEL, sink2);
	await sink2.until((evs) => evs.length >= 3, 'the 3 missed events');
	// a marker write: once its event is in, everything before it has been delivered
	await conn.sobject('Contract').update({ Id: id, ContractTerm: 48 });
	await sink2.until((evs) => evs.some((e) => header(e).changeType === 'UPDATE' && e.payload.ContractTerm === 48), 'marker UPDATE');

	const got = sink2.events.map((e) => [header(e).changeType, (header(e).recordIds || []).join(','), e.payload?.ContractTerm]);
	assert.deepEqual(got, [
		['UPDATE', id, 36],
		['CREATE', id2, 12],
		['DELETE', id2, undefined],
		['UPDATE', id, 48],
	], 'exactly the missed events, in commit order, then the marker');
	const ids2 = sink2.events.map((e) => e.event.replayId);
	assert.ok(ids2.every((r) => r > last), `replayed ids ${ids2} must all be after ${last}`);
	assert.ok(ids2.every((r, i) => i === 0 || r > ids2[i - 1]), `replay ids ascending: ${ids2}`);
	assert.ok(ids2.every((r) => !seen.includes(r)), 'no event delivered twice');
	const del = sink2.events[2];
	assert.deepEqual(Object.keys(del.payload), ['ChangeEventHeader'], 'DELETE events carry no record fields');
	await disconnect(client2);
});

test('streaming: replay -2 delivers retained events', async () => {
	await setup();
	const id = await newContract();
	const sink = collector('replay-2');
	const client = conn.streaming.createClient([new StreamingExtension.Replay(CDC_CHANNEL, -2)]);
	openClients.push(client);
	await subscribe(client, CDC_CHANNEL, sink);
	const ev = await sink.until(eventFor(id, 'CREATE'), `retained CREATE for ${id}`);
	assert.equal(header(ev).entityName, 'Contract');
	const ids = sink.events.map((e) => e.event.replayId);
	assert.ok(ids.every((r, i) => i === 0 || r > ids[i - 1]), `replay ids ascending: ${ids}`);
	await disconnect(client);
});

test('streaming: gap events reach the subscriber', async () => {
	await setup();
	const id = await newContract();
	const sink = collector('gap');
	const client = conn.streaming.createClient([new StreamingExtension.Replay(CDC_CHANNEL, -1)]);
	openClients.push(client);
	await subscribe(client, CDC_CHANNEL, sink);
	const g = await raw('POST', '/__emu/gap', { body: { entity: 'Contract', changeType: 'GAP_UPDATE', recordId: id } });
	assert.equal(g.status, 200, g.text);
	const ev = await sink.until(eventFor(id, 'GAP_UPDATE'), `GAP_UPDATE for ${id}`);
	assert.equal(header(ev).entityName, 'Contract');
	assert.deepEqual(Object.keys(ev.payload), ['ChangeEventHeader'], 'gap events carry no record fields');
	await disconnect(client);
});

test('streaming: a forgotten client (403::Unknown client) re-handshakes and resubscribes', async () => {
	await setup();
	const sink = collector('rehandshake');
	const metas = []; // Bayeux /meta/* replies as faye receives them
	const recorder = { incoming(msg, cb) { if (String(msg.channel).startsWith('/meta/')) metas.push(msg); cb(msg); } };
	const client = conn.streaming.createClient([recorder, new StreamingExtension.Replay(CDC_CHANNEL, -1)]);
	openClients.push(client);
	await subscribe(client, CDC_CHANNEL, sink);
	const id1 = await newContract();
	await sink.until(eventFor(id1, 'CREATE'), `CREATE for ${id1}`);
	const x = await raw('POST', '/__emu/expire-clients');
	assert.equal(x.status, 200);
	const id2 = await newContract();
	await sink.until(eventFor(id2, 'CREATE'), `CREATE for ${id2} after the server forgot the client`);
	assert.ok(metas.some((m) => m.channel === '/meta/connect' && m.successful === false && m.error === '403::Unknown client'
		&& m.advice?.reconnect === 'handshake'), `no 403::Unknown client with advice handshake: ${JSON.stringify(metas)}`);
	const handshakes = metas.filter((m) => m.channel === '/meta/handshake' && m.successful);
	assert.equal(handshakes.length, 2, 'faye handshook again');
	assert.notEqual(handshakes[0].clientId, handshakes[1].clientId, 'a new clientId');
	assert.equal(metas.filter((m) => m.channel === '/meta/subscribe' && m.successful).length, 2, 'and subscribed again');
	const ids = sink.events.map((e) => e.event.replayId);
	assert.equal(new Set(ids).size, ids.length, `no duplicates: ${ids}`);
	await disconnect(client);
});

// Last: it drops every retained event.
test('streaming: subscribing with a replay id past retention fails with 400::The replayId', async () => {
	await setup();
	const sink = collector('stale');
	const client1 = conn.streaming.createClient([new StreamingExtension.Replay(CDC_CHANNEL, -1)]);
	openClients.push(client1);
	await subscribe(client1, CDC_CHANNEL, sink);
	const id = await newContract();
	const ev = await sink.until(eventFor(id, 'CREATE'), `CREATE for ${id}`);
	await disconnect(client1);
	await newContract(); // something after the stored id, so that it is not the tip
	const x = await raw('POST', '/__emu/expire-events');
	assert.equal(x.status, 200);
	const client2 = conn.streaming.createClient([new StreamingExtension.Replay(CDC_CHANNEL, ev.event.replayId)]);
	openClients.push(client2);
	const err = await withDeadline(client2.subscribe(CDC_CHANNEL, () => {}), EVENT_WAIT_MS, 'subscribe answer')
		.then(() => null, (e) => e);
	assert.ok(err, 'subscribe with an expired replay id must fail');
	assert.match(String(err.message), new RegExp(`The replayId \\{${ev.event.replayId}\\} you provided was invalid`));
	await disconnect(client2);
});
