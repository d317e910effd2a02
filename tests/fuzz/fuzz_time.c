/* fuzz_time.c - libFuzzer target for the date and date-time text read from outside (request
 * bodies, query filters, Salesforce answers and events, CSV cells): what parses formats back to
 * text that parses to the same instant, and the calendar arithmetic stays within its range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAYS_MIN (-719162)   /* 0001-01-01 */
#define DAYS_MAX 2932896     /* 9999-12-31 */
#define MS_MIN ((int64_t)DAYS_MIN * 86400000)
#define MS_MAX ((int64_t)(DAYS_MAX + 1) * 86400000 - 1)

static void
date(const char *s, size_t len, int64_t n)
{
	int64_t days, other;
	char txt[16];
	int y;
	unsigned m, d;

	if (!cs_date_parse(s, len, &days))
		return;
	if (len != 10 || days < DAYS_MIN || days > DAYS_MAX)
		abort();
	cs_date_format(days, txt, sizeof(txt));
	if (memcmp(txt, s, 10) != 0)           /* one text per date: no other spelling parses */
		abort();
	cs_civil_from_days(days, &y, &m, &d);
	if (cs_days_from_civil(y, m, d) != days || d < 1 || d > cs_days_in_month(y, m) || cs_date_weekday(days) > 6)
		abort();
	if (cs_date_add_days(days, n, &other)) {
		if (other != days + n || other < DAYS_MIN || other > DAYS_MAX)
			abort();
	}
	if (cs_date_add_months(days, n % 240000, &other)) {
		int y2;
		unsigned m2, d2;
		cs_civil_from_days(other, &y2, &m2, &d2);
		if (other < DAYS_MIN || other > DAYS_MAX || d2 > d ||
		    (int64_t)y2 * 12 + m2 != (int64_t)y * 12 + m + n % 240000)
			abort();
	}
}

static void
datetime(const char *s, size_t len)
{
	int64_t ms, again;
	char iso[32], sf[40], cdc[32];

	if (!cs_datetime_parse(s, len, &ms))
		return;
	/* an offset may carry an instant just outside the years 1..9999, which no format writes */
	if (ms < MS_MIN || ms > MS_MAX)
		return;
	cs_time_format_iso(ms, iso, sizeof(iso));
	cs_time_format_sf(ms, sf, sizeof(sf));
	cs_time_format_cdc(ms, cdc, sizeof(cdc));
	if (!cs_datetime_parse(iso, strlen(iso), &again) || again != ms)
		abort();
	if (!cs_datetime_parse(sf, strlen(sf), &again) || again != ms)
		abort();
	if (!cs_datetime_parse(cdc, strlen(cdc), &again) || again != ms - (ms % 1000 + 1000) % 1000)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t n = 0;
	char *s;

	if (size < 1)
		return 0;
	/* the first byte is a day or month count for the arithmetic; the rest is the text */
	n = (int8_t)data[0] * 1117;
	if ((s = malloc(size - 1 ? size - 1 : 1)) == NULL)   /* exact size: a read past len is caught */
		return 0;
	memcpy(s, data + 1, size - 1);
	date(s, size - 1, n);
	datetime(s, size - 1);
	free(s);
	return 0;
}
