// jsforce-sync.js - a two-way contract sync written plainly with jsforce: the integration an engineer builds by hand.
//
// Repository -> Salesforce: a long poll of the repository's change feed (GET /api/v1/changes?wait=);
// each page's contract and counterparty changes are upserted by external id (CLM_Id__c) into
// Contract and Account, one sObject Collections call per 200 records (jsforce's array upsert).
// Salesforce -> repository: a CDC subscription to /data/ContractChangeEvent; each update of a
// mapped field is read back from the repository and PATCHed when the value differs.
// The link is the external id: a Contract's CLM_Id__c is its repository id (and an Account's its
// counterparty's id), so nothing else is stored; the Salesforce id of a repository contract is
// remembered in memory once seen.
// Echoes are skipped the usual ways: our Salesforce writes carry `Sforce-Call-Options:
// client=jsforce-sync` and their change events are ignored; our repository writes carry
// `X-Clm-User: jsforce-sync` and their feed rows are ignored; and nothing is written when the
// other side already holds the value.
//
// Environment: SF_URL (login and instance URL), SF_USERNAME, SF_PASSWORD, SF_CLIENT_ID,
// SF_CLIENT_SECRET, CLM_URL, CLM_TOKEN_FILE. Logs to stderr; never prints a token.
'use strict';
const fs = require('fs');
const jsforce = require('jsforce');

const CLIENT = 'jsforce-sync';
const VERSION = '62.0';
const CHANNEL = '/data/ContractChangeEvent';
const CLM_URL = process.env.CLM_URL;
const CLM_TOKEN = fs.readFileSync(process.env.CLM_TOKEN_FILE, 'utf8').split(/\s/)[0];

// The fields both directions map, repository name -> Salesforce name, with the conversions.
const TO_SF = {
	title: (c) => ({ Name: c.title ? c.title.slice(0, 80) : null }),
	description: (c) => ({ Description: c.description ?? null }),
	payment_terms: (c) => ({ CLM_Payment_Terms__c: c.payment_terms ?? null }),
	total_value: (c) => ({ CLM_Value__c: c.total_value ? Number(c.total_value.amount) : null }),
};
const FROM_SF = { Description: 'description' };   // Salesforce field -> repository field

function log(...a) { console.error(new Date().toISOString(), ...a); }

async function clm(method, path, body) {
	for (let attempt = 0; ; attempt++) {
		try {
			const r = await fetch(CLM_URL + '/api/v1' + path, {
				method,
				headers: { Authorization: 'Bearer ' + CLM_TOKEN, 'X-Clm-User': CLIENT,
					...(body ? { 'Content-Type': 'application/json' } : {}) },
				body: body ? JSON.stringify(body) : undefined,
			});
			const text = await r.text();
			return { status: r.status, body: text ? JSON.parse(text) : null };
		} catch (e) {
			if (attempt >= 5) throw e;
			await new Promise((res) => setTimeout(res, 200 * (attempt + 1)));
		}
	}
}

