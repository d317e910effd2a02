/* log.c - event logging to stderr. */
#include "util/log.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum cs_log_level min_level = CS_LOG_INFO;
static int json_mode;

static const char *const lvl_names[] = { "debug", "info", "warn", "error" };

void
cs_log_setup(enum cs_log_level min, int json)
{
	min_level = min;
	json_mode = json;
}

int
cs_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, lvl_names[i]) == 0)
			return i;
	return -1;
}

void
cs_log(enum cs_log_level lvl, const char *event, const char *fmt, ...)
{
	char msg[1024], ts[40], line[2048];
	va_list ap;
	int n;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cs_time_format_iso(cs_time_now_ms(), ts, sizeof(ts));

	if (json_mode) {
		struct cs_buf b;
		cs_buf_init(&b, sizeof(line));
		cs_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, lvl_names[lvl]);
		cs_json_quote(&b, event, strlen(event));
		cs_buf_append(&b, ",\"msg\":", 7);
		cs_json_quote(&b, msg, strlen(msg));
		cs_buf_append(&b, "}\n", 2);
		if (b.data != NULL && b.len > 0 && write(STDERR_FILENO, b.data, b.len) < 0) {
			/* nowhere left to report it */
		}
		cs_buf_cleanup(&b);
		return;
	}
	n = snprintf(line, sizeof(line), "%s %-5s %s %s\n", ts, lvl_names[lvl], event, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}
