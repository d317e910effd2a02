/* timeutil.c - calendar arithmetic (Howard Hinnant's civil algorithms) and ISO text. */
#include "util/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t
cs_time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cs_time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cs_days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void
cs_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t yy = (int64_t)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static void
split(int64_t ms, int *y, unsigned *mo, unsigned *d, int *h, int *mi, int *s, int *frac)
{
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = ms - days * 86400000;

	cs_civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600000);
	*mi = (int)(rem / 60000 % 60);
	*s = (int)(rem / 1000 % 60);
	*frac = (int)(rem % 1000);
}

void
cs_time_format_iso(int64_t ms, char *out, size_t n)
{
	int y, h, mi, s, f;
	unsigned mo, d;

	split(ms, &y, &mo, &d, &h, &mi, &s, &f);
	snprintf(out, n, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, f);
}

void
cs_time_format_sf(int64_t ms, char *out, size_t n)
{
	int y, h, mi, s, f;
	unsigned mo, d;

	split(ms, &y, &mo, &d, &h, &mi, &s, &f);
	snprintf(out, n, "%04d-%02u-%02uT%02d:%02d:%02d.%03d+0000", y, mo, d, h, mi, s, f);
}

void
cs_time_format_cdc(int64_t ms, char *out, size_t n)
{
	int y, h, mi, s, f;
	unsigned mo, d;

	split(ms, &y, &mo, &d, &h, &mi, &s, &f);
	snprintf(out, n, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
}

void
cs_date_format(int64_t days, char *out, size_t n)
{
	int y;
	unsigned m, d;

	cs_civil_from_days(days, &y, &m, &d);
	snprintf(out, n, "%04d-%02u-%02u", y, m, d);
}

static bool
digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
valid_date(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && leap(y));
}

bool
cs_date_parse(const char *s, size_t len, int64_t *days)
{
	int y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return false;
	if (!valid_date(y, m, d))
		return false;
	*days = cs_days_from_civil(y, (unsigned)m, (unsigned)d);
	return true;
}

bool
cs_datetime_parse(const char *s, size_t len, int64_t *ms)
{
	int64_t days;
	int h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
	size_t i = 19;

	if (len < 20 || !cs_date_parse(s, 10, &days) || (s[10] != 'T' && s[10] != ' '))
		return false;
	if (s[13] != ':' || s[16] != ':' || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
	    !digits(s + 17, 2, &sec) || h > 23 || mi > 59 || sec > 60)
		return false;
	if (i < len && s[i] == '.') {
		size_t st = ++i;
		int scale = 100;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			frac += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
		if (i == st || i - st > 9)
			return false;
	}
	if (i >= len)
		return false;
	if (s[i] == 'Z' && i + 1 == len) {
		sign = 0;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		i++;
		if (len - i == 5 && s[i + 2] == ':') {
			if (!digits(s + i, 2, &oh) || !digits(s + i + 3, 2, &om))
				return false;
		} else if (len - i == 4) {
			if (!digits(s + i, 2, &oh) || !digits(s + i + 2, 2, &om))
				return false;
		} else
			return false;
		if (oh > 23 || om > 59)
			return false;
	} else
		return false;
	*ms = days * 86400000 + (int64_t)h * 3600000 + (int64_t)mi * 60000 + (int64_t)sec * 1000 + frac
	      - (int64_t)sign * ((int64_t)oh * 3600000 + (int64_t)om * 60000);
	return true;
}

/* The dates cs_date_parse and cs_date_format handle: 0001-01-01 .. 9999-12-31. */
#define DAYS_MIN (-719162)   /* 0001-01-01 */
#define DAYS_MAX 2932896     /* 9999-12-31 */

int64_t
cs_date_today(void)
{
	int64_t ms = cs_time_now_ms();

	/* Floor division: a clock before 1970 still lands on the right day. */
	return ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
}

bool
cs_date_add_days(int64_t days, int64_t n, int64_t *out)
{
	if (days < DAYS_MIN || days > DAYS_MAX || n < DAYS_MIN - DAYS_MAX || n > DAYS_MAX - DAYS_MIN)
		return false;
	if (days + n < DAYS_MIN || days + n > DAYS_MAX)
		return false;
	*out = days + n;
	return true;
}

unsigned
cs_days_in_month(int y, unsigned m)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return mdays[m - 1] + (m == 2 && leap(y));
}

bool
cs_date_add_months(int64_t days, int64_t n, int64_t *out)
{
	int y;
	unsigned m, d, last;
	int64_t idx;

	if (days < DAYS_MIN || days > DAYS_MAX || n < -120000 || n > 120000)
		return false;
	cs_civil_from_days(days, &y, &m, &d);
	/* Count months from year 0 so a negative n carries into the year with floor division. */
	idx = (int64_t)y * 12 + (m - 1) + n;
	if (idx < 12 || idx >= 10000 * 12)
		return false;
	y = (int)(idx / 12);
	m = (unsigned)(idx % 12) + 1;
	last = cs_days_in_month(y, m);
	if (d > last)
		d = last;
	*out = cs_days_from_civil(y, m, d);
	return true;
}

unsigned
cs_date_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (3 in Monday-based numbering). */
	int64_t w = (days + 3) % 7;

	return (unsigned)(w < 0 ? w + 7 : w);
}
