/* tq_log — one line per event, key=value, with levels.
 *
 *   ts=2026-11-21T05:30:00.123Z level=info prog=tileq-worker event=job_done tileset=demo z=3
 *
 * The event name is a bare word; the caller's fields follow as a printf-formatted
 * "k=v k=v" string. Values that may contain spaces must be quoted by the caller
 * with tq_log_quote(). Lines go to stderr, written with one write() so lines from
 * several processes sharing a terminal do not interleave mid-line. */
#ifndef TQ_LOG_H
#define TQ_LOG_H

#include <stddef.h>

enum tq_log_level { TQ_LOG_DEBUG = 0, TQ_LOG_INFO, TQ_LOG_WARN, TQ_LOG_ERROR };

/* Sets the program name shown as prog= and the minimum level printed. */
void tq_log_init(const char *prog, enum tq_log_level min_level);

/* Parses "debug|info|warn|error"; returns 0 and sets *out, or -1 when unknown. */
int tq_log_level_parse(const char *name, enum tq_log_level *out);

void tq_log(enum tq_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s into buf as a log value: unchanged when it has no space, quote, '=' or control
 * character, otherwise in double quotes with \" \\ \n escaped. Truncates to fit; always
 * NUL-terminates (bufsize > 0). Returns buf. */
const char *tq_log_quote(const char *s, char *buf, size_t bufsize);

/* Formats one log line without printing it (used by tq_log and by tests). Returns the
 * length written (excluding NUL), truncated to bufsize-1. */
size_t tq_log_format(char *buf, size_t bufsize, enum tq_log_level level, const char *event,
                     const char *fields);

#define tq_log_debug(ev, ...) tq_log(TQ_LOG_DEBUG, ev, __VA_ARGS__)
#define tq_log_info(ev, ...) tq_log(TQ_LOG_INFO, ev, __VA_ARGS__)
#define tq_log_warn(ev, ...) tq_log(TQ_LOG_WARN, ev, __VA_ARGS__)
#define tq_log_error(ev, ...) tq_log(TQ_LOG_ERROR, ev, __VA_ARGS__)

#endif
