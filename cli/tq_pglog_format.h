/* tq_pglog_format — log lines → log entries, for the three ways PostgreSQL writes its log:
 *   stderr  messages that start with a log_line_prefix (tq_pglog_prefix); lines without a
 *           severity continue the message before them;
 *   csvlog  one record per message, quoted fields may span lines;
 *   syslog  "... postgres[2254]: [7-1] ...", continuation lines [7-2], [7-3] joined with
 *           newlines, "#011" (and any rsyslog #ooo control-character escape) decoded.
 * The format is detected per file from its first non-empty line.
 *
 * Syslog interleaves the lines of concurrent backends, so an open message is kept per pid,
 * for at most TQ_PGLOG_MAX_PIDS backends (the least recently used is finished early).
 *
 * Memory is bounded: a message or csvlog record is kept up to TQ_PGLOG_MAX_LINE bytes (the
 * rest is dropped and counted truncated); a csvlog quote left open ends its record at that
 * size (counted malformed), and parsing resumes at the next line that starts a record; the
 * open syslog messages together hold at most TQ_PGLOG_MAX_HELD bytes (the least recently
 * used is finished early beyond that).
 *
 * Chunks (tq_pglog's threads read one file in parts): a parser can start in the middle of a
 * file (tq_pglog_format_begin with the file's kind, found from its first line), and each
 * line says whether it lies past the end of the chunk ("late"): entries carry the lateness
 * of their first line, so the reader of a chunk can finish what began in it. */
#ifndef TQ_PGLOG_FORMAT_H
#define TQ_PGLOG_FORMAT_H

#include "tq_pglog_prefix.h"
#include "tq_report.h"

#ifndef TQ_PGLOG_MAX_HELD /* bytes of open syslog messages (and, in tq_pglog, statements) */
#define TQ_PGLOG_MAX_HELD (8u << 20)
#endif

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

/* How a file is written, from its first non-empty line. */
enum tq_pglog_format_kind {
    TQ_PGLOG_FMT_UNKNOWN = 0,
    TQ_PGLOG_FMT_STDERR,
    TQ_PGLOG_FMT_STDERR_DIGIT, /* stderr whose messages start with a digit (a timestamp) */
    TQ_PGLOG_FMT_CSV,
    TQ_PGLOG_FMT_SYSLOG
};
enum tq_pglog_format_kind tq_pglog_format_detect(const char *line);

/* 1 when line starts a message (stderr), a record (csvlog) or a message's first part
 * (syslog) of a file of that kind: where a chunk may begin. */
int tq_pglog_format_starts(enum tq_pglog_format_kind kind, const char *line);

/* A parser handing entries to sink (copied); prefix (borrowed, may be NULL) is the server's
 * log_line_prefix. NULL on OOM. */
struct tq_pglog_format *tq_pglog_format_new(const struct tq_pglog_format_sink *sink,
                                            const struct tq_pglog_prefix *prefix);
void tq_pglog_format_free(struct tq_pglog_format *f);

/* The next lines are a file of that kind from its middle (head = 1: syslog continuation
 * lines of messages begun before are skipped, not counted) or from its start (kind
 * UNKNOWN: detected from the first line, head 0). */
void tq_pglog_format_begin(struct tq_pglog_format *f, enum tq_pglog_format_kind kind, int head);

/* One line of the current file (without its line end); late = 1 for a line past the end of
 * the chunk being read; cut = 1 when the line was truncated by the reader. */
void tq_pglog_format_line(struct tq_pglog_format *f, const char *line, int late, int cut);

/* Messages (or records) begun before the chunk's end that are still open. */
int tq_pglog_format_open_early(const struct tq_pglog_format *f);

/* The end of a file: finishes every open message; the next line starts a new file (its
 * format detected again). */
void tq_pglog_format_end(struct tq_pglog_format *f);

#endif
