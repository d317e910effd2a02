/* log.h - one line per event on stderr, plain or JSON. Thread-safe. */
#ifndef CS_LOG_H
#define CS_LOG_H

enum cs_log_level { CS_LOG_DEBUG, CS_LOG_INFO, CS_LOG_WARN, CS_LOG_ERROR };

/* Sets the minimum level and the format (json != 0 for one JSON object per line).
 * Call once at start-up, before threads start. */
void cs_log_setup(enum cs_log_level min, int json);

/* Parses "debug", "info", "warn" or "error"; returns -1 when unknown. */
int cs_log_level_parse(const char *s);

/* Logs one event: `event` is a short dotted name ("http.listen"), the rest a printf message.
 * Never pass secrets. Writes the whole line with one write(2). */
void cs_log(enum cs_log_level lvl, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) cs_log(CS_LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) cs_log(CS_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) cs_log(CS_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) cs_log(CS_LOG_ERROR, ev, __VA_ARGS__)

#endif
