/* fuzz_soql_quote.c - libFuzzer target for the connector's SOQL quoting of values from outside
 * (sf_soql_str, sf_soql_like: a repository value matched against a Salesforce field, plan.c's
 * match by keys). Whatever the value, the query built around it either is refused (a value that
 * is not UTF-8 or holds a control character that has no escape) or parses as SOQL, and run
 * against the emulator it finds the record holding exactly that value: never an injection, never
 * a value that escapes its quotes or matches something else.
 *
 * The first byte picks = or LIKE (with or without its leading and trailing wildcards); the rest
 * is the value (up to a NUL). The emulator (sfemu) is reset before each input and holds two
 * Accounts: one named the value, one named the value followed by "x". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "salesforce/sf.h"
#include "soql.h"
#include "util/json.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME_MAX_BYTES 200   /* Account.Name holds 255 characters; leave room for the decoy's "x" */

static struct emu *emu;

static void
start(void)
{
	struct cs_error e = { 0 };

	cs_log_setup(CS_LOG_ERROR, 0);
	if ((emu = calloc(1, sizeof(*emu))) == NULL || emu_init(emu, NULL, &e) != CS_OK) {
		fprintf(stderr, "fuzz_soql_quote: %s\n", e.msg);
		abort();
	}
}

/* Creates an Account named name (len bytes); false when the emulator refuses it. */
static bool
account(const char *name, size_t len, char id[SFID_LEN + 1])
{
	struct emu_caller who = { "rest", 62, NULL };
	json_t *fields = json_object(), *err = NULL;
	struct emu_txn *t;
	bool ok;

	json_object_set_new(fields, "Name", json_stringn(name, len));
	if (json_object_get(fields, "Name") == NULL) {
		json_decref(fields);
		return false;
	}
	t = emu_txn_begin(emu, &who);
	if (t == NULL)
		abort();
	ok = emu_create(t, emu_object(emu, "Account"), fields, id, &err);
	if (ok)
		emu_txn_commit(t);
	else
		emu_txn_rollback(t);
	json_decref(fields);
	json_decref(err);
	return ok;
}

/* True when the value cannot be quoted: not UTF-8, or a control character (DEL included) without
 * an escape. */
static bool
unquotable(const char *v, size_t n)
{
	if (!cs_utf8_valid(v, n))
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\b' && c != '\f') || c == 0x7f)
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char value[NAME_MAX_BYTES + 2], decoy[NAME_MAX_BYTES + 2], id[SFID_LEN + 1], dec_id[SFID_LEN + 1];
	bool like, prefix, suffix, mine = false, theirs = false;
	struct sf_soql q;
	struct soql_error se;
	struct soql *parsed;
	const char *text;
	json_t *rows = NULL, *err = NULL, *r;
	size_t n, i;
	long total = 0;
	cs_err rc;

	if (size < 1)
		return 0;
	if (emu == NULL)
		start();
	like = data[0] & 1;
	prefix = data[0] & 2;
	suffix = data[0] & 4;
	n = strnlen((const char *)data + 1, size - 1);
	if (n == 0 || n > NAME_MAX_BYTES)
		return 0;
	memcpy(value, data + 1, n);
	value[n] = '\0';
	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id, Name FROM Account WHERE Name ");
	sf_soql_kw(&q, like ? "LIKE " : "= ");
	if (like)
		sf_soql_like(&q, value, prefix, suffix);
	else
		sf_soql_str(&q, value);
	text = sf_soql_text(&q, &rc);
	if (text == NULL) {
		if (!unquotable(value, n))
			abort();   /* a value that can be quoted was refused */
		sf_soql_cleanup(&q);
		return 0;
	}
	if (unquotable(value, n))
		abort();       /* a value that cannot be quoted went into a query */
	/* the query parses: the value stayed inside its literal */
	if ((parsed = soql_parse(text, strlen(text), &se)) == NULL) {
		fprintf(stderr, "fuzz_soql_quote: %s\n%s\n", text, se.message);
		abort();
	}
	soql_free(parsed);
	/* and finds the record with that name, and only it (but for the decoy a trailing wildcard
	 * lets in, or a leading one when the value ends like the decoy) */
	memcpy(decoy, value, n);
	memcpy(decoy + n, "x", 2);
	emu_lock(emu);
	emu_reset(emu);
	if (account(value, n, id) && account(decoy, n + 1, dec_id)) {
		if (!soql_run(emu, text, strlen(text), false, 62, &rows, &total, &err)) {
			char *s = cs_json_str(err);
			fprintf(stderr, "fuzz_soql_quote: %s\nrefused: %s\n", text, s ? s : "?");
			abort();
		}
		json_array_foreach(rows, i, r) {
			const char *rid = json_string_value(json_object_get(r, "Id"));
			mine |= rid != NULL && strcmp(rid, id) == 0;
			theirs |= rid != NULL && strcmp(rid, dec_id) == 0;
		}
		if (!mine || json_array_size(rows) != (size_t)mine + theirs ||
		    (theirs && !(like && (suffix || prefix))) || (like && suffix && !theirs)) {
			char *s = cs_json_str(rows);
			fprintf(stderr, "fuzz_soql_quote: %s\nfound: %s\n", text, s ? s : "?");
			abort();
		}
	}
	emu_unlock(emu);
	json_decref(rows);
	json_decref(err);
	sf_soql_cleanup(&q);
	return 0;
}
