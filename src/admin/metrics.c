/* metrics.c - the status document in the Prometheus text exposition format (version 0.0.4). */
#include "admin/admin.h"
#include "util/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A label value with \, " and newline escaped, as the format wants. */
static void
label(struct cs_buf *b, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			cs_buf_puts(b, "\\\\");
		else if (*p == '"')
			cs_buf_puts(b, "\\\"");
		else if (*p == '\n')
			cs_buf_puts(b, "\\n");
		else
			cs_buf_putc(b, *p);
	}
}

static void
family(struct cs_buf *b, const char *name, const char *type, const char *help)
{
	cs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{org="...",k2="v2",...} value; labels come in pairs, NULL-terminated. */
static void
sample(struct cs_buf *b, const char *name, double v, ...)
{
	va_list ap;
	const char *k;
	bool first = true;

	cs_buf_puts(b, name);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);
		cs_buf_puts(b, first ? "{" : ",");
		cs_buf_puts(b, k);
		cs_buf_puts(b, "=\"");
		label(b, val);
		cs_buf_putc(b, '"');
		first = false;
	}
	va_end(ap);
	if (!first)
		cs_buf_putc(b, '}');
	cs_buf_printf(b, " %.17g\n", v);
}

static double
num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

/* One counter per org from the org's "counters" object. */
static void
org_counter(struct cs_buf *b, const json_t *orgs, const char *name, const char *key, const char *help)
{
	size_t i;
	json_t *o;

	family(b, name, "counter", help);
	json_array_foreach(orgs, i, o)
		if (json_object_get(o, "counters"))
			sample(b, name, num(json_object_get(o, "counters"), key), "org", str(o, "org"), NULL);
}

