/* tq_pglog_prefix — one log message as PostgreSQL wrote it after its log_line_prefix:
 * "PREFIX SEVERITY:  body". Without the server's log_line_prefix, whatever the prefix holds
 * is guessed: the time (%m, %t, %n), the pid ("[%p]"), the user and database
 * ("user=%u,db=%d", "%u@%d"). With it (tq_pglog_prefix_compile, as pgbadger's --prefix),
 * every escape PostgreSQL has is read where the prefix puts it: %t %m %n %s (times), %p %P
 * %l %x %v %c %e %Q %i %b, %u %d %a %h %r, %q (what follows is absent in non-session
 * processes), %% and padding (%-10u). Also the log entry every format (tq_pglog_format)
 * hands on. Pure functions. */
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
    char app[64], client[64]; /* %a, %h / %r (with --prefix) */
    char host[64];            /* syslog: the host in the line's header */
    enum tq_pglog_sev sev;
    const char *body;
    int late; /* its first line lies past the end of the chunk being read (tq_pglog_format) */
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

/* A log_line_prefix, compiled. */
struct tq_pglog_prefix;

/* Compiles fmt (e.g. "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "). NULL with err set
 * on an unknown escape, a prefix with no escape, or OOM. Free with tq_pglog_prefix_free. */
struct tq_pglog_prefix *tq_pglog_prefix_compile(const char *fmt, char *err, size_t errsize);
void tq_pglog_prefix_free(struct tq_pglog_prefix *p);

/* Reads the len bytes of text (a prefix, up to the severity) as pf says into e: 0, or -1
 * when they do not match it (e unchanged then). */
int tq_pglog_prefix_match(const struct tq_pglog_prefix *pf, const char *text, size_t len,
                          struct tq_pglog_entry *e);

/* As tq_pglog_prefix_parse, with the server's prefix when pf is not NULL (a message whose
 * prefix does not match it is guessed as without). */
int tq_pglog_prefix_parse_with(const struct tq_pglog_prefix *pf, const char *text,
                               struct tq_pglog_entry *e);

#endif
