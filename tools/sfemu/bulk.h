/* bulk.h - Bulk API 2.0 internals of sfemu that unit tests reach without HTTP (bulk.c). The
 * HTTP entry points (bulk_init, bulk_handle, ...) are declared in emu.h. */
#ifndef SFEMU_BULK_H
#define SFEMU_BULK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/csv.h"
#include "emu.h"

#define BULK_MAX_JOBS 1000                    /* jobs held at once; finished ones are evicted first */
#define BULK_MAX_HELD_BYTES ((size_t)1 << 30) /* uploads and result files held over all jobs */
#define BULK_TXN_RECORDS 200                  /* records per transaction, Salesforce's trigger chunk */
#define BULK_LIST_PAGE 1000                   /* jobs per page of GET jobs/ingest and jobs/query */
#define BULK_PAGE_BYTES (32u << 20)           /* a results page without maxRecords stops here */
#define BULK_MAX_RECORDS_PARAM 100000000L     /* largest maxRecords accepted */
#define BULK_MIN_QUERY_VERSION 47             /* query jobs exist from v47.0 */
#define BULK_MAX_SELECT_ITEMS 5000            /* columns of a query job */

/* What one CSV value becomes. */
enum bulk_conv {
	BULK_SKIP,     /* empty: not sent (insert: left unset; update: left unchanged) */
	BULK_VALUE,    /* *out is a new reference to send ("#N/A" gives JSON null) */
	BULK_BAD       /* *err is a new Salesforce error array for the row */
};

/* Converts the CSV text s[0..n) (NUL-terminated) for field f, which is column col (1-based)
 * of the upload: booleans "true"/"false"/"1"/"0" (any case), integers, decimals and date or
 * dateTime text are checked and typed; other types stay strings. A bad value gives
 * INVALID_FIELD "Failed to deserialize field at col N. Due to, 'v' is not a valid value for
 * the type xsd:T". Never fails otherwise (out of memory gives BULK_BAD with *err NULL). */
enum bulk_conv bulk_convert(const struct sfield *f, size_t col, const char *s, size_t n, json_t **out, json_t **err);

/* Appends the sf__Error text for errs to b: "CODE:message:Field1,Field2 --" for the first
 * error of a Salesforce error array, or DUPLICATE_EXTERNAL_ID for emu_upsert's
 * {"multiple":[urls]} (ext_field names the external id field). CS_ETOOBIG/CS_ENOMEM from b. */
cs_err bulk_error_text(const json_t *errs, const char *ext_field, struct cs_buf *b);

/* Java's Double.toString(d), the form Salesforce gives doubles in CSV ("1500.0", "1.5E7"),
 * into out (at least 32 bytes). */
void bulk_java_double(double d, char *out, size_t cap);

/* Query result locators: the row offset as unpadded base64 of its decimal digits, the shape
 * of Salesforce's ("MTAwMDA" is 10000). encode writes at most 28 bytes with the NUL; decode
 * returns false for anything encode cannot produce. */
void bulk_locator_encode(size_t off, char *out, size_t cap);
bool bulk_locator_decode(const char *s, size_t *off);

/* Reads the select list and object of a Bulk query q[0..len): on success *items is a new
 * array of the SELECT items as written (trimmed) and object[cap] the FROM object. Refuses
 * with CS_EINVAL and a message in e what Bulk API 2.0 does not run: functions and aggregates,
 * sub-queries, TYPEOF, GROUP BY, OFFSET. The query's full syntax is soql_run's concern. */
cs_err bulk_select_items(const char *q, size_t len, json_t **items, char *object, size_t cap, struct cs_error *e);

/* The result of an ingest run, caller-owned: bulk_outcome_cleanup releases it. */
struct bulk_outcome {
	const char *state;           /* "JobComplete" or "Failed" */
	long processed, failed;
	char *error_message;         /* the job's errorMessage when Failed, else NULL */
	char *successful, *failed_csv, *unprocessed;  /* result files, NUL-terminated */
};

/* Runs an ingest job over csv[0..len) exactly as PATCH state=UploadComplete does, without
 * HTTP: object and operation as in the job request (ext_field for upsert, else NULL). Takes
 * emu's lock itself per chunk of records: call it without the lock. CS_EINVAL for an unknown
 * object or operation (nothing written); otherwise CS_OK with *out filled, row errors and
 * CSV errors being part of the outcome. */
cs_err bulk_ingest_sync(struct emu *emu, const struct emu_caller *who, const char *object, const char *operation,
    const char *ext_field, char delim, enum csv_eol eol, const char *csv, size_t len, struct bulk_outcome *out);
void bulk_outcome_cleanup(struct bulk_outcome *o);

#endif