async function main() {
	const conn = new jsforce.Connection({
		oauth2: { loginUrl: process.env.SF_URL, clientId: process.env.SF_CLIENT_ID,
			clientSecret: process.env.SF_CLIENT_SECRET },
		version: VERSION,
		callOptions: { client: CLIENT },
	});
	await conn.login(process.env.SF_USERNAME, process.env.SF_PASSWORD);
	log('logged in to Salesforce');

	const accountOf = new Map();    // counterparty id -> Account id
	const contractOf = new Map();   // contract id -> Contract id
	const clmIdOf = new Map();      // Contract id -> contract id

	// ---- Salesforce -> repository ----------------------------------------------------------
	// Events are handled one at a time, in order (a promise chain), as a listener would.
	let chain = Promise.resolve();
	const onEvent = async (msg) => {
		const p = msg.payload;
		const h = p.ChangeEventHeader;
		if ((h.changeOrigin || '').includes('client=' + CLIENT)) return;    // our own write
		if (h.changeType !== 'UPDATE') return;
		const changes = {};
		for (const f of h.changedFields || []) if (FROM_SF[f]) changes[FROM_SF[f]] = p[f] ?? null;
		for (const f of h.nulledFields || []) if (FROM_SF[f]) changes[FROM_SF[f]] = null;
		if (Object.keys(changes).length === 0) return;
		for (const sfId of h.recordIds) {
			let clmId = clmIdOf.get(sfId);
			if (!clmId) {
				const rec = await conn.sobject('Contract').retrieve(sfId, { fields: ['CLM_Id__c'] });
				clmId = rec.CLM_Id__c;
				if (!clmId) continue;                   // not a repository contract
				clmIdOf.set(sfId, clmId);
				contractOf.set(clmId, sfId);
			}
			const cur = await clm('GET', '/contracts/' + clmId);
			if (cur.status !== 200) { log('contract', clmId, 'not readable:', cur.status); continue; }
			const diff = {};
			for (const [k, v] of Object.entries(changes)) if ((cur.body[k] ?? null) !== v) diff[k] = v;
			if (Object.keys(diff).length === 0) continue;   // already there (an echo)
			const r = await clm('PATCH', '/contracts/' + clmId, diff);
			if (r.status !== 200) log('PATCH', clmId, 'failed:', r.status, JSON.stringify(r.body));
		}
	};
	const sub = conn.streaming.topic(CHANNEL).subscribe((msg) => {
		chain = chain.then(() => onEvent(msg)).catch((e) => log('event failed:', e.message));
	});
	await sub;
	log('subscribed to', CHANNEL);

	// ---- repository -> Salesforce ----------------------------------------------------------
	let after = 0;
	// start at the end of the feed: what is there already is not this run's business
	for (;;) {
		const r = await clm('GET', '/changes?after=' + after + '&limit=10000');
		if (r.status !== 200 || r.body.data.length === 0) break;
		after = r.body.next_after;
	}
	log('following the change feed from', after);
	for (;;) {
		const r = await clm('GET', '/changes?after=' + after + '&limit=1000&wait=30');
		if (r.status !== 200) { log('change feed:', r.status); await new Promise((res) => setTimeout(res, 500)); continue; }
		const rows = r.body.data.filter((x) => x.origin !== 'user:' + CLIENT);
		after = r.body.next_after ?? after;
		if (rows.length === 0) continue;
		// the newest state of each touched record, in the order first touched
		const cps = new Map(), cts = new Map();
		for (const x of rows) {
			if (x.op === 'delete') continue;
			if (x.entity === 'counterparty') cps.set(x.id, x);
			else if (x.entity === 'contract') cts.set(x.id, x);
		}
		try {
			if (cps.size) {
				const recs = [];
				for (const id of cps.keys()) {
					const c = await clm('GET', '/counterparties/' + id);
					if (c.status === 200) recs.push({ CLM_Id__c: id, Name: c.body.legal_name });
				}
				const res = await conn.sobject('Account').upsert(recs, 'CLM_Id__c', { allowRecursive: true });
				[].concat(res).forEach((x, i) => {
					if (x.success && x.id) accountOf.set(recs[i].CLM_Id__c, x.id);
					else if (!x.success) log('Account upsert failed:', JSON.stringify(x.errors));
				});
			}
			if (cts.size) {
				const recs = [];
				for (const [id, row] of cts) {
					const rec = { CLM_Id__c: id };
					let fields = Object.keys(row.fields || {});
					let c = null;
					if (row.op === 'create' || !contractOf.has(id)) {
						// a new contract (or one not seen yet): read it whole
						const g = await clm('GET', '/contracts/' + id);
						if (g.status !== 200) continue;
						c = g.body;
						fields = Object.keys(TO_SF);
						if (!c.counterparty_id) continue;           // Salesforce requires an Account
						let acc = accountOf.get(c.counterparty_id);
						if (!acc) {
							const a = await conn.sobject('Account').findOne({ CLM_Id__c: c.counterparty_id }, ['Id']);
							if (!a) continue;
							acc = a.Id;
							accountOf.set(c.counterparty_id, acc);
						}
						rec.AccountId = acc;
					} else {
						// an update: the new values are in the feed row itself
						c = {};
						for (const f of fields) c[f] = row.fields[f].new;
					}
					for (const f of fields) if (TO_SF[f]) Object.assign(rec, TO_SF[f](c));
					if (Object.keys(rec).length > 1) recs.push(rec);
				}
				if (recs.length) {
					const res = await conn.sobject('Contract').upsert(recs, 'CLM_Id__c', { allowRecursive: true });
					[].concat(res).forEach((x, i) => {
						if (x.success && x.id) { contractOf.set(recs[i].CLM_Id__c, x.id); clmIdOf.set(x.id, recs[i].CLM_Id__c); }
						else if (!x.success) log('Contract upsert failed:', JSON.stringify(x.errors));
					});
				}
			}
		} catch (e) {
			log('push failed:', e.message);
		}
	}
}

process.on('SIGTERM', () => process.exit(0));
main().catch((e) => { log('fatal:', e.message); process.exit(1); });