void
admin_metrics_text(const json_t *st, struct cs_buf *b)
{
	const json_t *orgs = json_object_get(st, "orgs"), *le = json_object_get(st, "latency_le_ms");
	static const struct { const char *key, *metric, *label, *value; } per_map[] = {
		{ "from_salesforce", "clmsync_records_received_total", "from", "salesforce" },
		{ "from_clm", "clmsync_records_received_total", "from", "clm" },
		{ "to_salesforce", "clmsync_records_applied_total", "to", "salesforce" },
		{ "to_clm", "clmsync_records_applied_total", "to", "clm" },
		{ "echoes", "clmsync_records_outcome_total", "outcome", "echo" },
		{ "conflicts", "clmsync_records_outcome_total", "outcome", "conflict" },
		{ "dlq", "clmsync_records_outcome_total", "outcome", "dlq" },
	};
	static const char *const dirs[] = { "to_salesforce", "to_clm" };
	const char *last_family = "";
	size_t i, k;
	json_t *o, *m;

	family(b, "clmsync_build_info", "gauge", "The running version.");
	sample(b, "clmsync_build_info", 1, "version", CLMSYNC_VERSION, NULL);
	family(b, "clmsync_uptime_seconds", "gauge", "Seconds since the admin listener started.");
	sample(b, "clmsync_uptime_seconds", num(st, "uptime_s"), NULL);
	/* the store's counts: absent (not 0) when it could not give them */
	family(b, "clmsync_dlq_entries", "gauge", "Entries in the dead-letter queue.");
	if (json_object_get(st, "dlq"))
		sample(b, "clmsync_dlq_entries", num(st, "dlq"), NULL);
	family(b, "clmsync_conflicts_open", "gauge", "Manual conflicts waiting for a decision.");
	if (json_object_get(st, "conflicts"))
		sample(b, "clmsync_conflicts_open", num(st, "conflicts"), NULL);

	family(b, "clmsync_stream_connected", "gauge", "1 while the org's change stream is connected.");
	json_array_foreach(orgs, i, o)
		sample(b, "clmsync_stream_connected", json_is_true(json_object_get(json_object_get(o, "stream"), "connected")),
		    "org", str(o, "org"), NULL);
	family(b, "clmsync_org_authenticated", "gauge", "1 while the org holds a session Salesforce accepts (the last "
	    "login succeeded and nothing refused it since).");
	json_array_foreach(orgs, i, o)
		if (json_object_get(o, "auth"))
			sample(b, "clmsync_org_authenticated", json_is_true(json_object_get(json_object_get(o, "auth"),
			    "authenticated")), "org", str(o, "org"), NULL);
	family(b, "clmsync_stream_reconnects_total", "counter", "Change stream reconnects after a failure.");
	json_array_foreach(orgs, i, o)
		if (json_object_get(o, "stream"))
			sample(b, "clmsync_stream_reconnects_total", num(json_object_get(o, "stream"), "reconnects"),
			    "org", str(o, "org"), NULL);
	family(b, "clmsync_last_event_age_seconds", "gauge", "Seconds since the last change event arrived (-1: none yet).");
	json_array_foreach(orgs, i, o) {
		double age = num(o, "last_event_age_ms");
		sample(b, "clmsync_last_event_age_seconds", age < 0 ? -1 : age / 1000, "org", str(o, "org"), NULL);
	}
	family(b, "clmsync_replay_retention_left_seconds", "gauge",
	    "Seconds until the stored replay position falls out of Salesforce's retention window.");
	json_array_foreach(orgs, i, o) {
		const char *ch;
		json_t *p;
		json_object_foreach(json_object_get(json_object_get(o, "stream"), "positions"), ch, p)
			if (num(p, "retention_left_s") >= 0)
				sample(b, "clmsync_replay_retention_left_seconds", num(p, "retention_left_s"), "org", str(o, "org"),
				    "channel", ch, NULL);
	}
	family(b, "clmsync_queue_depth", "gauge", "Changes waiting: the inbox (from Salesforce), the outbox (to "
	    "Salesforce) and the repository's change feed not planned yet.");
	json_array_foreach(orgs, i, o) {
		sample(b, "clmsync_queue_depth", num(o, "inbox"), "org", str(o, "org"), "queue", "inbox", NULL);
		sample(b, "clmsync_queue_depth", num(o, "outbox"), "org", str(o, "org"), "queue", "outbox", NULL);
		sample(b, "clmsync_queue_depth", num(o, "feed_backlog"), "org", str(o, "org"), "queue", "feed", NULL);
	}
	family(b, "clmsync_oldest_pending_seconds", "gauge", "Age of the oldest change not synced yet (the sync lag).");
	json_array_foreach(orgs, i, o)
		sample(b, "clmsync_oldest_pending_seconds", num(o, "lag_ms") / 1000, "org", str(o, "org"), NULL);

	org_counter(b, orgs, "clmsync_events_received_total", "events", "Change events received from Salesforce.");
	org_counter(b, orgs, "clmsync_api_calls_total", "sf_calls", "Salesforce API calls made by the engine.");
	org_counter(b, orgs, "clmsync_retries_total", "retries", "Writes and plans retried after a transient failure.");
	org_counter(b, orgs, "clmsync_reconcile_runs_total", "reconciles", "Reconciles run.");
	org_counter(b, orgs, "clmsync_reconcile_drift_total", "drift", "Records a reconcile found different on the two sides.");
	org_counter(b, orgs, "clmsync_reconcile_repaired_total", "repaired",
	    "Records a repairing reconcile found different and healed through the same rules as live changes.");
	org_counter(b, orgs, "clmsync_stream_gaps_total", "gaps",
	    "Gap and overflow events, invalid replay ids and resumptions without a position.");

	family(b, "clmsync_api_daily_used", "gauge", "Salesforce API requests used today, as Salesforce reports it.");
	json_array_foreach(orgs, i, o)
		if (json_object_get(o, "api") && num(json_object_get(o, "api"), "used") >= 0)
			sample(b, "clmsync_api_daily_used", num(json_object_get(o, "api"), "used"), "org", str(o, "org"), NULL);
	family(b, "clmsync_api_daily_remaining", "gauge", "Salesforce API requests left today.");
	json_array_foreach(orgs, i, o) {
		const json_t *api = json_object_get(o, "api");
		if (api && num(api, "used") >= 0 && num(api, "max") > 0)
			sample(b, "clmsync_api_daily_remaining", num(api, "max") - num(api, "used"), "org", str(o, "org"), NULL);
	}
	family(b, "clmsync_reconcile_last_drift", "gauge", "Records that differed in the last reconcile.");
	json_array_foreach(orgs, i, o)
		if (json_object_get(o, "reconcile"))
			sample(b, "clmsync_reconcile_last_drift", num(json_object_get(o, "reconcile"), "last_drift"), "org",
			    str(o, "org"), NULL);

	for (k = 0; k < sizeof(per_map) / sizeof(per_map[0]); k++) {
		if (strcmp(last_family, per_map[k].metric) != 0) {
			family(b, per_map[k].metric, "counter", strcmp(per_map[k].metric, "clmsync_records_received_total") == 0 ?
			    "Records changed on one side, planned for the other." :
			    strcmp(per_map[k].metric, "clmsync_records_applied_total") == 0 ? "Records written to one side." :
			    "Records dropped as our own echo, parked as a conflict, or refused into the dead-letter queue.");
			last_family = per_map[k].metric;
		}
		json_array_foreach(orgs, i, o) {
			size_t j;
			json_array_foreach(json_object_get(o, "mappings"), j, m)
				if (json_object_get(m, "counters"))
					sample(b, per_map[k].metric, num(json_object_get(m, "counters"), per_map[k].key), "org",
					    str(o, "org"), "mapping", str(m, "name"), per_map[k].label, per_map[k].value, NULL);
		}
	}
	family(b, "clmsync_mapping_paused", "gauge", "1 while the mapping is paused.");
	json_array_foreach(orgs, i, o) {
		size_t j;
		json_array_foreach(json_object_get(o, "mappings"), j, m)
			sample(b, "clmsync_mapping_paused", json_is_true(json_object_get(m, "paused")), "org", str(o, "org"),
			    "mapping", str(m, "name"), NULL);
	}
	family(b, "clmsync_mapping_dlq_entries", "gauge", "Dead-letter entries per mapping.");
	json_array_foreach(orgs, i, o) {
		size_t j;
		json_array_foreach(json_object_get(o, "mappings"), j, m)
			if (json_object_get(m, "dlq"))
				sample(b, "clmsync_mapping_dlq_entries", num(m, "dlq"), "org", str(o, "org"), "mapping",
				    str(m, "name"), NULL);
	}

	family(b, "clmsync_sync_latency_seconds", "histogram",
	    "From the change's commit on one side to its write on the other.");
	json_array_foreach(orgs, i, o) {
		for (k = 0; k < 2; k++) {
			const json_t *h = json_object_get(json_object_get(o, "latency_ms"), dirs[k]);
			const json_t *bk = json_object_get(h, "buckets");
			double cum = 0;
			size_t j;
			char leb[32];
			if (h == NULL)
				continue;
			for (j = 0; j < json_array_size(bk); j++) {
				cum += json_number_value(json_array_get(bk, j));
				if (j < json_array_size(le))
					snprintf(leb, sizeof(leb), "%g", json_number_value(json_array_get(le, j)) / 1000);
				else
					snprintf(leb, sizeof(leb), "+Inf");
				sample(b, "clmsync_sync_latency_seconds_bucket", cum, "org", str(o, "org"), "direction", dirs[k],
				    "le", leb, NULL);
			}
			sample(b, "clmsync_sync_latency_seconds_sum", num(h, "sum_ms") / 1000, "org", str(o, "org"),
			    "direction", dirs[k], NULL);
			sample(b, "clmsync_sync_latency_seconds_count", num(h, "count"), "org", str(o, "org"), "direction",
			    dirs[k], NULL);
		}
	}
}
