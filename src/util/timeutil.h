/* timeutil.h - wall clock, calendar dates and Salesforce date/dateTime text. All UTC. */
#ifndef CS_TIMEUTIL_H
#define CS_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch, wall clock. */
int64_t cs_time_now_ms(void);
/* Monotonic milliseconds, for deadlines. */
int64_t cs_time_mono_ms(void);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t cs_days_from_civil(int y, unsigned m, unsigned d);
void cs_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/* "2026-11-27T00:19:07.123Z" into out (>= 25 bytes). */
void cs_time_format_iso(int64_t ms, char *out, size_t n);
/* Salesforce REST form "2026-11-27T00:19:07.123+0000" into out (>= 29 bytes). */
void cs_time_format_sf(int64_t ms, char *out, size_t n);
/* "2026-11-27" into out (>= 11 bytes). */
void cs_date_format(int64_t days, char *out, size_t n);

/* Parses exactly "YYYY-MM-DD" (len bytes); false when malformed or not a real date. */
bool cs_date_parse(const char *s, size_t len, int64_t *days);
/* Parses "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm|+hhmm|-hhmm)" into epoch ms (UTC). */
bool cs_datetime_parse(const char *s, size_t len, int64_t *ms);

#endif
