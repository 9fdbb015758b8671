/* tq_pglog_prefix — one log message as PostgreSQL wrote it after its log_line_prefix:
 * "PREFIX SEVERITY:  body". Whatever the prefix holds is picked out of it: the time (%m, %t,
 * %n), the pid ("[%p]"), the user and database ("user=%u,db=%d", "%u@%d"). Also the log
 * entry every format (tq_pglog_format) hands on. Pure functions. */
#ifndef TQ_PGLOG_PREFIX_H
#define TQ_PGLOG_PREFIX_H

#include <stddef.h>
#include <stdint.h>

enum tq_pglog_sev { TQ_PGLOG_SEV_OTHER = 0, TQ_PGLOG_SEV_LOG, TQ_PGLOG_SEV_DETAIL };

/* One log message. body is borrowed from the text it was parsed from. */
struct tq_pglog_entry {
    int64_t time_ms; /* TQ_TIME_UNSET when the prefix has none */
    long pid;        /* -1 unknown */
    char user[64], db[64];
    enum tq_pglog_sev sev;
    const char *body;
};

/* An entry with nothing known: no time, pid -1, no user or database. */
void tq_pglog_entry_init(struct tq_pglog_entry *e);

/* Finds "SEVERITY:  " (LOG, DETAIL, ERROR, ...) in the first 1 KB of a message line: its
 * position, with *sev and *body (the text after it) set; NULL when there is none. */
const char *tq_pglog_prefix_severity(const char *line, enum tq_pglog_sev *sev, const char **body);

/* "2024-05-01 10:00:00.123 UTC" (zone optional; unknown zone names read as UTC) or epoch
 * seconds "1714557600.123" at the start of s (at most maxlen bytes): 0 and *out, or -1. */
int tq_pglog_prefix_time(const char *s, size_t maxlen, int64_t *out);

/* Parses a message that starts with a log_line_prefix into e (which the caller initialized;
 * what the prefix lacks stays as it was). 0, or -1 without a severity. */
int tq_pglog_prefix_parse(const char *text, struct tq_pglog_entry *e);

#endif
