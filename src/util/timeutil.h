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
/* Change-event form "2026-11-27T00:19:07Z" (seconds, UTC) into out (>= 21 bytes). */
void cs_time_format_cdc(int64_t ms, char *out, size_t n);
/* "2026-11-27" into out (>= 11 bytes). */
void cs_date_format(int64_t days, char *out, size_t n);

/* Parses exactly "YYYY-MM-DD" (len bytes); false when malformed or not a real date. */
bool cs_date_parse(const char *s, size_t len, int64_t *days);
/* Parses "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm|+hhmm|-hhmm)" into epoch ms (UTC). */
bool cs_datetime_parse(const char *s, size_t len, int64_t *ms);

/* Calendar arithmetic on days since 1970-01-01 (UTC calendar dates: no time zone ever shifts them). */

/* Today's date in UTC as days since 1970-01-01. */
int64_t cs_date_today(void);

/* *out = days + n (n may be negative). Returns false (and leaves *out unchanged) when days or
 * the result is outside 0001-01-01 .. 9999-12-31 (the dates cs_date_parse accepts). */
bool cs_date_add_days(int64_t days, int64_t n, int64_t *out);

/* The date n months after (n < 0: before) days, with the day of month clamped to the end of the
 * target month: 2024-01-31 + 1 = 2024-02-29, 2023-01-31 + 1 = 2023-02-28, 2024-02-29 + 12 =
 * 2025-02-28, 2024-03-31 - 1 = 2024-02-29. Adding 12 months is one year. Returns false (and
 * leaves *out unchanged) when days or the result is outside 0001-01-01 .. 9999-12-31. */
bool cs_date_add_months(int64_t days, int64_t n, int64_t *out);

/* Days in month m (1-12) of year y (proleptic Gregorian); 0 for a bad month. */
unsigned cs_days_in_month(int y, unsigned m);

/* The day of the week of a date: 0 Monday .. 6 Sunday (ISO 8601 order). */
unsigned cs_date_weekday(int64_t days);

#endif
