/* tq_pglog_format — log lines → log entries, for the three ways PostgreSQL writes its log:
 *   stderr  messages that start with a log_line_prefix (tq_pglog_prefix); lines without a
 *           severity continue the message before them;
 *   csvlog  one record per message, quoted fields may span lines;
 *   syslog  "... postgres[2254]: [7-1] ...", continuation lines [7-2], [7-3] joined with
 *           newlines, "#011" (and any rsyslog #ooo control-character escape) decoded.
 * The format is detected per file from its first non-empty line.
 *
 * Syslog interleaves the lines of concurrent backends, so an open message is kept per pid,
 * for at most TQ_PGLOG_MAX_PIDS backends (the least recently used is finished early). */
#ifndef TQ_PGLOG_FORMAT_H
#define TQ_PGLOG_FORMAT_H

#include "tq_pglog_prefix.h"
#include "tq_report.h"

#ifndef TQ_PGLOG_MAX_PIDS /* a build may lower it: tests/fuzz does, to reach the eviction */
#define TQ_PGLOG_MAX_PIDS 4096
#endif

/* Where entries go. The callbacks get ctx; the entry passed is valid during the call. */
struct tq_pglog_format_sink {
    void *ctx;
    void (*entry)(void *ctx, const struct tq_pglog_entry *e);
    /* csvlog: 1 when pid's backend has a statement waiting for a DETAIL (a record's detail
     * field is then handed on as a DETAIL entry of its own) */
    int (*pending)(void *ctx, long pid);
    struct tq_report_input *st; /* counts entries, skipped and malformed (borrowed) */
};

struct tq_pglog_format;

/* A parser handing entries to sink (copied). NULL on OOM. */
struct tq_pglog_format *tq_pglog_format_new(const struct tq_pglog_format_sink *sink);
void tq_pglog_format_free(struct tq_pglog_format *f);

/* One line of the current file (without its line end). */
void tq_pglog_format_line(struct tq_pglog_format *f, const char *line);

/* The end of a file: finishes every open message; the next line starts a new file (its
 * format detected again). */
void tq_pglog_format_end(struct tq_pglog_format *f);

#endif
